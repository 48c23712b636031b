#!/usr/bin/env python3
"""rankd from any gateway, with nothing but Python's standard library.

    ranks = Rankings("http://127.0.0.1:8080", database="/var/lib/rankd/rankings.db")
    entries = ranks.order("meta-llama/llama-3.3-70b-instruct")  # [entry, ...] in rank order, or None
    to_try = pick(entries)   # per request: the first drawn by traffic_share, then the rest as fallbacks
    telemetry = Telemetry("http://127.0.0.1:8080", token)
    telemetry.record(request_id=..., model=..., provider=..., status=200, ttft_ms=..., ...)
    telemetry.flush()

`Rankings` polls `GET /v1/rankings/{model}` with `If-None-Match` (a 304 costs rankd almost
nothing), falls back to reading `rankings.db` read-only when the HTTP API cannot be reached, and
keeps the last answer it had when neither can; `None` means "use your own order". `Telemetry`
posts records as NDJSON and retries a batch rankd answered 429 or 503 (nothing of it was
accepted), after `Retry-After`. A retried batch is never counted twice: `request_id` is the
idempotency key.

Run as a script it checks itself against a running rankd and prints what it saw, as JSON:

    python3 docs/examples/gateway_client.py --rankd http://127.0.0.1:8080 \
        --database DATA_DIR/rankings.db --token "$RANKD_INGEST_TOKEN" --model MODEL --provider PROVIDER
"""

import argparse
import json
import random
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request


class Rankings:
    def __init__(self, rankd_url, database=None, poll_seconds=5.0, timeout_seconds=0.5):
        self.rankd_url = rankd_url.rstrip("/")
        self.database = database
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self._cache = {}  # model -> (fetched at, etag, entries)
        self.sources = {"http": 0, "not_modified": 0, "database": 0, "stale": 0}

    def order(self, model):
        """rankd's endpoints for `model`, best first (dicts with rank, endpoint_id, provider, status,
        score, ...), or None when rankd has never answered for it."""
        cached = self._cache.get(model)
        if cached and time.monotonic() - cached[0] < self.poll_seconds:
            return cached[2]
        try:
            entries, etag = self._fetch(model, cached[1] if cached else None)
            if entries is None:  # 304: the epoch has not changed
                self.sources["not_modified"] += 1
                entries = cached[2]
            else:
                self.sources["http"] += 1
        except (OSError, ValueError, urllib.error.URLError):
            entries, etag = self._read_database(model), None
            if entries is not None:
                self.sources["database"] += 1
            elif cached:
                self.sources["stale"] += 1
                entries = cached[2]
        if entries is not None:
            self._cache[model] = (time.monotonic(), etag, entries)
        return entries

    def _fetch(self, model, etag):
        request = urllib.request.Request(f"{self.rankd_url}/v1/rankings/{urllib.parse.quote(model, safe='')}")
        if etag:
            request.add_header("If-None-Match", etag)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                return json.load(response)["endpoints"], response.headers.get("ETag")
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return None, etag
            raise

    def _read_database(self, model):
        """The same entries from `rankings.db`, opened read-only (a WAL reader: never blocks rankd)."""
        if not self.database:
            return None
        try:
            uri = f"file:{urllib.parse.quote(self.database)}?mode=ro"
            with sqlite3.connect(uri, uri=True, timeout=self.timeout_seconds) as connection:
                connection.row_factory = sqlite3.Row
                rows = connection.execute(
                    "SELECT rank, endpoint_id, provider, base_url, upstream_model, score, status, reasons, epoch_id,"
                    " traffic_share"
                    " FROM current_rankings WHERE model = ? ORDER BY rank", (model,)).fetchall()
        except sqlite3.Error:
            return None
        if not rows:
            return None
        return [dict(row, reasons=[r for r in row["reasons"].split(",") if r]) for row in rows]


def pick(entries, rng=random):
    """The endpoints to try for one request: the first drawn with probability `traffic_share`
    (rankd's intended share of the model's traffic), then the others in rank order as fallbacks.
    Always taking rank 1 would send the whole gateway to one endpoint and leave the others without
    live evidence. Demoted endpoints have share 0: only ever a fallback."""
    sharing = [e for e in entries if (e.get("traffic_share") or 0) > 0]
    if not sharing:
        return list(entries)
    first = rng.choices(sharing, weights=[e["traffic_share"] for e in sharing])[0]
    return [first] + [e for e in entries if e is not first]


class Telemetry:
    def __init__(self, rankd_url, token, batch_size=200, timeout_seconds=2.0, attempts=5):
        self.url = rankd_url.rstrip("/") + "/v1/telemetry"
        self.token = token
        self.batch_size = batch_size
        self.timeout_seconds = timeout_seconds
        self.attempts = attempts
        self.pending = []
        self.totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "retries": 0}

    def record(self, **fields):
        """One finished request: metadata only (rankd refuses records carrying text)."""
        self.pending.append(fields)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self):
        while self.pending:
            batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size:]
            self._post(batch)

    def _post(self, batch):
        body = "\n".join(json.dumps(r) for r in batch).encode()
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.url, data=body, method="POST")
            request.add_header("Content-Type", "application/x-ndjson")
            request.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                    answer = json.load(response)
                self.totals["accepted"] += answer["accepted"]
                self.totals["duplicates"] += answer["duplicates"]
                self.totals["rejected"] += len(answer["rejected"])
                return answer
            except urllib.error.HTTPError as error:
                if error.code not in (429, 503):
                    raise  # 400/401/403/413/415: fix the request, a retry cannot help
                delay = float(error.headers.get("Retry-After") or 1)
            except (OSError, urllib.error.URLError):
                delay = 0.5 * 2 ** attempt
            self.totals["retries"] += 1
            time.sleep(min(delay, 10))
        raise RuntimeError(f"rankd did not take {len(batch)} telemetry records after {self.attempts} attempts")


def main():
    parser = argparse.ArgumentParser(description="Check this client against a running rankd.")
    parser.add_argument("--rankd", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--provider", required=True)
    args = parser.parse_args()

    ranks = Rankings(args.rankd, database=args.database, poll_seconds=0)
    first = ranks.order(args.model)
    again = ranks.order(args.model)  # same epoch: 304
    from_file = Rankings("http://127.0.0.1:9", database=args.database, timeout_seconds=0.2).order(args.model)

    telemetry = Telemetry(args.rankd, args.token, batch_size=10)
    now = time.time()
    for i in range(25):
        telemetry.record(request_id=f"example-{int(now)}-{i}", timestamp=now, model=args.model, provider=args.provider,
                         status=200, ttft_ms=300 + i, latency_ms=1500 + i, prompt_tokens=900, completion_tokens=80,
                         tools_offered=True, tool_call_valid=True, finish_reason="tool_calls")
    telemetry.flush()
    telemetry.record(request_id=f"example-{int(now)}-0", timestamp=now, model=args.model, provider=args.provider, status=200)
    telemetry.flush()  # the same request_id again: a duplicate, not counted twice

    firsts = {}
    for _ in range(400 if first else 0):
        endpoint_id = pick(first)[0]["endpoint_id"]
        firsts[endpoint_id] = firsts.get(endpoint_id, 0) + 1

    print(json.dumps({
        "http_order": [e["endpoint_id"] for e in first or []],
        "shares": {e["endpoint_id"]: e.get("traffic_share") for e in first or []},
        "picked_first": firsts,
        "second_poll_order": [e["endpoint_id"] for e in again or []],
        "database_order": [e["endpoint_id"] for e in from_file or []],
        "sources": ranks.sources,
        "telemetry": telemetry.totals,
    }))


if __name__ == "__main__":
    main()
