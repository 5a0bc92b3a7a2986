"""Services around the agent shared by live and paper: monitors and the daily reports."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from pathlib import Path

from ..config import AppConfig
from ..policy.policy_layer import get_secret
from .agent import Agent
from .control import LiveControl
from .heap import release_free_memory

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


class DailyTasks:
    """At each completed UTC day: the digest (file + Telegram) at once, then the KPI audit off
    the trading path: in a worker thread of its own with its own connection to the state
    database, so its backtests (``audit_evidence``) never hold up a close. Audits run one at a
    time, in day order; ``drain()`` waits for those still running (the end of a run).

    ``log_rows``: how the audit's log row is written (default: appended to Log.xlsx at once; a
    replay passes ``audit_log.DeferredLog``); ``evidence``: back a proposal with backtests (a
    replay of years skips them: 45 backtests for each day a KPI misses)."""

    def __init__(self, cfg: AppConfig, agent: Agent, monitors, log_rows=None, evidence=True):
        from concurrent.futures import ThreadPoolExecutor

        from ..reports.audit_log import append_log_row

        self.cfg, self.agent, self.monitors = cfg, agent, monitors
        self.write_log = log_rows or append_log_row
        self.evidence = evidence
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        self._pending: set[asyncio.Future] = set()

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
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._pool, self._audit, day, digest)
        self._pending.add(fut)
        fut.add_done_callback(self._done)

    def _audit(self, day: date, digest):
        from ..reports.audit import run_audit
        from ..state.store import StateStore

        store = StateStore(self.agent.store.path, create=False)  # this thread's connection
        try:
            return run_audit(
                store,
                self.cfg,
                day,
                Path(self.cfg.reports.audit_dir),
                digest,
                log_rows=self.write_log,
                with_evidence=self.evidence,
            )
        finally:
            store.close()
            release_free_memory()  # what the day's reports read must not stay resident (heap.py)

    def _done(self, fut: asyncio.Future) -> None:
        self._pending.discard(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:  # reports must never stop trading
            log.error("daily audit failed: %r", exc)
            return
        result = fut.result()
        if result.flagged:
            self.agent.alert("audit", f"audit {result.day}: {', '.join(result.flagged)} off target")

    async def drain(self) -> None:
        """Wait for the audits still running, then release the worker thread."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        self._pool.shutdown(wait=True)


def daily_tasks(cfg: AppConfig, agent: Agent, monitors, log_rows=None, evidence=True):
    """The agent's ``on_new_day``: a ``DailyTasks``."""
    return DailyTasks(cfg, agent, monitors, log_rows, evidence)
