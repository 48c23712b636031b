"""LiteLLM's Router against `rankd mock-provider`, with rankd beside it.

Three providers serve one model. `charlie` is the fastest, so rankd ranks it first; then it starts
breaking 60% of its tool calls with HTTP 200 (arguments that are not JSON, or outside the schema).
With the rankd hook and callback, the Router's traffic leaves charlie once rankd demotes it; without
them, LiteLLM keeps shuffling a third of the traffic onto it. Run by scripts/check-integrations.sh
(RANKD_BINARY names the built rankd).
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm import Router  # noqa: E402

from rankd_litellm import attach, validate_tool_calls  # noqa: E402
from rankd_litellm.routing import share_draw  # noqa: E402

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BINARY = os.environ.get("RANKD_BINARY", os.path.join(REPOSITORY, ".build", "debug", "rankd"))
MODEL = "acme/tools-1"
TOKEN = "ingest-token-for-the-litellm-test"
HEALTHY = {"ttft_ms": 150, "tokens_per_second": 300}
FAST = {"ttft_ms": 10, "tokens_per_second": 3000}
BROKEN = dict(FAST, malformed_args=0.3, schema_violation=0.3)
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "book_flight",
            "description": "Book a flight",
            "parameters": {
                "type": "object",
                "properties": {
                    "origin": {"type": "string"},
                    "destination": {"type": "string"},
                    "passengers": {"type": "integer"},
                    "cabin": {"type": "string", "enum": ["economy", "business"]},
                },
                "required": ["origin", "destination", "passengers", "cabin"],
            },
        },
    }
]
MESSAGES = [{"role": "user", "content": "Book 2 seats in economy from Lisbon to Oslo."}]


class Server:
    """A `rankd` subcommand serving on an ephemeral port of 127.0.0.1."""

    def __init__(self, args, env=None):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [BINARY, *args], stdout=self.log, stderr=self.log, env={**os.environ, **(env or {})}
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            found = re.search(rb"listening on 127\.0\.0\.1:(\d+)", self.log.read())
            if found:
                self.url = f"http://127.0.0.1:{int(found.group(1))}"
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")
        self.stop()
        raise RuntimeError(f"rankd {' '.join(args)} did not start: {output}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


def http(method, url, body=None, token=None):
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
        return json.loads(raw) if raw and response.headers.get_content_type() == "application/json" else raw.decode()


def ranking(rankd):
    return {e["provider"]: e for e in http("GET", f"{rankd.url}/v1/rankings/{MODEL}")["endpoints"]}


def model_list(mock):
    return [
        {
            "model_name": "tools-model",
            "litellm_params": {"model": f"openai/{MODEL}", "api_base": f"{mock.url}/{p}/v1", "api_key": "unused"},
            "model_info": {"id": p, "rankd_provider": p, "rankd_model": MODEL},
        }
        for p in ("alpha", "bravo", "charlie")
    ]


async def call(router):
    """(provider, failed): one tool-calling request, judged by the gateway-side validator."""
    try:
        response = await router.acompletion(model="tools-model", messages=MESSAGES, tools=TOOLS)
    except Exception as error:  # an exception is a failed request too
        return getattr(error, "model_id", None) or "unknown", True
    message = response.choices[0].message
    valid, _ = validate_tool_calls(TOOLS, message.tool_calls, None)
    return response._hidden_params.get("model_id"), valid is not True


def start_fleet(directory, seed, read_token=None):
    """`rankd mock-provider` with alpha and bravo healthy and charlie fast, and `rankd serve` probing
    them every 0.5 s (epochs every 10 s), with the ingest token and, when given, a read token.
    Returns (mock, rankd)."""
    with open(os.path.join(directory, "scenario.yaml"), "w") as f:
        json.dump({"providers": {"alpha": HEALTHY, "bravo": HEALTHY, "charlie": FAST}}, f)
    mock = Server(
        ["mock-provider", "--listen", "127.0.0.1:0", "--scenario", os.path.join(directory, "scenario.yaml"),
         "--probes", os.path.join(REPOSITORY, "scoring/probes"), "--seed", str(seed)]
    )
    with open(os.path.join(REPOSITORY, "scoring/policy.yaml")) as f:
        policy = f.read()
    # Probes paced for a test that lasts a minute, not a day.
    for old, new in (("interval_seconds: 60 ", "interval_seconds: 0.5 "),
                     ("suspicious_interval_seconds: 15 ", "suspicious_interval_seconds: 0.25 "),
                     ("max_per_minute: 6 ", "max_per_minute: 240 ")):
        assert old in policy, old
        policy = policy.replace(old, new)
    with open(os.path.join(directory, "policy.yaml"), "w") as f:
        f.write(policy)
    endpoints = "\n".join(
        f"  - {{provider: {p}, model: {MODEL}, base_url: \"{mock.url}/{p}/v1\", upstream_model: m,"
        f" supported_parameters: [tools, tool_choice]}}"
        for p in ("alpha", "bravo", "charlie")
    )
    read = "  read: {env: RANKD_READ_TOKEN}\n" if read_token else ""
    with open(os.path.join(directory, "rankd.yaml"), "w") as f:
        f.write(
            f"epoch_interval_seconds: 10\npolicy_file: policy.yaml\nprobes_dir: {REPOSITORY}/scoring/probes\n"
            f"tokens:\n  ingest: {{env: RANKD_INGEST_TOKEN}}\n{read}endpoints:\n{endpoints}\n"
        )
    rankd = Server(
        ["serve", "--config", os.path.join(directory, "rankd.yaml"), "--listen", "127.0.0.1:0",
         "--data-dir", os.path.join(directory, "data")],
        env={"RANKD_INGEST_TOKEN": TOKEN, **({"RANKD_READ_TOKEN": read_token} if read_token else {})},
    )
    return mock, rankd


class RouterWithRankdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rankd-litellm-")
        cls.mock, cls.rankd = start_fleet(cls.dir, seed=7)

    @classmethod
    def tearDownClass(cls):
        cls.rankd.stop()
        cls.mock.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_traffic_leaves_a_provider_that_breaks_tool_calls(self):
        # rankd ranks charlie (the fastest) first once its probes are in.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                ranks = ranking(self.rankd)
            except urllib.error.HTTPError as error:
                # 503 until rankd's first epoch (an empty data directory has none to serve).
                if error.code != 503:
                    raise
                time.sleep(0.5)
                continue
            if ranks["charlie"]["rank"] == 1 and ranks["charlie"]["status"] == "ok":
                break
            time.sleep(0.5)
        self.assertEqual(ranking(self.rankd)["charlie"]["rank"], 1, "charlie should lead before it breaks")

        with_hook = asyncio.run(self.run_with_hook())
        without_hook = asyncio.run(self.run_without_hook(with_hook["seconds_until_left"]))

        report = {"with_hook": with_hook, "without_hook": without_hook}
        print("litellm + rankd:", json.dumps(report, indent=2), file=sys.stderr)
        with open(os.path.join(REPOSITORY, ".build", "litellm-report.json"), "w") as f:
            json.dump(report, f, indent=2)

        self.assertGreater(without_hook["failure_rate"], 0.10, "the broken provider fails without the hook")
        self.assertGreater(without_hook["share"]["charlie"], 0.2, "LiteLLM's shuffle keeps sending it traffic")
        self.assertLess(with_hook["failure_rate"], without_hook["failure_rate"])
        # The same stretch of time after the break, once rankd's demotion reached the Router:
        self.assertGreater(without_hook["failure_rate_after_leaving"], 0.10)
        self.assertEqual(with_hook["charlie_after_leaving"], 0, "no request reaches charlie once rankd demoted it")
        self.assertEqual(with_hook["failures_after_leaving"], 0, "the healthy providers serve every request after that")
        self.assertGreaterEqual(with_hook["requests_after_leaving"], 100)
        self.assertEqual(with_hook["rankd_accepted"], with_hook["records_sent"], "every request's record reached rankd once")

    def test_local_share_draw_is_the_route_answers_draw(self):
        """The plug-in draws locally what POST /v1/route draws for the same seed (docs/api.md)."""
        compared = 0
        deadline = time.monotonic() + 60
        while compared < 40 and time.monotonic() < deadline:
            try:
                entries = http("GET", f"{self.rankd.url}/v1/rankings/{MODEL}")
            except urllib.error.HTTPError as error:
                if error.code != 503:
                    raise
                time.sleep(0.5)
                continue
            seed = 1_000_003 * compared + 17
            answer = http("POST", f"{self.rankd.url}/v1/route", {"model": MODEL, "parameters": ["tools"], "seed": seed})
            if answer["epoch_id"] != entries["epoch"]["id"]:
                continue  # a new epoch came between the two reads
            self.assertEqual(answer["seed"], seed)
            local = [e["endpoint_id"] for e in share_draw(entries["endpoints"], seed)]
            self.assertEqual(local, [e["endpoint_id"] for e in answer["endpoints"]], f"seed {seed}")
            compared += 1
        self.assertEqual(compared, 40)

    AFTER_THE_BREAK = 600  # requests after charlie breaks, in both runs, at the same pace

    async def paced(self, router, on_batch=None):
        """AFTER_THE_BREAK requests in batches of 4 every 0.2 s plus their time (about 12 requests/s):
        [(seconds since the start, provider, failed)]."""
        start = time.monotonic()
        results = []
        while len(results) < self.AFTER_THE_BREAK and time.monotonic() < start + 180:
            batch = await asyncio.gather(*(call(router) for _ in range(4)))
            now = time.monotonic() - start
            results.extend((now, provider, failed) for provider, failed in batch)
            if on_batch:
                on_batch(now)
            await asyncio.sleep(0.2)
        return results

    @staticmethod
    def summary(results):
        return {
            "requests": len(results),
            "failure_rate": round(sum(f for _, _, f in results) / len(results), 4),
            "share": {p: round(sum(q == p for _, q, _ in results) / len(results), 3) for p in ("alpha", "bravo", "charlie")},
        }

    async def run_with_hook(self):
        router = Router(model_list=model_list(self.mock), num_retries=0)
        routing, telemetry = attach(router, self.rankd.url, ingest_token=TOKEN, cache_seconds=2.0)
        # Some traffic while charlie is healthy: drawn by rankd's shares, most of it goes to charlie
        # (alpha and bravo keep their exploration floor).
        healthy = [await call(router) for _ in range(40)]
        self.assertTrue(all(not f for _, f in healthy), healthy)
        self.assertGreaterEqual(sum(p == "charlie" for p, _ in healthy), 30, healthy)
        http("PUT", f"{self.mock.url}/control/providers/charlie", BROKEN)
        demoted = []

        def watch(now):
            if not demoted and ranking(self.rankd)["charlie"]["status"] == "demoted":
                demoted.append(now)

        results = await self.paced(router, watch)
        self.assertTrue(demoted, "rankd did not demote charlie")
        await telemetry.flush()
        await asyncio.sleep(1.5)  # the group commit
        metrics = http("GET", f"{self.rankd.url}/metrics")
        accepted = re.search(r'rankd_ingest_records_total\{api="telemetry",result="accepted"\} (\d+)', metrics)
        left = demoted[0] + routing.cache_seconds + 0.5
        after = [r for r in results if r[0] > left]
        leaving = [r for r in results if r[0] <= left]
        await routing.aclose()
        await telemetry.aclose()
        return {
            **self.summary(results),
            "seconds_from_break_to_demotion": round(demoted[0], 1),
            "seconds_until_left": round(left, 1),
            "requests_until_left": len(leaving),
            "failure_rate_until_left": round(sum(f for _, _, f in leaving) / max(1, len(leaving)), 4),
            "requests_after_leaving": len(after),
            "charlie_after_leaving": sum(p == "charlie" for _, p, _ in after),
            "failures_after_leaving": sum(f for _, _, f in after),
            "rankd_accepted": int(accepted.group(1)) if accepted else 0,
            "records_sent": len(healthy) + len(results),
            "telemetry_rejected": telemetry.rejected,
            "picks": routing.picks,
        }

    async def run_without_hook(self, left):
        """The same requests at the same pace without rankd; `left` is when the hooked run had left
        charlie, for the failure rate over the same stretch of time."""
        router = Router(model_list=model_list(self.mock), num_retries=0)
        results = await self.paced(router)
        after = [r for r in results if r[0] > left]
        return {
            **self.summary(results),
            "requests_after_leaving": len(after),
            "failure_rate_after_leaving": round(sum(f for _, _, f in after) / max(1, len(after)), 4),
        }


class RankdUnreachableTest(unittest.TestCase):
    def test_falls_back_to_litellm_order_when_rankd_is_down(self):
        dead = "http://127.0.0.1:9"  # nothing listens on the discard port
        mock = Server(["mock-provider", "--listen", "127.0.0.1:0", "--providers", "alpha,bravo,charlie"])
        try:
            async def run():
                router = Router(model_list=model_list(mock), num_retries=0)
                routing, _ = attach(router, dead, timeout_seconds=0.2)
                results = [await call(router) for _ in range(30)]
                await routing.aclose()
                return routing, results

            routing, results = asyncio.run(run())
        finally:
            mock.stop()
        self.assertEqual(routing.picks["rankd"], 0)
        self.assertEqual(routing.picks["fallback"], 30)
        self.assertTrue(all(not failed for _, failed in results), "requests still served")
        self.assertGreaterEqual(len({p for p, _ in results}), 2, "LiteLLM's shuffle spreads them")


if __name__ == "__main__":
    unittest.main(verbosity=2)
