"""Walk-forward analysis (docs/rules.md, Sweeps): on each training window pick the best
configuration of the grid by the objective, then run it on the test window that follows.

Windows step through the candles by time: ``train`` then ``test``, moved by ``step``
(default: ``test``, so the test windows tile the span). Each window is its own backtest: it
starts flat at ``nav0`` and computes its ATR from its own first candle, as any backtest over
that span does. The out-of-sample result is the test windows' returns compounded, beside the
in-sample figures of the chosen configurations: a wide gap shows over-fitting.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backtest.dataset import BacktestData
from ..config import AppConfig
from ..core.time_rules import DAY_MS
from .sweep import best, objective_value, run_sweep


@dataclass(frozen=True)
class WalkForwardSpec:
    train_ms: int
    test_ms: int
    step_ms: int


def parse_walk_forward(text: str) -> WalkForwardSpec:
    """``train=90d,test=30d[,step=30d]`` (days ``d`` or hours ``h``)."""
    parts: dict[str, int] = {}
    for item in text.split(","):
        m = re.fullmatch(r"\s*(train|test|step)\s*=\s*(\d+)\s*([dh])\s*", item)
        if m is None:
            raise argparse.ArgumentTypeError(
                f"--walk-forward: expected train=90d,test=30d[,step=30d], got {text!r}"
            )
        unit = DAY_MS if m.group(3) == "d" else DAY_MS // 24
        parts[m.group(1)] = int(m.group(2)) * unit
    if "train" not in parts or "test" not in parts or min(parts.values()) <= 0:
        raise argparse.ArgumentTypeError(
            f"--walk-forward: train and test are needed, each > 0, got {text!r}"
        )
    return WalkForwardSpec(parts["train"], parts["test"], parts.get("step", parts["test"]))


def _window(data: BacktestData, lo_ms: int, hi_ms: int) -> BacktestData | None:
    lo, hi = (int(np.searchsorted(data.ts, t, "left")) for t in (lo_ms, hi_ms))
    if hi - lo < 2:
        return None
    return BacktestData(data.candles.slice(lo, hi), data.signals, data.funding, data.perp)


def _mean(values: list[float]) -> float:
    """Mean of the defined values (a window's Sharpe may be undefined); ``nan`` if none."""
    ok = [float(v) for v in values if math.isfinite(float(v))]
    return math.fsum(ok) / len(ok) if ok else math.nan


def walk_forward(
    data: BacktestData,
    points: list[dict[str, Any]],
    configs: list[AppConfig],
    spec: WalkForwardSpec,
    objective: str,
    max_dd: float | None = None,
    nav0: float | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """One row per window (its dates, the chosen settings, in- and out-of-sample figures) and
    the totals (in-sample mean, out-of-sample compounded)."""
    rows: list[dict[str, Any]] = []
    t0, end = int(data.ts[0]), int(data.dec[-1])
    t = t0
    while t + spec.train_ms + spec.test_ms <= end:
        train = _window(data, t, t + spec.train_ms)
        test = _window(data, t + spec.train_ms, t + spec.train_ms + spec.test_ms)
        if train is None or test is None:
            break
        ins = run_sweep(train, configs, nav0, scheduler, workers)
        i = best(ins, objective, max_dd)[0]
        (oos,) = run_sweep(test, [configs[i]], nav0, scheduler, workers=1)
        row: dict[str, Any] = {
            "window": len(rows) + 1,
            "train_start": t,
            "test_start": t + spec.train_ms,
            "test_end": t + spec.train_ms + spec.test_ms,
            **points[i],
            "is_objective": objective_value(ins[i], objective, max_dd),
        }
        for k in ("roi", "sharpe", "max_dd", "fees_usdt"):
            row[f"is_{k}"], row[f"oos_{k}"] = ins[i][k], oos[k]
        rows.append(row)
        t += spec.step_ms
    if not rows:
        raise argparse.ArgumentTypeError(
            "--walk-forward: the candles are shorter than one train + test window"
        )
    totals = {
        "windows": float(len(rows)),
        "is_roi_mean": float(np.mean([r["is_roi"] for r in rows])),
        "oos_roi_mean": float(np.mean([r["oos_roi"] for r in rows])),
        "oos_roi_compounded": math.prod(1.0 + r["oos_roi"] for r in rows) - 1.0,
        "is_sharpe_mean": _mean([r["is_sharpe"] for r in rows]),
        "oos_sharpe_mean": _mean([r["oos_sharpe"] for r in rows]),
    }
    return rows, totals
