"""Sweeps (issue 11): every row of sweep.csv equals a separate ``adaptive-agent backtest`` of
that configuration, and a real Dask scheduler with two workers on loopback gives the same rows
as the local processes, row for row."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive_agent.cli import main
from tests.support.market_data import ROOT

GRID = [
    "--grid", "strategy.threshold_floor=0.004,0.008,0.012",
    "--grid", "strategy.atr_multiplier=0,0.1,0.2,0.3",
    "--grid", "strategy.min_rebalance_interval_minutes=30,60,120",
]  # fmt: skip


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _close(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y)) or (x != x and y != y)


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "local"
    assert main(["sweep", *GRID, "--out", str(out)]) == 0
    return out


def test_a_3x4x3_sweep_equals_separate_backtests(local_sweep, tmp_path, capsys):
    rows = _rows(local_sweep / "sweep.csv")
    assert len(rows) == 36 and (local_sweep / "sweep.html").is_file()
    for i in (0, 17, 35):  # a sample: first, middle, last
        r = rows[i]
        env = {
            "ADAPTIVE_AGENT__STRATEGY__THRESHOLD_FLOOR": r["strategy.threshold_floor"],
            "ADAPTIVE_AGENT__STRATEGY__ATR_MULTIPLIER": r["strategy.atr_multiplier"],
            "ADAPTIVE_AGENT__STRATEGY__MIN_REBALANCE_INTERVAL_MINUTES": r[
                "strategy.min_rebalance_interval_minutes"
            ],
        }
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            assert main(["backtest", "--out", str(tmp_path / str(i)), "--no-html", "--quiet"]) == 0
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        (one,) = _rows(tmp_path / str(i) / "summary.csv")
        for k, v in one.items():
            assert _close(r[k], v), (i, k, r[k], v)
    capsys.readouterr()


def _start_cluster(tmp: Path) -> tuple[list[subprocess.Popen], str]:
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sched_file = tmp / "scheduler.json"
    base = [sys.executable, "-m"]
    procs = [
        subprocess.Popen(
            [*base, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", ":0", "--scheduler-file", str(sched_file)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while not sched_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    import json

    address = json.loads(sched_file.read_text())["address"]
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [*base, "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--host", "127.0.0.1", "--dashboard-address", ":0", "--no-nanny"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
    from distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(2, timeout=60)
    return procs, address


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):  # workers first, then the scheduler
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)


def test_a_dask_cluster_on_loopback_gives_the_same_rows(local_sweep, tmp_path, capsys):
    procs, address = _start_cluster(tmp_path)
    try:
        assert address.startswith("tcp://127.0.0.1:")
        out = tmp_path / "dask"
        assert main(["sweep", *GRID, "--scheduler", address, "--out", str(out)]) == 0
    finally:
        _stop(procs)
    assert (out / "sweep.csv").read_text() == (local_sweep / "sweep.csv").read_text()
    capsys.readouterr()


def test_walk_forward_reports_in_and_out_of_sample(tmp_path, capsys):
    out = tmp_path / "wf"
    argv = ["sweep", "--grid", "strategy.threshold_floor=0.004,0.008", "--start", "2024-01-01",
            "--end", "2024-07-01", "--walk-forward", "train=60d,test=30d",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    rows = _rows(out / "walk_forward.csv")
    assert len(rows) == 4  # (182 days - 60) / 30
    for r in rows:
        assert r["strategy.threshold_floor"] in ("0.004", "0.008")
        assert {"is_roi", "oos_roi", "is_sharpe", "oos_sharpe"} <= set(r)
        assert r["train_start"] < r["test_start"] < r["test_end"]
    assert "walk-forward: 4 windows" in printed and "out-of-sample compounded ROI" in printed
