#!/usr/bin/env python3
"""Python↔Python oslo.messaging baseline for the RPC benchmark: a stock server
(tests/python/oslo_peer.py serve) and a stock RPCClient calling `echo`,
sequentially and from 32 threads, on the same broker as bench/rpc.rs.

Run with `make bench` (needs the venv of scripts/python-venv).
"""

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "tests", "python", "oslo_peer.py")
sys.path.insert(0, os.path.dirname(PEER))

import oslo_messaging  # noqa: E402
import oslo_peer  # noqa: E402

URL = os.environ.get("PYMSBOOT_BENCH_URL", "rabbit://guest:guest@127.0.0.1:5672//")
SEQUENTIAL = 1000
CONCURRENT = 32
CONCURRENT_CALLS = 3200


class Args:
    url = URL
    exchange = "bench_py_" + uuid.uuid4().hex[:8]
    topic = "bench_py_" + uuid.uuid4().hex[:8]
    server = None


def run(client, lanes, calls):
    latencies = []
    lock = threading.Lock()

    def lane(n):
        mine = []
        for _ in range(n):
            t0 = time.perf_counter()
            client.call({}, "echo", value=1)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=lane, args=(calls // lanes,)) for _ in range(lanes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]


def main():
    server = subprocess.Popen(
        [sys.executable, PEER, "serve", "--url", URL, "--exchange", Args.exchange, "--topic", Args.topic],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONWARNINGS="ignore"), text=True)
    try:
        assert server.stdout.readline().strip() == "READY"
        transport = oslo_peer.make_transport(Args, timeout=30)
        target = oslo_messaging.Target(exchange=Args.exchange, topic=Args.topic, namespace="engine", version="1.0")
        client = oslo_messaging.get_rpc_client(transport, target)
        client.call({}, "echo", value=1)
        for name, lanes, calls in (("python call, sequential", 1, SEQUENTIAL),
                                   ("python call, 32 concurrent", CONCURRENT, CONCURRENT_CALLS)):
            rate, p50, p99 = run(client, lanes, calls)
            print(f"{name:36} {rate:9.0f} calls/s  p50 {p50 * 1000:7.3f} ms  p99 {p99 * 1000:7.3f} ms")
        transport.cleanup()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
