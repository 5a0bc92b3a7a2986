"""The daily audit's worker process (``services.DailyTasks``): what runs there, and nothing
else. The forkserver preloads this module, so the worker holds only the audit's modules (the
reports, the state store), not the agent's exchange clients and monitors; and those the audit
would import on its first run, so that a fresh worker starts warm."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, replace
from datetime import date
from logging.handlers import QueueHandler
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..reports import day_attribution as _day_attribution  # noqa: F401  (the audit's lazy
from ..reports.audit import run_audit
from ..reports.audit_log import DeferredLog, append_log_row
from ..research import calibrate as _calibrate  # noqa: F401  imports: in the forkserver)
from ..state.store import StateStore
from .heap import release_free_memory


@dataclass(frozen=True, slots=True)
class AuditJob:
    """One day's audit as handed to the worker process (picklable)."""

    store_path: str
    cfg: AppConfig
    day: date
    digest: Any
    evidence: bool
    deferred: bool


def worker_init(queue) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the agent's to handle
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(QueueHandler(queue))  # to the agent's process, which writes them
    root.setLevel(logging.DEBUG)  # the agent's loggers decide (``_AsOwnRecord``)


def audit_job(job: AuditJob) -> tuple[Any, list, bool]:
    """Run in the worker process: the day's audit on a connection of its own; with a deferred
    log, the log rows are returned instead of written. Returns (result, log rows, whether the
    evidence's backtests ran). The result goes back without its evidence object: unpickling
    one would import ``audit_evidence`` — the backtester and numba (~60 MB) — into the agent,
    which only needs the day's flags (the evidence is in the proposal file and the log row)."""
    rows = DeferredLog() if job.deferred else None
    store = StateStore(job.store_path, create=False)
    try:
        result = run_audit(
            store,
            job.cfg,
            job.day,
            Path(job.cfg.reports.audit_dir),
            job.digest,
            log_rows=rows if rows is not None else append_log_row,
            with_evidence=job.evidence,
        )
        backtested = result.evidence is not None
        return replace(result, evidence=None), (rows.rows if rows is not None else []), backtested
    finally:
        store.close()
        release_free_memory()  # what the day's reports read must not stay resident (heap.py)
