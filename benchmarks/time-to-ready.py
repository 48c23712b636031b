#!/usr/bin/env python3
"""Seconds from starting `rankd serve` to its first /readyz 200, RUNS times (SIGTERM between runs).

    python3 benchmarks/time-to-ready.py BINARY CONFIG DATA_DIR [RUNS=3]

Prints one JSON line: {"runs": [...], "median": s, "log": "the 'state restored' line"}.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

binary, config, data = sys.argv[1:4]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
times, restored = [], ""
for _ in range(runs):
    log = tempfile.NamedTemporaryFile(delete=False)
    started = time.monotonic()
    process = subprocess.Popen([binary, "serve", "--config", config, "--listen", "127.0.0.1:0", "--data-dir", data, "--no-probe"],
                               stdout=log, stderr=log)
    port, ready = None, None
    while time.monotonic() - started < 600 and ready is None:
        if port is None:
            with open(log.name, "rb") as f:
                found = re.search(rb"listening on 127\.0\.0\.1:(\d+)", f.read())
            port = int(found.group(1)) if found else None
        if port is not None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        ready = time.monotonic() - started
            except (OSError, urllib.error.URLError):
                pass
        if process.poll() is not None:
            sys.exit(f"rankd exited: {open(log.name).read()[-2000:]}")
        time.sleep(0.002)
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    text = open(log.name, errors="replace").read()
    restored = next((line for line in text.splitlines() if "state restored" in line), restored)
    os.unlink(log.name)
    if ready is None:
        sys.exit("not ready within 600 s")
    times.append(round(ready, 3))
print(json.dumps({"runs": times, "median": statistics.median(times), "log": restored.strip()}))
