"""Resident memory of the live agent and of gate-sim over many closes (issue 9: flat within 10 %).

    .venv/bin/python bench/memory_live.py [--closes 10000] [--every 500] [--warmup 2000]

Two real processes on loopback: ``adaptive-agent gate-sim --speed 0`` (the Gate venue and the
Binance reference feed on one port) and ``adaptive-agent live`` pointed at it, configured as the
crash trials are (tests/support/crash_harness.py ``AGENT_ENV``: targets 0.3/0.2/0.5, a tiny
threshold, no ATR, no minimum interval) so that it rebalances at nearly every close: orders,
fills, wallet transfers and ledger rows really accumulate on both sides. The bench moves the
replay one bar at a time (``POST /sim/advance``) and waits for the agent's heartbeat
(``meta.last_bar_ms``) before the next, at full speed. Every ``--every`` closes it samples both
processes' RSS (psutil) and prints a row; at the end, the growth from the ``--warmup`` mark to
the last sample, in percent and in KB per close. It asserts nothing: a measurement.

Figures on this machine (2 cores shared with other sessions, so closes/s is low; a quiet
200-close run does ~10 closes/s), RSS growth from close 2,000 to the end:

* before (main 829f502), ``--closes 10000``, 2610 s (3.8 closes/s): agent 197.4 -> 222.2 MB,
  +12.5 % (+3.2 KB a close); gate-sim 127.0 -> 157.9 MB, +24.4 % (+4.0 KB a close).
* gate-sim's history bounded (``sim/retention.py``), the digest reading its day only, the C
  heap trimmed after the daily reports (``runner/heap.py``); stopped at 8,500 closes: agent
  196.0 -> 212.2 MB, +8.3 %; gate-sim 126.4 -> 130.9 MB, +3.6 %, flat from close 6,500.
* and the audit reading its 30-day window a day at a time (``reports/audit_kpis.py``),
  ``--closes 6000``, 1935 s: agent 193.1 -> 194.1 MB, +0.5 % (+0.3 KB a close); gate-sim
  126.9 -> 131.0 MB, +3.2 %, while its 5,000-record caps fill (spot fills last, ~6,000
  closes), 130.8 -> 131.0 MB over the last 500.
* the audit in a worker process (``runner/services.py``), ``--closes 10000``, 1308 s (7.6
  closes/s): agent 194.0 -> 200.3 MB, +3.3 % (+0.81 KB a close); gate-sim 124.9 -> 129.3 MB,
  +3.6 %, flat from close 8,000; the agent's helpers (audit forkserver, worker and resource
  tracker, RSS summed, shared pages counted in each) 157.4 -> 179.5 MB, most of it by close
  5,500 (177.1) as the worker touches its copy-on-write pages; a sample taken during an audit
  reads ~8 MB higher than one between audits.
* and the worker let go when idle (a fresh fork for each audit, ``runner/audit_worker.py``
  preloaded), ``--closes 10000``, 1613 s: agent 194.2 -> 200.1 MB, +3.0 % (+0.75 KB a close);
  gate-sim 124.8 -> 129.2 MB, +3.6 %; helpers 65.8 MB at every sample between audits (the
  forkserver and the resource tracker), 160-171 MB in a sample that lands during an audit.
* the backtest compiled (numba), a worker let go after an audit that ran the evidence's
  backtests, the audit result handed back without its evidence object (unpickling it had
  imported numba into the agent: 189 -> 252 MB by close 1,000), ``--closes 6000``, 814 s:
  agent 193.6 -> 196.7 MB, +1.6 % (+0.80 KB a close); gate-sim 125.2 -> 129.2 MB, +3.2 %;
  helpers 65.8 MB at every sample from close 1,000.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.crash_harness import AGENT_ENV, KEY, SECRET

MB = 1024 * 1024
HEARTBEAT_TIMEOUT_S = 60.0


def start_sim(log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "GATE_API_KEY": KEY, "GATE_API_SECRET": SECRET}
    cmd = [sys.executable, "-m", "adaptive_agent", "gate-sim", "--port", "0", "--speed", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log.open("wb"), env=env, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # "gate-sim listening on http://127.0.0.1:P (Gate REST ...)"
        if "listening on " in line:
            return proc, line.split("listening on ")[1].split()[0]
    raise SystemExit(f"gate-sim exited ({proc.wait()}) before listening; see {log}")


def start_agent(db: Path, url: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, **AGENT_ENV, "ADAPTIVE_AGENT__EXECUTION__POST_ONLY_TIMEOUT_S": "0.05"}
    cmd = [sys.executable, "-m", "adaptive_agent", "--log-level", "WARNING", "live"]
    cmd += ["--state", str(db), "--gate-url", url, "--binance-url", url, "--set-dual-mode"]
    fh = log.open("wb")  # its daily reports go to reports/ under the temporary folder
    return subprocess.Popen(cmd, stdout=fh, stderr=fh, env=env, cwd=log.parent)


def advance(url: str) -> int:
    req = urllib.request.Request(f"{url}/sim/advance", data=b'{"bars": 1}', method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return int(json.load(resp)["now_ms"])


def last_bar(db: Path) -> int | None:
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = c.execute("SELECT value FROM meta WHERE key='last_bar_ms'").fetchone()
        finally:
            c.close()
    except sqlite3.OperationalError:
        return None
    return int(row[0]) if row else None


def wait_heartbeat(db: Path, want: int, agent: subprocess.Popen, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = last_bar(db)
        if got is not None and got >= want:
            return True
        if agent.poll() is not None:
            raise SystemExit(f"the agent exited ({agent.returncode})")
        time.sleep(0.002)
    return False


def counts(db: Path) -> dict[str, int]:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {
            t: int(c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in ("rebalances", "orders", "fills", "transfers", "funding_payments")
        }
    finally:
        c.close()


def rss_mb(proc: subprocess.Popen) -> float:
    return psutil.Process(proc.pid).memory_info().rss / MB


def children_rss_mb(proc: subprocess.Popen) -> float:
    """The agent's helper processes (the audit's forkserver and worker, the resource
    tracker), summed: pages they share are counted in each, so this is an upper bound."""
    total = 0
    for c in psutil.Process(proc.pid).children(recursive=True):
        try:
            total += c.memory_info().rss
        except psutil.Error:  # gone between the listing and the read
            continue
    return total / MB


def run(closes: int, every: int, warmup: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        db = d / "live.sqlite"
        sim, url = start_sim(d / "sim.log")
        agent = start_agent(db, url, d / "agent.log")
        try:
            # start-up: closes until the agent answers one (it subscribes after its reconcile)
            while not wait_heartbeat(db, advance(url), agent, 1.0):
                pass
            rows: list[tuple[int, float, float, float]] = []
            t0 = time.monotonic()

            def sample(n: int) -> None:
                rows.append((n, rss_mb(agent), rss_mb(sim), children_rss_mb(agent)))
                s = time.monotonic() - t0
                r = rows[-1]
                print(f"{n:>7} {r[1]:>13.1f} {r[2]:>16.1f} {r[3]:>18.1f} {s:>7.0f}", flush=True)

            head = f"{'closes':>7} {'agent RSS MB':>13} {'gate-sim RSS MB':>16}"
            print(f"{head} {'agent helpers MB':>18} {'s':>7}")
            sample(0)
            for n in range(1, closes + 1):
                if not wait_heartbeat(db, advance(url), agent, HEARTBEAT_TIMEOUT_S):
                    raise SystemExit(f"no heartbeat for close {n} in {HEARTBEAT_TIMEOUT_S} s")
                if n % every == 0 or n == closes:
                    sample(n)
            elapsed = time.monotonic() - t0
            stored = counts(db)
        finally:
            for p in (agent, sim):
                p.send_signal(signal.SIGTERM)
            for p in (agent, sim):
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    rate = closes / elapsed
    print(f"{closes} closes in {elapsed:.0f} s ({rate:.1f} closes/s); agent store: {stored}")
    base = next((r for r in rows if r[0] >= warmup), rows[0]) if closes > warmup else rows[0]
    end = rows[-1]
    span = max(end[0] - base[0], 1)
    for name, i in (("agent", 1), ("gate-sim", 2), ("agent helpers", 3)):
        grow = end[i] - base[i]
        if base[i] == 0:  # no helper process yet at the warm-up mark
            print(f"{name}: {base[i]:.1f} MB at close {base[0]} -> {end[i]:.1f} MB")
            continue
        print(
            f"{name}: {base[i]:.1f} MB at close {base[0]} -> {end[i]:.1f} MB at close {end[0]}:"
            f" {100 * grow / base[i]:+.1f} % ({grow * 1024 / span:+.2f} KB per close)"
        )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--closes", type=int, default=10_000)
    ap.add_argument("--every", type=int, default=500, help="closes between RSS samples")
    ap.add_argument("--warmup", type=int, default=2_000, help="growth is measured from here")
    args = ap.parse_args()
    if args.closes < 1 or args.every < 1 or args.warmup < 0:
        ap.error("--closes and --every must be >= 1, --warmup >= 0")
    return run(args.closes, args.every, args.warmup)


if __name__ == "__main__":
    sys.exit(main())
