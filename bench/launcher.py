#!/usr/bin/env python3
"""Launcher benchmark: cold start to first answer, worker replacement after
SIGKILL, reload time, and idle memory of the master and its workers.

Run with `make bench` (it builds the release binaries first). Goals:
cold start <= 1 s, replacement <= 100 ms, idle RSS <= 8 MiB (master) and
<= 16 MiB (each worker). Prints one line per measurement and exits 1 when a
goal is missed.
"""

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "pymsboot-api")
WORKERS = 2
ROUNDS = 20


class Notify:
    """A NOTIFY_SOCKET the master reports READY/STATUS to."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def wait_for(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching sd_notify message")
            self.sock.settimeout(left)
            message = self.sock.recv(4096).decode()
            if predicate(message):
                return message


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def main():
    workdir = tempfile.mkdtemp(prefix="pymsboot-bench-")
    conf = os.path.join(workdir, "bench.conf")
    with open(conf, "w") as f:
        f.write(
            f"[DEFAULT]\nlog_file = {workdir}/api.log\n"
            f"[api]\nhost = 127.0.0.1\nport = 0\napi_workers = {WORKERS}\nauth_strategy = noauth\n"
        )
    notify = Notify(os.path.join(workdir, "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    started = time.monotonic()
    master = subprocess.Popen([BINARY, "--config-file", conf], env=env)
    failures = []
    try:
        port = wait_port(os.path.join(workdir, "api.log"))
        url = f"http://127.0.0.1:{port}/v1"
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                time.sleep(0.002)
        cold = time.monotonic() - started
        notify.wait_for(lambda m: "READY=1" in m)
        report("cold start to first answer", cold * 1000, "ms", 1000, failures)

        ready = f"{WORKERS}/{WORKERS} workers ready"
        time.sleep(1.1)  # workers younger than 1 s are replaced with backoff, by design
        replacements = []
        for _ in range(ROUNDS):
            victim = children(master.pid)[0]
            t0 = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            notify.wait_for(lambda m: "1/" in m or "0/" in m)
            notify.wait_for(lambda m: ready in m)
            replacements.append((time.monotonic() - t0) * 1000)
            time.sleep(1.1)  # past the 1 s minimum uptime, so no backoff applies
        report("worker replacement (median)", statistics.median(replacements), "ms", 100, failures)
        report("worker replacement (max)", max(replacements), "ms", None, failures)

        reloads = []
        for _ in range(5):
            t0 = time.monotonic()
            os.kill(master.pid, signal.SIGHUP)
            notify.wait_for(lambda m: "READY=1" in m)
            reloads.append((time.monotonic() - t0) * 1000)
        report("reload to new generation ready (median)", statistics.median(reloads), "ms", None, failures)

        time.sleep(2)  # let the retired generation exit before measuring memory
        report("idle RSS master", rss_kib(master.pid) / 1024, "MiB", 8, failures)
        for n, pid in enumerate(children(master.pid)):
            report(f"idle RSS worker {n}", rss_kib(pid) / 1024, "MiB", 16, failures)
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)
    if failures:
        print("missed goals: " + ", ".join(failures))
        return 1
    return 0


def wait_port(log_path):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(log_path) as log:
                found = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read())
                if found:
                    return int(found.group(1))
        except FileNotFoundError:
            pass
        time.sleep(0.001)
    raise TimeoutError("the master never logged its port")


def report(what, value, unit, goal, failures):
    verdict = ""
    if goal is not None:
        ok = value <= goal
        verdict = f"  (goal <= {goal} {unit}: {'ok' if ok else 'MISSED'})"
        if not ok:
            failures.append(what)
    print(f"{what:42} {value:9.2f} {unit}{verdict}")


if __name__ == "__main__":
    sys.exit(main())
