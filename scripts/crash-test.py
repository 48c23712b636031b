#!/usr/bin/env python3
"""Crash safety: `rankd serve` under ingest load, SIGKILLed at random moments, N cycles.

Each cycle starts the daemon on the same data directory, waits for /readyz, then runs two
telemetry posters (NDJSON batches with unique request ids), an admin client forcing an epoch
every 50 ms (so kills land in publishes too), and a reader of rankings.db (read-only, as a
router) checking every read sees one whole epoch. At a random moment (0.3-2.5 s, seeded) the
daemon gets SIGKILL. Then, with the daemon dead:

- PRAGMA integrity_check is ok on state.db and rankings.db;
- rankings.db's current epoch is whole (one row per enabled endpoint, one epoch id);
- state.db holds every acknowledged record, and at most the in-flight ones besides.

After the last cycle the daemon starts once more, the batches whose answer the kill cut off are
retried (as a gateway does), and every record must be stored exactly once.

    python3 scripts/crash-test.py [--cycles 50] [--seed 1] [--binary .build/release/rankd]

Prints a JSON summary; exits 1 on any failed check. Uses only Python's standard library.
"""

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MODEL = "acme/crash-1"
PROVIDERS = ["alpha", "beta"]
INGEST = "ingest-token-for-the-crash-script"
ADMIN = "admin-token-for-the-crash-script"
BATCH = 200


class Failure(Exception):
    pass


def start(binary, config, data, log):
    process = subprocess.Popen(
        [binary, "serve", "--config", config, "--listen", "127.0.0.1:0", "--data-dir", data, "--no-probe"],
        stdout=log, stderr=log, env={**os.environ, "RANKD_INGEST_TOKEN": INGEST, "RANKD_ADMIN_TOKEN": ADMIN})
    started = time.monotonic()
    port = None
    while time.monotonic() - started < 30:
        if port is None:
            with open(log.name, "rb") as f:
                found = re.findall(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            port = int(found[-1]) if found else None
        if port is not None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return process, port, time.monotonic() - started
            except (OSError, urllib.error.URLError):
                pass
        if process.poll() is not None:
            raise Failure(f"rankd exited with {process.returncode} on start; see {log.name}")
        time.sleep(0.01)
    process.kill()
    raise Failure(f"rankd not ready within 30 s; see {log.name}")


def post(port, path, body, token, content_type="application/x-ndjson", timeout=10):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def batch(name):
    now = time.time()
    return "\n".join(json.dumps({
        "request_id": f"{name}-{i}", "timestamp": now, "model": MODEL, "provider": PROVIDERS[i % 2], "status": 200,
        "ttft_ms": 200 + i % 50, "latency_ms": 900, "completion_tokens": 60, "tools_offered": True, "tool_call_valid": True,
    }) for i in range(BATCH)).encode()


def stored_live_requests(data):
    with sqlite3.connect(os.path.join(data, "state.db")) as db:
        return db.execute("SELECT (SELECT COALESCE(SUM(requests), 0) FROM minute_buckets WHERE source = 'live') + (SELECT COALESCE(SUM(requests), 0) FROM live_journal)").fetchone()[0], \
            db.execute("SELECT COUNT(*) FROM ingest_keys").fetchone()[0]


def check_files(data):
    """With the daemon dead: both files intact, the published epoch whole."""
    for name in ("state.db", "rankings.db"):
        with sqlite3.connect(os.path.join(data, name)) as db:
            result = db.execute("PRAGMA integrity_check").fetchall()
            if result != [("ok",)]:
                raise Failure(f"{name}: integrity_check {result}")
    with sqlite3.connect(os.path.join(data, "rankings.db")) as db:
        rows, epochs = db.execute("SELECT COUNT(*), COUNT(DISTINCT epoch_id) FROM current_rankings").fetchone()
        enabled = db.execute("SELECT COUNT(*) FROM endpoints WHERE enabled = 1").fetchone()[0]
        if rows != len(PROVIDERS) or epochs != 1 or enabled != len(PROVIDERS):
            raise Failure(f"rankings.db: current epoch has {rows} rows in {epochs} epochs for {enabled} endpoints")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", default=next(
        (p for p in (os.path.join(REPOSITORY, ".build/release/rankd"), os.path.join(REPOSITORY, ".build/debug/rankd")) if os.path.exists(p)),
        None))
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    if not args.binary:
        sys.exit("no rankd binary: swift build -c release --product rankd (or pass --binary)")
    generator = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="rankd-crash-")
    data = os.path.join(work, "data")
    config = os.path.join(work, "rankd.yaml")
    with open(config, "w") as f:
        f.write(f"epoch_interval_seconds: 5\npolicy_file: {REPOSITORY}/scoring/policy.yaml\n"
                f"tokens:\n  ingest: {{env: RANKD_INGEST_TOKEN}}\n  admin: {{env: RANKD_ADMIN_TOKEN}}\nendpoints:\n"
                + "".join(f"  - {{provider: {p}, model: {MODEL}, base_url: \"http://127.0.0.1:9/{p}/v1\", upstream_model: m}}\n"
                          for p in PROVIDERS))

    acknowledged, cut = {}, {}
    ready_seconds, reads, epochs_forced, kills_after = [], 0, 0, []
    failures = []
    for cycle in range(args.cycles):
        log = open(os.path.join(work, f"cycle-{cycle:02d}.log"), "wb")
        process, port, ready = start(args.binary, config, data, log)
        ready_seconds.append(ready)
        stop = threading.Event()
        lock = threading.Lock()
        counts = {"reads": 0, "epochs": 0}

        def poster(worker):
            index = 0
            while not stop.is_set():
                name = f"c{cycle}-w{worker}-b{index}"
                index += 1
                body = batch(name)
                try:
                    answer = post(port, "/v1/telemetry", body, INGEST)
                except urllib.error.HTTPError as error:
                    if error.code == 429:  # nothing accepted: the same batch again later
                        with lock:
                            cut[name] = body
                        time.sleep(0.05)
                        continue
                    with lock:
                        failures.append(f"{name}: HTTP {error.code}")
                    return
                except (OSError, urllib.error.URLError):
                    with lock:
                        cut[name] = body
                    return
                with lock:
                    if answer["accepted"] != BATCH:
                        failures.append(f"{name}: accepted {answer['accepted']} of {BATCH}")
                    acknowledged[name] = body

        def recomputer():
            while not stop.is_set():
                try:
                    post(port, "/v1/admin/recompute", b"", ADMIN, "application/json", timeout=5)
                    with lock:
                        counts["epochs"] += 1
                except (OSError, urllib.error.URLError):
                    return
                time.sleep(0.05)

        def reader():
            uri = f"file:{os.path.join(data, 'rankings.db')}?mode=ro"
            while not stop.is_set():
                try:
                    with sqlite3.connect(uri, uri=True, timeout=1) as db:
                        rows, epochs = db.execute("SELECT COUNT(*), COUNT(DISTINCT epoch_id) FROM current_rankings").fetchone()
                    db.close()
                except sqlite3.Error:
                    continue  # the writer died mid-checkpoint: readers retry, as a router would
                with lock:
                    counts["reads"] += 1
                    if (rows, epochs) != (len(PROVIDERS), 1):
                        failures.append(f"cycle {cycle}: a reader saw {rows} rows of {epochs} epochs")
                time.sleep(0.002)

        threads = [threading.Thread(target=poster, args=(w,)) for w in range(2)]
        threads += [threading.Thread(target=recomputer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        delay = generator.uniform(0.3, 2.5)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills_after.append(delay)
        stop.set()
        for t in threads:
            t.join()
        log.close()
        reads += counts["reads"]
        epochs_forced += counts["epochs"]
        try:
            check_files(data)
            stored, _ = stored_live_requests(data)
            low, high = len(acknowledged) * BATCH, (len(acknowledged) + len(cut)) * BATCH
            if not low <= stored <= high:
                failures.append(f"cycle {cycle}: {stored} live requests stored, expected {low}...{high}")
        except (Failure, sqlite3.Error) as error:
            failures.append(f"cycle {cycle}: {error}")
        print(f"cycle {cycle + 1}/{args.cycles}: killed after {delay:.2f} s, ready in {ready:.3f} s, "
              f"{len(acknowledged)} batches acknowledged so far, {len(cut)} cut", file=sys.stderr)

    # Once more: retry what the kills cut off; then everything must be there exactly once.
    log = open(os.path.join(work, "final.log"), "wb")
    process, port, ready = start(args.binary, config, data, log)
    ready_seconds.append(ready)
    retried_duplicates = 0
    for name, body in sorted(cut.items()):
        answer = post(port, "/v1/telemetry", body, INGEST)
        if answer["accepted"] + answer["duplicates"] != BATCH:
            failures.append(f"retry {name}: {answer}")
        retried_duplicates += answer["duplicates"]
    replay = post(port, "/v1/telemetry", next(iter(acknowledged.values())), INGEST)
    if (replay["accepted"], replay["duplicates"]) != (0, BATCH):
        failures.append(f"replaying an acknowledged batch: {replay}")
    process.send_signal(signal.SIGTERM)
    if process.wait(30) != 0:
        failures.append(f"SIGTERM: exit status {process.returncode}")
    log.close()
    check_files(data)
    stored, keys = stored_live_requests(data)
    expected = (len(acknowledged) + len(cut)) * BATCH
    if (stored, keys) != (expected, expected):
        failures.append(f"{stored} live requests and {keys} keys stored, {expected} expected")

    summary = {
        "binary": os.path.relpath(args.binary, REPOSITORY), "cycles": args.cycles, "seed": args.seed,
        "batches_acknowledged": len(acknowledged), "records_acknowledged": len(acknowledged) * BATCH,
        "batches_cut_by_kills_and_retried": len(cut), "records_of_cut_batches_already_committed": retried_duplicates,
        "records_stored": stored, "records_expected": expected,
        "epochs_forced": epochs_forced, "reader_checks": reads,
        "ready_seconds": {"median": round(statistics.median(ready_seconds), 3), "max": round(max(ready_seconds), 3)},
        "failures": failures,
    }
    print(json.dumps(summary, indent=2))
    if not args.keep:
        subprocess.run(["rm", "-rf", work])
    else:
        print(f"kept {work}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
