"""The LiteLLM proxy (`litellm --config`, from PyPI) with rankd-litellm loaded from its config.yaml,
`rankd serve` (with a read token) and `rankd mock-provider`; requests from the `openai` client.

Three providers serve one model. `charlie` is the fastest, so rankd ranks it first; then it breaks
60% of its tool calls with HTTP 200. The proxy's traffic follows rankd's traffic shares before the
break and leaves charlie once rankd demotes it; every request's record reaches rankd; with rankd
stopped, the proxy keeps serving in its own order. About 45 s (the proxy takes under 10 s to
start). Run by scripts/check-integrations.sh (RANKD_BINARY names the built rankd; LITELLM names
the proxy's command).
"""

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from openai import AsyncOpenAI

from tests.test_router_with_rankd import BROKEN, FAST, MESSAGES, MODEL, REPOSITORY, TOKEN, TOOLS, start_fleet
from rankd_litellm import validate_tool_calls

LITELLM = os.environ.get("LITELLM", os.path.join(os.path.dirname(sys.executable), "litellm"))
INGEST = TOKEN
READ = "read-token-for-the-proxy-test-01"
MASTER = "sk-rankd-proxy-test-master-key-0123456789"
PROVIDERS = ("alpha", "bravo", "charlie")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, token=READ):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return json.loads(raw) if response.headers.get_content_type() == "application/json" else raw.decode()


def put(url, body):
    request = urllib.request.Request(url, method="PUT", data=json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def ranking(rankd):
    return {e["provider"]: e for e in get(f"{rankd.url}/v1/rankings/{MODEL}")["endpoints"]}


class Proxy:
    """`litellm --config FILE` on a free port of 127.0.0.1, until /health/liveliness answers."""

    def __init__(self, config, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [LITELLM, "--config", config, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=self.log, env={**os.environ, **env},
        )
        started = time.monotonic()
        while time.monotonic() < started + 120:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=2) as response:
                    if response.status == 200:
                        self.start_seconds = round(time.monotonic() - started, 1)
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        output = self.output()
        self.stop()
        raise RuntimeError(f"the LiteLLM proxy did not start:\n{output[-4000:]}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


async def call(client):
    """(deployment id, served, tool call valid): one tool-calling request through the proxy."""
    try:
        raw = await client.chat.completions.with_raw_response.create(model="tools-model", messages=MESSAGES, tools=TOOLS)
    except Exception:
        return "unknown", False, False
    deployment = raw.headers.get("x-litellm-model-id") or "unknown"
    message = raw.parse().choices[0].message
    valid, _ = validate_tool_calls(TOOLS, message.tool_calls, None)
    return deployment, True, valid is True


def shares(results):
    return {p: round(sum(r[1] == p for r in results) / max(1, len(results)), 3) for p in PROVIDERS}


class ProxyWithRankdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rankd-litellm-proxy-")
        cls.mock, cls.rankd = start_fleet(cls.dir, seed=11, read_token=READ)
        # The proxy's own configuration: the models, and rankd-litellm as a callback.
        models = "\n".join(
            f"  - model_name: tools-model\n"
            f"    litellm_params: {{model: \"openai/{MODEL}\", api_base: \"{cls.mock.url}/{p}/v1\", api_key: unused}}\n"
            f"    model_info: {{id: {p}, rankd_provider: {p}, rankd_model: \"{MODEL}\"}}"
            for p in PROVIDERS
        )
        cls.config = os.path.join(cls.dir, "litellm.yaml")
        with open(cls.config, "w") as f:
            f.write(
                f"model_list:\n{models}\n"
                f"litellm_settings:\n  callbacks: [\"rankd_litellm.proxy.rankd\"]\n  num_retries: 0\n"
                f"environment_variables:\n  RANKD_URL: \"{cls.rankd.url}\"\n  RANKD_CACHE_SECONDS: \"2\"\n"
            )
        cls.proxy = Proxy(
            cls.config,
            {"LITELLM_MASTER_KEY": MASTER, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
             "RANKD_INGEST_TOKEN": INGEST, "RANKD_READ_TOKEN": READ},
        )

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.rankd.stop()
        cls.mock.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def accepted(self):
        metrics = get(f"{self.rankd.url}/metrics")
        found = re.search(r'rankd_ingest_records_total\{api="telemetry",result="accepted"\} (\d+)', metrics)
        return int(found.group(1)) if found else 0

    def test_proxy_routes_by_rankd_and_leaves_a_broken_provider(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ranks = ranking(self.rankd)
                if ranks["charlie"]["rank"] == 1 and ranks["charlie"]["status"] == "ok":
                    break
            except urllib.error.HTTPError as error:
                if error.code != 503:
                    raise
            time.sleep(0.5)
        ranks = ranking(self.rankd)
        self.assertEqual(ranks["charlie"]["rank"], 1, "charlie should lead before it breaks")
        intended = {p: round(ranks[p]["traffic_share"], 3) for p in PROVIDERS}
        report = asyncio.run(self.drive(intended))
        report["proxy_start_seconds"] = self.proxy.start_seconds
        print("litellm proxy + rankd:", json.dumps(report, indent=2), file=sys.stderr)
        with open(os.path.join(REPOSITORY, ".build", "litellm-proxy-report.json"), "w") as f:
            json.dump(report, f, indent=2)

        healthy = report["healthy"]
        self.assertEqual(healthy["served"], healthy["requests"], "every request served before the break")
        # By share: charlie gets most, every healthy one keeps its floor.
        self.assertGreater(healthy["share"]["charlie"], 0.6, report)
        self.assertGreater(healthy["share"]["alpha"] + healthy["share"]["bravo"], 0.0, report)
        after = report["after_break"]
        self.assertIsNotNone(after["seconds_from_break_to_demotion"], "rankd did not demote charlie")
        self.assertLess(after["charlie_share_from_10s_after_demotion"], 0.10, report)
        self.assertGreaterEqual(after["requests_from_10s_after_demotion"], 40, report)
        self.assertEqual(after["invalid_from_10s_after_demotion"], 0, report)
        self.assertEqual(report["rankd_accepted"], report["records_sent"], "every request's record reached rankd once")
        down = report["rankd_down"]
        self.assertEqual(down["served"], down["requests"], "the proxy keeps serving with rankd stopped")
        self.assertGreaterEqual(len([p for p, s in down["share"].items() if s > 0]), 2, "in its own order (a shuffle)")

    async def drive(self, intended):
        client = AsyncOpenAI(base_url=f"{self.proxy.url}/v1", api_key=MASTER, max_retries=0, timeout=30)
        report = {"intended_shares_before_break": intended}

        healthy = [await call(client) for _ in range(60)]
        report["healthy"] = {
            "requests": len(healthy), "served": sum(r[1] for r in healthy), "share": shares([(0, *r) for r in healthy]),
        }

        put(f"{self.mock.url}/control/providers/charlie", BROKEN)
        start = time.monotonic()
        demoted = None
        results = []
        while time.monotonic() < start + 90 and (demoted is None or time.monotonic() < start + demoted + 20):
            batch = await asyncio.gather(*(call(client) for _ in range(4)))
            now = time.monotonic() - start
            results.extend((now, *r) for r in batch)
            if demoted is None and ranking(self.rankd)["charlie"]["status"] == "demoted":
                demoted = now
            await asyncio.sleep(0.2)
        late = [r for r in results if demoted is not None and r[0] > demoted + 10]
        first_left = next(
            (r[0] for r in results if demoted is not None and r[0] > demoted
             and not any(q[1] == "charlie" for q in results if q[0] >= r[0])), None)
        report["after_break"] = {
            "requests": len(results),
            "share": shares(results),
            "invalid": sum(not r[3] for r in results),
            "seconds_from_break_to_demotion": None if demoted is None else round(demoted, 1),
            "seconds_from_demotion_to_last_charlie_request": None if first_left is None else round(first_left - demoted, 1),
            "requests_from_10s_after_demotion": len(late),
            "charlie_share_from_10s_after_demotion": shares(late)["charlie"] if late else 1.0,
            "invalid_from_10s_after_demotion": sum(not r[3] for r in late),
        }
        report["records_sent"] = len(healthy) + len(results)
        # The callback sends every second; the group commit follows.
        deadline = time.monotonic() + 15
        while self.accepted() < report["records_sent"] and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        report["rankd_accepted"] = self.accepted()

        # rankd stops; charlie is healthy again, so every request the proxy shuffles succeeds.
        put(f"{self.mock.url}/control/providers/charlie", FAST)
        self.rankd.stop()
        down = [await call(client) for _ in range(30)]
        report["rankd_down"] = {"requests": len(down), "served": sum(r[1] for r in down), "share": shares([(0, *r) for r in down])}
        await client.close()
        return report


class KubernetesGatewayConfigTest(unittest.TestCase):
    """deploy/kubernetes/litellm-configmap.yaml as the sidecar example mounts it: the proxy starts with
    it and with rankd_litellm where the init step puts it (a folder on PYTHONPATH), and its
    deployments name exactly the endpoints of rankd's ConfigMap. (No cluster here: the pod itself,
    its images and the providers are not run.)"""

    def test_the_configmap_loads_in_the_proxy_and_names_rankds_endpoints(self):
        import yaml

        with open(os.path.join(REPOSITORY, "deploy/kubernetes/litellm-configmap.yaml")) as f:
            config = yaml.safe_load(f)["data"]["config.yaml"]
        with open(os.path.join(REPOSITORY, "deploy/kubernetes/configmap.yaml")) as f:
            rankd = yaml.safe_load(yaml.safe_load(f)["data"]["rankd.yaml"])
        named = set()
        for deployment in yaml.safe_load(config)["model_list"]:
            info = deployment["model_info"]
            named.add(info.get("rankd_endpoint_id") or f"{info['rankd_provider']}:{info['rankd_model']}")
        endpoints = {e.get("id") or f"{e['provider']}:{e['model']}" for e in rankd["endpoints"]}
        self.assertEqual(named, endpoints)
        self.assertIn("rankd_litellm.proxy.rankd", yaml.safe_load(config)["litellm_settings"]["callbacks"])

        directory = tempfile.mkdtemp(prefix="rankd-litellm-k8s-")
        try:
            # The init container's copy.
            shutil.copytree(os.path.join(REPOSITORY, "integrations/litellm/rankd_litellm"), os.path.join(directory, "plugins", "rankd_litellm"))
            path = os.path.join(directory, "config.yaml")
            with open(path, "w") as f:
                f.write(config)
            proxy = Proxy(
                path,
                {"PYTHONPATH": os.path.join(directory, "plugins"), "LITELLM_MASTER_KEY": MASTER, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                 "DEEPINFRA_API_KEY": "unused", "TOGETHER_API_KEY": "unused", "FIREWORKS_API_KEY": "unused"},
            )
            try:
                output = proxy.output()
                self.assertIn("llama-3.3-70b", output)
                self.assertNotIn("Traceback", output)
            finally:
                proxy.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
