"""Paper replay speed and memory: ``adaptive-agent paper`` at max speed as a user runs it.

    .venv/bin/python bench/paper_replay.py                 # the whole bundle (306,704 bars), once
    .venv/bin/python bench/paper_replay.py --bars 40000 --runs 3

Each run is a fresh ``python -m adaptive_agent paper`` process (the default: bundled data,
baseline signals, the backtest's fill model, its end-of-run report) in a temporary folder. The
bench samples the process's resident memory (``/proc/<pid>/status`` VmRSS) every half second
and prints, per run: wall time, CPU time (of the paper process), bars per second, RSS at 10 %,
50 % and the end of the replay and the peak, and the proportional set size of the process with
its audit worker and forkserver (the memory they use together) at the end and its peak; then
the median of the runs. The issue's targets: the whole bundle
in <= 5 minutes, memory flat and <= 300 MB at the end.

Figures (2 cores, quiet machine), ``--runs 3`` at 782da89: 233.7 / 242.3 / 237.8 s wall
(median 237.8 s, 1,290 bars/s), RSS at the end 200 / 193 / 175 MB, peak 247-249 MB (during the
end-of-run report); with the audit worker and forkserver (PSS) 231 / 214 MB at the end (the
first run's last sample came after the exit), peak 286-288 MB. Before the audit moved to a
worker process (last session): 517 s wall, peak RSS 261 MB. With the worker let go after a
month of audits (the final code): 246.9 s wall, 1,242 bars/s, RSS end 193 MB, peak 251 MB,
with the worker and forkserver (PSS) peak 283 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BUNDLE_BARS = 306_704


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def tree_pss_mb(pid: int) -> float | None:
    """Proportional set size of the process and its descendants (the audit's forkserver and
    worker): pages they share are split among them, so the sum is the memory they use."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:  # gone between the listing and the read
            continue
    return total / 1024 / 1024 if total else None  # None: the process has exited (a zombie)


def one_run(bars: int | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "adaptive_agent", "paper", "--state", "p.sqlite"]
        if bars is not None:
            cmd += ["--bars", str(bars)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        t0 = time.perf_counter()
        c0 = os.times()
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        samples: list[tuple[float, float]] = []
        tree: list[float] = []
        while proc.poll() is None:
            mb = rss_mb(proc.pid)
            if mb is not None:
                samples.append((time.perf_counter() - t0, mb))
            pss = tree_pss_mb(proc.pid)
            if pss is not None:
                tree.append(pss)
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        c1 = os.times()
        out = proc.stdout.read() if proc.stdout else ""
        if proc.returncode != 0:
            raise SystemExit(f"paper exited {proc.returncode}:\n{out}")
        closes = int(out.split("paper: ", 1)[1].split(" closes", 1)[0])
        rss = [mb for _, mb in samples] or [0.0]

        def at(frac: float) -> float:
            return rss[min(len(rss) - 1, int(frac * (len(rss) - 1)))]

        return {
            "closes": closes,
            "wall_s": wall,
            "cpu_s": c1.children_user - c0.children_user + c1.children_system - c0.children_system,
            "bars_per_s": closes / wall,
            "rss10": at(0.1),
            "rss50": at(0.5),
            "rss_end": at(1.0),
            "rss_peak": max(rss),
            "tree_end": (tree or [0.0])[-1],
            "tree_peak": max(tree or [0.0]),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, help="bars to replay (default: the whole bundle)")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    n = args.bars or BUNDLE_BARS
    print(f"paper replay, {n:,} bars, {args.runs} run(s), {os.cpu_count()} CPUs")
    print(f"{'run':>4} {'closes':>8} {'wall s':>8} {'cpu s':>8} {'bars/s':>8}"
          f" {'RSS10%':>7} {'RSS50%':>7} {'RSSend':>7} {'peak':>7}"
          f" {'treeEnd':>7} {'treePk':>7}  (MB)")  # fmt: skip
    runs = []
    for i in range(args.runs):
        r = one_run(args.bars)
        runs.append(r)
        print(f"{i + 1:>4} {r['closes']:>8,} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f}"
              f" {r['bars_per_s']:>8.0f} {r['rss10']:>7.0f} {r['rss50']:>7.0f}"
              f" {r['rss_end']:>7.0f} {r['rss_peak']:>7.0f}"
              f" {r['tree_end']:>7.0f} {r['tree_peak']:>7.0f}")  # fmt: skip
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"median: {med['wall_s']:.1f} s wall, {med['cpu_s']:.1f} s CPU,"
          f" {med['bars_per_s']:.0f} bars/s, RSS end {med['rss_end']:.0f} MB,"
          f" peak {med['rss_peak']:.0f} MB; with the audit worker (PSS) end"
          f" {med['tree_end']:.0f} MB, peak {med['tree_peak']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
