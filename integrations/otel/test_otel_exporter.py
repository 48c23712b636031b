"""The OpenTelemetry Python SDK's OTLP/HTTP exporter (from PyPI), with gzip on as the Collector's
otlphttp exporter sends by default, exporting GenAI spans the way an instrumented gateway sets
them to `rankd serve`: every span counted once. Then OTLP/JSON, gzipped and deflated (PyPI has no
OTLP/JSON exporter for Python, so the test builds that export itself). About 1 second. Run by
scripts/check-integrations.sh (RANKD_BINARY names the built rankd).
"""

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import zlib

import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("RANKD_BINARY", os.path.join(REPOSITORY, ".build", "debug", "rankd"))
MODEL = "acme/tools-1"
TOKEN = "ingest-token-for-the-otel-test"
PROVIDERS = ("alpha", "bravo")


class Rankd:
    def __init__(self, directory):
        with open(os.path.join(directory, "rankd.yaml"), "w") as f:
            f.write(
                "tokens:\n  ingest: {env: RANKD_INGEST_TOKEN}\nendpoints:\n"
                + "".join(f"  - {{provider: {p}, model: {MODEL}, base_url: \"http://127.0.0.1:9/v1\"}}\n" for p in PROVIDERS)
            )
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [BINARY, "serve", "--config", os.path.join(directory, "rankd.yaml"), "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(directory, "data"), "--no-probe"],
            stdout=self.log, stderr=self.log, env={**os.environ, "RANKD_INGEST_TOKEN": TOKEN},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            found = re.search(rb"listening on 127\.0\.0\.1:(\d+)", self.log.read())
            if found:
                self.url = f"http://127.0.0.1:{int(found.group(1))}"
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("rankd serve did not start")

    def counted(self, api, result):
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        found = re.search(r'rankd_ingest_records_total\{api="%s",result="%s"\} (\d+)' % (api, result), text)
        return int(found.group(1)) if found else 0

    def wait_counted(self, api, result, expected):
        deadline = time.monotonic() + 10
        while self.counted(api, result) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.counted(api, result)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


class OTelExporterTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rankd-otel-")
        self.rankd = Rankd(self.dir)

    def tearDown(self):
        self.rankd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_sdk_exporter_with_gzip_every_span_counted(self):
        sent = []
        session = requests.Session()
        session.hooks["response"].append(
            lambda response, *args, **kwargs: sent.append((response.status_code, response.request.headers.get("Content-Encoding")))
        )
        exporter = OTLPSpanExporter(
            endpoint=f"{self.rankd.url}/v1/traces", headers={"Authorization": f"Bearer {TOKEN}"},
            compression=Compression.Gzip, session=session,
        )
        provider = TracerProvider(resource=Resource.create({"service.name": "gateway"}))
        provider.add_span_processor(BatchSpanProcessor(exporter, max_export_batch_size=64, schedule_delay_millis=200))
        tracer = provider.get_tracer("gateway")
        spans = 300
        for index in range(spans):
            # The GenAI semantic conventions, as an instrumented gateway sets them on its client span.
            with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.CLIENT) as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.request.model", MODEL)
                span.set_attribute("gen_ai.provider.name", PROVIDERS[index % 2])
                span.set_attribute("gen_ai.usage.input_tokens", 900)
                span.set_attribute("gen_ai.usage.output_tokens", 120)
                span.set_attribute("gen_ai.response.finish_reasons", ["tool_calls"])
                span.set_attribute("gen_ai.tool.definitions", '[{"type":"function","function":{"name":"book_flight"}}]')
                if index % 10 == 0:
                    span.set_attribute("http.response.status_code", 503)
                    span.set_attribute("error.type", "503")
                    span.set_status(Status(StatusCode.ERROR, "upstream 503"))
                else:
                    span.set_attribute("http.response.status_code", 200)
            with tracer.start_as_current_span("db lookup"):  # not GenAI: ignored
                pass
        self.assertTrue(provider.force_flush(10_000))
        provider.shutdown()
        accepted = self.rankd.wait_counted("traces", "accepted", spans)
        ignored = self.rankd.counted("traces", "ignored")
        print(
            f"OpenTelemetry SDK exporter (gzip): {len(sent)} exports, encodings {sorted(set(e for _, e in sent))}, "
            f"statuses {sorted(set(s for s, _ in sent))}; rankd accepted {accepted} of {spans} GenAI spans, ignored {ignored} others",
            file=sys.stderr,
        )
        self.assertGreater(len(sent), 1)
        self.assertTrue(all(encoding == "gzip" for _, encoding in sent), sent)
        self.assertTrue(all(status == 200 for status, _ in sent), sent)
        self.assertEqual(accepted, spans)
        self.assertEqual(ignored, spans)

    def test_otlp_json_gzip_and_deflate(self):
        now = time.time_ns()

        def export(first):
            spans = [
                {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": f"{first + i:016x}", "name": "chat", "kind": 3,
                 "startTimeUnixNano": str(now - 900_000_000), "endTimeUnixNano": str(now),
                 "attributes": [
                     {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                     {"key": "gen_ai.request.model", "value": {"stringValue": MODEL}},
                     {"key": "gen_ai.provider.name", "value": {"stringValue": PROVIDERS[i % 2]}},
                     {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "64"}},
                 ]}
                for i in range(50)
            ]
            return json.dumps({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}).encode()

        for first, encoding, body in (
            (0x1000, "gzip", gzip.compress(export(0x1000))),
            (0x2000, "deflate", zlib.compress(export(0x2000))),
        ):
            request = urllib.request.Request(f"{self.rankd.url}/v1/traces", data=body, method="POST")
            request.add_header("Authorization", f"Bearer {TOKEN}")
            request.add_header("Content-Type", "application/json")
            request.add_header("Content-Encoding", encoding)
            with urllib.request.urlopen(request, timeout=10) as response:
                self.assertEqual(response.status, 200)
                self.assertEqual(json.loads(response.read()), {}, encoding)
        accepted = self.rankd.wait_counted("traces", "accepted", 100)
        print(f"OTLP/JSON gzip and deflate: rankd accepted {accepted} of 100 spans", file=sys.stderr)
        self.assertEqual(accepted, 100)


if __name__ == "__main__":
    unittest.main(verbosity=2)
