"""Services around the agent shared by live and paper: monitors and the daily reports."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date, timedelta
from logging.handlers import QueueListener
from pathlib import Path

from ..config import AppConfig
from ..policy.policy_layer import get_secret
from ..reports.audit_log import DeferredLog
from . import audit_worker
from .agent import Agent
from .audit_worker import AuditJob, audit_job, worker_init
from .control import LiveControl

log = logging.getLogger("adaptive_agent.services")


def build_monitors(cfg: AppConfig, control: LiveControl | None = None) -> list[tuple[str, object]]:
    """InfluxDB when enabled, Telegram when a chat is configured (token from the env)."""
    out: list[tuple[str, object]] = []
    if cfg.monitoring.influx_enabled:
        from ..monitoring.influx import influx_sink_from_config

        out.append(
            (
                "influx",
                influx_sink_from_config(
                    cfg.monitoring, spool_dir=Path(cfg.monitoring.influx_spool_dir)
                ),
            )
        )
    if cfg.telegram.chat_id:
        from ..monitoring.telegram import TelegramMonitor

        t = cfg.telegram
        out.append(
            (
                "telegram",
                TelegramMonitor.from_config(
                    cfg,
                    get_secret("TELEGRAM_BOT_TOKEN"),
                    t.chat_id,
                    control,
                    base_url=t.base_url,
                    repeat_interval_s=t.repeat_interval_minutes * 60,
                    event_clear_s=t.event_clear_minutes * 60,
                    poll_commands=t.poll_commands,
                    max_command_age_s=t.max_command_age_s,
                    allowed_user_ids=t.allowed_user_ids,
                    offset_path=Path(t.offset_path),
                ),
            )
        )
    return out


RECYCLE_AFTER = 30  # audits a worker runs before it is let go, when idle


class DailyTasks:
    """At each completed UTC day: the digest (file + Telegram) at once, then the KPI audit off
    the trading path: in a worker *process* of its own (``audit_job``) with its own connection
    to the state database, so its reads and backtests (``audit_evidence``) never hold up a
    close; a thread would share the interpreter lock with the decisions and slow every close
    while it runs. Audits run one at a time, in day order; ``drain()`` waits for those still
    running (the end of a run). The worker is forked from a clean forkserver (never from the
    agent, whose SQLite connection and threads must not be copied) and ignores SIGINT: Ctrl-C
    stops the agent, which then drains the audits it has handed over. A worker that dies (the
    OOM killer, an operator's kill) is replaced by a new one, and the audit it had is retried
    once; after ``RECYCLE_AFTER`` audits an idle worker exits, so the next audit runs in a
    fresh fork (nothing audits touched adds up in a process that lives as long as the agent);
    a worker whose audit ran the evidence's backtests (numba and the compiled loop loaded) is
    let go once idle after that audit.
    The forkserver preloads ``audit_worker`` only (and, as multiprocessing does, imports the
    ``__main__`` script: the console script and ``python -m adaptive_agent`` guard their entry
    point).

    ``log_rows``: how the audit's log row is written (default: appended to Log.xlsx at once, by
    the worker; a replay passes ``audit_log.DeferredLog``, and the worker hands the rows back
    to it); ``evidence``: back a proposal with backtests (a replay of years skips them: 45
    backtests for each day a KPI misses)."""

    def __init__(self, cfg: AppConfig, agent: Agent, monitors, log_rows=None, evidence=True):
        self.cfg, self.agent, self.monitors = cfg, agent, monitors
        if log_rows is not None and not isinstance(log_rows, DeferredLog):
            raise TypeError("log_rows: None (Log.xlsx at once) or an audit_log.DeferredLog")
        self.deferred = log_rows
        self.evidence = evidence
        self._pool: ProcessPoolExecutor | None = None
        self._audits_in_worker = 0
        self.recycle_after = RECYCLE_AFTER
        self._logs: QueueListener | None = None
        self._pending: set[asyncio.Future] = set()

    def _worker(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([audit_worker.__name__])  # the worker's modules only
            if self._logs is None:  # the worker's log records, handled here as the agent's own
                queue = ctx.Queue()
                self._logs = QueueListener(queue, _AsOwnRecord())
                self._logs.start()
            self._pool = ProcessPoolExecutor(
                1, mp_context=ctx, initializer=worker_init, initargs=(self._logs.queue,)
            )
            self._audits_in_worker = 0
        return self._pool

    async def __call__(self, day_index: int) -> None:
        from ..reports.digest import build_digest, format_digest, write_digest

        cfg, agent = self.cfg, self.agent
        day = date(1970, 1, 1) + timedelta(days=day_index)
        digest = build_digest(
            agent.store, day, cfg.backtest.nav0, funding_hours_utc=cfg.backtest.funding_hours_utc
        )
        write_digest(digest, Path(cfg.reports.daily_dir))
        for kind, mon in self.monitors:
            if kind == "telegram":
                mon.send_text(format_digest(digest))
        deferred = self.deferred is not None
        self._submit(AuditJob(str(agent.store.path), cfg, day, digest, self.evidence, deferred))

    def _submit(self, job: AuditJob, attempt: int = 1) -> None:
        pool = self._worker()
        try:
            fut = asyncio.wrap_future(pool.submit(audit_job, job))
        except BrokenProcessPool:  # the worker died since the last audit: a new one
            self._discard_pool(pool)
            pool = self._worker()
            fut = asyncio.wrap_future(pool.submit(audit_job, job))
        self._pending.add(fut)
        fut.add_done_callback(lambda f: self._done(f, job, attempt, pool))

    def _discard_pool(self, pool: ProcessPoolExecutor) -> None:
        """Let go of ``pool`` if it is still the current one (several audits queued in a pool
        that broke each report it; the new pool made for the first retry must stay)."""
        if pool is self._pool:
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _done(self, fut: asyncio.Future, job: AuditJob, attempt: int, pool) -> None:
        self._pending.discard(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if isinstance(exc, BrokenProcessPool):  # killed (the OOM killer, an operator)
            self._discard_pool(pool)
            if attempt == 1:  # once more, in a new worker: a day's audit is not lost to it
                log.error("the audit worker died during the audit of %s; retrying it", job.day)
                self._submit(job, attempt + 1)
                return
        if exc is not None:  # reports must never stop trading
            log.error("daily audit failed: %r", exc)
            return
        result, rows, backtested = fut.result()
        if self.deferred is not None:  # the replay's log rows, written once at its end
            for row in rows:
                self.deferred(Path(self.cfg.reports.audit_dir), result.day, row)
        self._audits_in_worker += 1
        if backtested:
            # Its backtests loaded numba and the compiled loop (~100 MB resident): let the
            # worker go once idle rather than keep that between daily audits (a new one costs
            # ~1.5 s; a replay runs no evidence, so its worker still serves a month).
            self._audits_in_worker = max(self._audits_in_worker, self.recycle_after)
        if self._audits_in_worker >= self.recycle_after and not self._pending and self._pool:
            # idle after a month of audits: the next one gets a fresh fork of the forkserver,
            # so what audits touched never adds up in a process that lives for months (a new
            # worker each week cost a replay 10 % of its time: bench/paper_replay.py)
            self._pool.shutdown(wait=False)
            self._pool = None
        if result.flagged:
            self.agent.alert("audit", f"audit {result.day}: {', '.join(result.flagged)} off target")

    async def drain(self) -> None:
        """Wait for the audits still running, then stop the worker process."""
        while self._pending:  # (a retried audit joins the set while its first try ends)
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._logs is not None:
            self._logs.stop()  # after the worker's last record
            self._logs = None


class _AsOwnRecord(logging.Handler):
    """A worker's record goes through the agent's logger of that name: its level, its
    handlers, their format and the secret filter, as if the agent had logged it."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def daily_tasks(cfg: AppConfig, agent: Agent, monitors, log_rows=None, evidence=True):
    """The agent's ``on_new_day``: a ``DailyTasks``."""
    return DailyTasks(cfg, agent, monitors, log_rows, evidence)
