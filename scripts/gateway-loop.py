#!/usr/bin/env python3
"""A small gateway beside rankd, to judge routing the way a gateway meets it.

Each worker thread loops: ask `POST /v1/route` (tools, a fresh request_id) which endpoints to
try, call the first one it names (OpenAI-compatible, streaming, one tool offered), check the tool
call it gets back, fall back to the next endpoint on an error or an invalid tool call, and post
one telemetry record per attempt (NDJSON, batched every half second). A poller reads
`GET /v1/rankings/{model}` every second for each provider's status and traffic share.

It prints one progress line per `--report-every` seconds (requests served per provider) and, at
the end, one JSON report on the last line: per 10 s bucket the requests each provider served,
was tried first for, and the user-visible failures; each provider's first live failure and first
demotion (seconds from start); what each served after its demotion; the users' TTFT.

Faults can be set on `rankd mock-provider` at given seconds of the loop's own clock
(`--control URL --at SECONDS:PROVIDER:JSON`, repeatable), so the report's times and the faults'
onsets share one clock; the report then also gives each provider's published share over time
(`share_timeline`, at every change, polled twice a second) and first attempts per second
(`first_per_second`).

Standard library only. Bounded: it stops after `--duration` seconds or `--max-requests`.

    python3 scripts/gateway-loop.py --rankd http://127.0.0.1:8080 --token "$RANKD_INGEST_TOKEN" \\
        --model meta-llama/llama-3.3-70b-instruct --duration 180 --workers 8
"""

import argparse
import http.client
import json
import os
import queue
import statistics
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}


def check_tool_call(name, arguments):
    """The gateway's own validation of the returned call: (outcome, valid)."""
    if name is None:
        return "no_tool_call", False
    if name != "get_weather":
        return "wrong_tool", False
    try:
        args = json.loads(arguments or "")
    except ValueError:
        return "malformed_args", False
    if not isinstance(args, dict):
        return "malformed_args", False
    if not isinstance(args.get("city"), str) or args.get("unit") not in ("celsius", "fahrenheit"):
        return "schema_violation", False
    return "ok", True


class Connections:
    """Keep-alive HTTP connections of one thread, by host:port."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.by_host = {}

    def request(self, url, method, body=None, headers=None):
        parts = urllib.parse.urlsplit(url)
        key = parts.netloc
        for attempt in range(2):
            connection = self.by_host.get(key)
            if connection is None:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
                self.by_host[key] = connection
            try:
                path = parts.path + (("?" + parts.query) if parts.query else "")
                connection.request(method, path, body=body, headers=headers or {})
                return connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self.by_host.pop(key, None)
                # A timeout is the endpoint's answer (none in time), not a stale connection.
                if attempt == 1 or isinstance(error, TimeoutError):
                    raise

    def drop(self, url):
        key = urllib.parse.urlsplit(url).netloc
        connection = self.by_host.pop(key, None)
        if connection is not None:
            connection.close()


def call_endpoint(connections, entry):
    """One streaming chat completion with a tool: the telemetry fields of the attempt."""
    url = entry["base_url"].rstrip("/") + "/chat/completions"
    body = json.dumps({
        "model": entry["upstream_model"],
        "messages": [{"role": "user", "content": "What is the weather in Lisbon, in celsius?"}],
        "tools": [TOOL],
        "tool_choice": "auto",
        "stream": True,
        "stream_options": {"include_usage": True},
    })
    started = time.monotonic()
    record = {"status": 0, "ttft_ms": None, "latency_ms": None, "completion_tokens": None, "finish_reason": None}
    try:
        response = connections.request(url, "POST", body, {"Content-Type": "application/json"})
    except (OSError, http.client.HTTPException) as error:
        record.update(outcome="timeout" if "timed out" in str(error) else "transport_error", error_type=type(error).__name__)
        return record, False
    record["status"] = response.status
    if response.status != 200:
        if response.status == 429:
            try:
                record["retry_after_seconds"] = float(response.getheader("Retry-After", ""))
            except ValueError:
                pass
        response.read()
        record["latency_ms"] = (time.monotonic() - started) * 1000
        return record, False
    name, arguments, done = None, "", False
    try:
        while True:
            line = response.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if chunk.get("usage"):
                record["completion_tokens"] = chunk["usage"].get("completion_tokens")
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if record["ttft_ms"] is None and (delta.get("content") or delta.get("tool_calls")):
                    record["ttft_ms"] = (time.monotonic() - started) * 1000
                for call in delta.get("tool_calls") or []:
                    function = call.get("function") or {}
                    name = function.get("name") or name
                    arguments += function.get("arguments") or ""
                if choice.get("finish_reason"):
                    record["finish_reason"] = choice["finish_reason"]
    except (OSError, http.client.HTTPException, ValueError) as error:
        record["error_type"] = type(error).__name__
    record["latency_ms"] = (time.monotonic() - started) * 1000
    if not done or record["finish_reason"] is None:
        connections.drop(url)
        record["outcome"] = "truncated"
        return record, False
    outcome, valid = check_tool_call(name, arguments)
    record["outcome"] = outcome
    record["tool_call_valid"] = valid
    return record, valid


class Telemetry(threading.Thread):
    """Posts queued records as NDJSON every half second; retries what rankd answered 429/503."""

    def __init__(self, rankd, token):
        super().__init__(daemon=True)
        self.rankd, self.token = rankd, token
        self.queue = queue.Queue()
        self.stopping = threading.Event()
        self.counts = {"accepted": 0, "duplicates": 0, "rejected": 0, "retries": 0, "failed_posts": 0}

    def run(self):
        connections = Connections(timeout=5)
        pending = []
        while not (self.stopping.is_set() and self.queue.empty() and not pending):
            time.sleep(0.5)
            while not self.queue.empty():
                pending.append(self.queue.get())
            if not pending:
                continue
            body = "\n".join(json.dumps(record) for record in pending)
            try:
                response = connections.request(
                    self.rankd + "/v1/telemetry", "POST", body,
                    {"Authorization": "Bearer " + self.token, "Content-Type": "application/x-ndjson"})
                answer = response.read()
            except (OSError, http.client.HTTPException):
                self.counts["failed_posts"] += 1
                continue
            if response.status in (429, 503):
                self.counts["retries"] += 1
                continue
            if response.status == 200:
                result = json.loads(answer)
                self.counts["accepted"] += result.get("accepted", 0)
                self.counts["duplicates"] += result.get("duplicates", 0)
                self.counts["rejected"] += len(result.get("rejected", []))
            else:
                self.counts["rejected"] += len(pending)
            pending = []


class Poller(threading.Thread):
    """Each provider's status and share, once a second."""

    def __init__(self, rankd, model, started):
        super().__init__(daemon=True)
        self.rankd, self.model, self.started = rankd, model, started
        self.stopping = threading.Event()
        self.demoted_at = {}
        self.shares = {}  # bucket -> {provider: share} (the last seen in the bucket)
        self.timeline = {}  # provider -> [[seconds, share], ...] at every change
        self.statuses = {}

    def run(self):
        connections = Connections(timeout=2)
        path = "/v1/rankings/" + urllib.parse.quote(self.model, safe="")
        while not self.stopping.is_set():
            try:
                response = connections.request(self.rankd + path, "GET")
                body = response.read()
                if response.status == 200:
                    now = time.monotonic() - self.started
                    entries = json.loads(body)["endpoints"]
                    self.shares[int(now // 10)] = {e["provider"]: e.get("traffic_share", 0) for e in entries}
                    for entry in entries:
                        self.statuses[entry["provider"]] = entry["status"]
                        share = entry.get("traffic_share", 0)
                        changes = self.timeline.setdefault(entry["provider"], [])
                        if not changes or changes[-1][1] != share:
                            changes.append([round(now, 2), share])
                        if entry["status"] == "demoted" and entry["provider"] not in self.demoted_at:
                            self.demoted_at[entry["provider"]] = round(now, 2)
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                pass
            self.stopping.wait(0.5)


def apply_faults(control, steps, started, applied):
    """PUTs each mock-provider profile at its second of the loop's clock."""
    connections = Connections(timeout=5)
    for at, provider, profile in sorted(steps, key=lambda step: step[0]):
        delay = at - (time.monotonic() - started)
        if delay > 0:
            time.sleep(delay)
        try:
            response = connections.request(
                control.rstrip("/") + "/control/providers/" + urllib.parse.quote(provider), "PUT", profile,
                {"Content-Type": "application/json"})
            response.read()
            applied.append({"at_seconds": round(time.monotonic() - started, 2), "provider": provider, "status": response.status})
        except (OSError, http.client.HTTPException) as error:
            applied.append({"at_seconds": round(time.monotonic() - started, 2), "provider": provider, "error": str(error)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rankd", required=True)
    parser.add_argument("--token", required=True, help="rankd's ingest token")
    parser.add_argument("--model", required=True)
    parser.add_argument("--duration", type=float, default=180)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--report-every", type=float, default=10)
    parser.add_argument("--provider", type=json.loads, default=None, metavar="JSON",
                        help='an OpenRouter provider object sent with every route request, e.g. \'{"preferred_max_latency": {"p90": 1}}\'')
    parser.add_argument("--timeout", type=float, default=10, help="the gateway's timeout on a provider call, seconds")
    parser.add_argument("--control", help="rankd mock-provider's base URL, for --at")
    parser.add_argument("--at", action="append", default=[], metavar="SECONDS:PROVIDER:JSON",
                        help="set a mock-provider profile at this second of the run (repeatable)")
    options = parser.parse_args()
    steps = []
    for step in options.at:
        at, provider, profile = step.split(":", 2)
        json.loads(profile)
        steps.append((float(at), provider, profile))
    if steps and not options.control:
        parser.error("--at needs --control")
    rankd = options.rankd.rstrip("/")

    started = time.monotonic()
    telemetry = Telemetry(rankd, options.token)
    poller = Poller(rankd, options.model, started)
    telemetry.start()
    poller.start()
    applied = []
    if steps:
        threading.Thread(target=apply_faults, args=(options.control, steps, started, applied), daemon=True).start()
    lock = threading.Lock()
    requests = []  # (start seconds, first provider, served provider or None, user ttft ms)
    first_failure = {}
    attempts_by_provider = {}
    route_errors = [0]
    counter = [0]

    def worker(index):
        connections = Connections(timeout=options.timeout)
        number = 0
        while time.monotonic() - started < options.duration:
            with lock:
                if counter[0] >= options.max_requests:
                    return
                counter[0] += 1
            number += 1
            # Unique across loops run at once: rankd counts a request id once.
            request_id = f"gw-{os.getpid()}-{index}-{number}"
            began = time.monotonic()
            try:
                response = connections.request(
                    rankd + "/v1/route", "POST",
                    json.dumps({"model": options.model, "parameters": ["tools"], "request_id": request_id,
                                **({"provider": options.provider} if options.provider else {})}),
                    {"Content-Type": "application/json"})
                body = response.read()
                if response.status != 200:
                    raise ValueError(f"route answered {response.status}")
                order = json.loads(body)["endpoints"]
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                with lock:
                    route_errors[0] += 1
                time.sleep(0.2)
                continue
            served, user_ttft = None, None
            for attempt, entry in enumerate(order[: options.max_attempts]):
                record, good = call_endpoint(connections, entry)
                provider = entry["provider"]
                now = time.monotonic() - started
                with lock:
                    attempts_by_provider[provider] = attempts_by_provider.get(provider, 0) + 1
                    if not good and provider not in first_failure:
                        first_failure[provider] = round(now, 2)
                record.update(
                    request_id=f"{request_id}-{attempt}", model=options.model, provider=provider, tools_offered=True,
                    timestamp=datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"))
                record = {key: value for key, value in record.items() if value is not None}
                telemetry.queue.put(record)
                if good:
                    served = provider
                    user_ttft = (time.monotonic() - began) * 1000 - record["latency_ms"] + record.get("ttft_ms", record["latency_ms"])
                    break
            with lock:
                requests.append((began - started, order[0]["provider"], served, user_ttft))

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(options.workers)]
    for thread in threads:
        thread.start()
    reported = 0
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.25)
        elapsed = time.monotonic() - started
        if elapsed >= (reported + 1) * options.report_every:
            reported += 1
            with lock:
                recent = [r for r in requests if r[0] >= elapsed - options.report_every]
            served = {}
            for _, _, provider, _ in recent:
                served[provider or "FAILED"] = served.get(provider or "FAILED", 0) + 1
            total = max(1, len(recent))
            shares = poller.shares.get(int((elapsed - 0.5) // 10), {})
            print(
                f"t={int(elapsed):3d} s  served " + " ".join(f"{p}={n / total:.0%}" for p, n in sorted(served.items()))
                + "  published shares " + " ".join(f"{p}={s:.2f}" for p, s in sorted(shares.items())),
                flush=True)
    for thread in threads:
        thread.join()
    telemetry.stopping.set()
    poller.stopping.set()
    telemetry.join(timeout=10)
    poller.join(timeout=5)

    buckets = {}
    for began, first, served, _ in requests:
        bucket = buckets.setdefault(int(began // 10), {"served": {}, "first": {}, "failed": 0, "requests": 0})
        bucket["requests"] += 1
        bucket["first"][first] = bucket["first"].get(first, 0) + 1
        if served is None:
            bucket["failed"] += 1
        else:
            bucket["served"][served] = bucket["served"].get(served, 0) + 1
    after_demotion = {}
    for provider, at in poller.demoted_at.items():
        later = [r for r in requests if r[0] > at]
        after_demotion[provider] = {
            "requests": len(later), "served": sum(1 for r in later if r[2] == provider),
            "first": sum(1 for r in later if r[1] == provider)}
    ttfts = [r[3] for r in requests if r[3] is not None]
    first_per_second = {}
    for began, first, _, _ in requests:
        counts = first_per_second.setdefault(first, {})
        counts[str(int(began))] = counts.get(str(int(began)), 0) + 1
    report = {
        "requests": len(requests),
        "user_failures": sum(1 for r in requests if r[2] is None),
        "route_errors": route_errors[0],
        "attempts": attempts_by_provider,
        "buckets": [dict(start_seconds=key * 10, **value) for key, value in sorted(buckets.items())],
        "published_shares": {str(key * 10): value for key, value in sorted(poller.shares.items())},
        "first_failure_seconds": first_failure,
        "demoted_at_seconds": poller.demoted_at,
        "after_demotion": after_demotion,
        "final_status": poller.statuses,
        "user_ttft_ms_p50": statistics.median(ttfts) if ttfts else None,
        "user_ttft_ms_p90": sorted(ttfts)[max(0, -(-len(ttfts) * 9 // 10) - 1)] if ttfts else None,
        "telemetry": telemetry.counts,
        "share_timeline": poller.timeline,
        "first_per_second": first_per_second,
        "faults_applied": applied,
    }
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
