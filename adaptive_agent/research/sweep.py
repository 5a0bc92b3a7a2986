"""Run a sweep: one backtest per configuration on shared data (docs/rules.md, Sweeps).

The data (``BacktestData``: candles, signals, funding, and the per-dataset work cached in it)
reach each worker once: a local process pool gets it as the workers' start-up argument, a Dask
cluster as one scattered (broadcast) object that every task refers to. A task is a
configuration; it returns the summary row. Results come back in the grid's order, so a
cluster's rows equal the local ones row for row.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..backtest.dataset import BacktestData
from ..backtest.rebalance_backtester import SUMMARY_COLUMNS, simulate
from ..config import AppConfig

OBJECTIVES = ("sharpe", "roi", "roi_per_fee", "calmar", "sortino")

_DATA: BacktestData | None = None  # a worker's copy (process pool)


def run_config(data: BacktestData, cfg: dict[str, Any], nav0: float | None = None) -> dict:
    """The summary row of one configuration (``cfg``: ``AppConfig.model_dump()``)."""
    result = simulate(data, AppConfig.model_validate(cfg), nav0)
    return {k: result.summary[k] for k in SUMMARY_COLUMNS}


def _init_worker(data: BacktestData) -> None:
    global _DATA
    _DATA = data


def _pool_task(args: tuple[dict[str, Any], float | None]) -> dict:
    assert _DATA is not None
    return run_config(_DATA, *args)


def run_sweep(
    data: BacktestData,
    configs: list[AppConfig],
    nav0: float | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[dict]:
    """Summary rows of ``configs`` in order: in this process (``workers=1``), a local process
    pool (default: one worker per CPU), or the Dask cluster at ``scheduler``."""
    dumped = [c.model_dump() for c in configs]
    if scheduler is not None:
        return _on_dask(data, dumped, nav0, scheduler, progress)
    n = workers or os.cpu_count() or 1
    if n == 1 or len(dumped) == 1:
        return list(_tick((run_config(data, c, nav0) for c in dumped), len(dumped), progress))
    with ProcessPoolExecutor(max_workers=n, initializer=_init_worker, initargs=(data,)) as pool:
        chunk = max(1, min(16, len(dumped) // (4 * n)))
        rows = pool.map(_pool_task, [(c, nav0) for c in dumped], chunksize=chunk)
        return list(_tick(rows, len(dumped), progress))


def _tick(rows: Iterable[dict], n: int, progress) -> Iterable[dict]:
    for i, row in enumerate(rows, 1):
        if progress is not None:
            progress(i / n)
        yield row


def _on_dask(data, dumped, nav0, scheduler: str, progress) -> list[dict]:
    from distributed import Client, as_completed

    with Client(scheduler, timeout=30) as client:
        shared = client.scatter(data, broadcast=True)  # once per worker, not per task
        futures = client.map(run_config, [shared] * len(dumped), dumped, [nav0] * len(dumped))
        rows: list[dict | None] = [None] * len(futures)
        index = {f.key: i for i, f in enumerate(futures)}
        for done, fut in enumerate(as_completed(futures), 1):
            rows[index[fut.key]] = fut.result()
            if progress is not None:
                progress(done / len(futures))
        return rows  # type: ignore[return-value]


def objective_value(row: dict, objective: str, max_dd: float | None = None) -> float:
    """Higher is better; ``-inf`` for a row that breaks the drawdown limit or has no value."""
    if max_dd is not None and not float(row["max_dd"]) <= max_dd:
        return -math.inf
    if objective == "roi_per_fee":
        fees = float(row["fees_usdt"])
        v = float(row["roi"]) / fees * float(row["nav_start"]) if fees > 0 else math.nan
    else:
        v = float(row[objective])
    return v if math.isfinite(v) else -math.inf


def best(rows: list[dict], objective: str, max_dd: float | None = None, top: int = 1) -> list[int]:
    """Indices of the ``top`` rows by the objective (ties: the earlier row)."""
    order = sorted(
        range(len(rows)), key=lambda i: (-objective_value(rows[i], objective, max_dd), i)
    )
    return order[:top]
