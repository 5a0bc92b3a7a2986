"""Services around the agent shared by live and paper: monitors and the daily reports."""

from __future__ import annotations

from pathlib import Path

from ..config import AppConfig
from ..policy.policy_layer import get_secret
from .agent import Agent
from .control import LiveControl
from .heap import release_free_memory


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


def daily_tasks(cfg: AppConfig, agent: Agent, monitors):
    """At each completed UTC day: the digest (file + Telegram) and the KPI audit."""
    from datetime import date, timedelta

    from ..reports.audit import run_audit
    from ..reports.digest import build_digest, format_digest, write_digest

    async def run(day_index: int) -> None:
        day = date(1970, 1, 1) + timedelta(days=day_index)
        digest = build_digest(
            agent.store, day, cfg.backtest.nav0, funding_hours_utc=cfg.backtest.funding_hours_utc
        )
        write_digest(digest, Path(cfg.reports.daily_dir))
        for kind, mon in monitors:
            if kind == "telegram":
                mon.send_text(format_digest(digest))
        result = run_audit(agent.store, cfg, day, Path(cfg.reports.audit_dir))
        if result.flagged:
            agent.alert("audit", f"audit {day}: {', '.join(result.flagged)} off target")
        release_free_memory()  # what the day's reports read must not stay resident (heap.py)

    return run
