"""The daily audit (docs/rules.md, "Daily audit"): the day's KPIs against the configured targets.

The KPIs of one UTC day come from the state store (``audit_kpis``). A KPI whose deviation from
its target exceeds ``cfg.audit.max_deviation`` is flagged. When any is flagged the audit writes
``proposal-YYYY-MM-DD.md`` (which parameter to change, in which direction, and why:
``audit_proposals``, ``audit_markdown``; nothing is changed automatically) and appends one row
to ``Log.xlsx``, or to ``Log.csv`` when the workbook cannot be used safely (``audit_log``).
When nothing is flagged it writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..config import AppConfig
from .audit_kpis import KPIS, daily_returns, day_kpis, deviation, proposal_context, targets
from .audit_log import (
    LOG_COLUMNS,
    LogWriteError,
    append_csv_row,
    append_log_row,
    append_xlsx_row,
    log_row,
)
from .audit_markdown import proposal_markdown
from .audit_proposals import Proposal, propose
from .digest import Digest, atomic_write_text, build_digest, day_bounds

LogRows = Callable[[Path, date, list[Any]], tuple[Path | None, str | None]]

log = logging.getLogger("adaptive_agent.audit")


@dataclass(frozen=True, slots=True)
class AuditResult:
    day: date
    kpis: dict[str, float | None]
    targets: dict[str, float]
    deviations: dict[str, float | None]
    flagged: tuple[str, ...]
    proposals: tuple[Proposal, ...] = ()
    n_returns: int = 0
    proposal_path: Path | None = None
    log_path: Path | None = None  # Log.xlsx, or Log.csv when the workbook could not be used
    log_error: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    evidence: Any = None  # audit_evidence.Evidence behind the proposals, when computed

    @property
    def ok(self) -> bool:
        return not self.flagged


def run_audit(
    store: Any,
    cfg: AppConfig,
    day: date,
    out_dir: str | Path,
    digest: Digest | None = None,
    log_rows: LogRows = append_log_row,
    with_evidence: bool = True,
) -> AuditResult:
    """Audit one UTC ``day``; write a proposal and a log row when a KPI deviates too far.

    ``digest``: the day's, when the caller built it already; ``log_rows``: how the log row is
    written (``audit_log.DeferredLog`` in a replay); ``with_evidence``: back a KPI's proposal
    with a backtest of the settings around the current ones (``audit_evidence``)."""
    out = Path(out_dir)
    a = cfg.audit
    digest = digest if digest is not None else build_digest(store, day)
    day_figures = day_kpis(store, day, digest)
    kpis, n_returns = day_figures.values, len(day_figures.returns)
    goals = targets(cfg)
    devs = {k: deviation(k, kpis[k], goals[k]) for k in KPIS}
    flagged = tuple(k for k in KPIS if devs[k] is not None and devs[k] > a.max_deviation)
    notes = []
    if not day_figures.bars:
        notes.append("no bars recorded for this day")
    if kpis["sharpe"] is None:
        notes.append(f"Sharpe undefined ({n_returns} daily return(s))")
    if digest.fees_source == "fills":  # the venue's fees as charged (reports/ledger_day.py)
        notes.append(f"fees/NAV from {digest.venue_fills} venue fill(s) as charged")
    if digest.funding_paid_usdt is not None:
        notes.append(f"funding as paid: {digest.funding_paid_usdt:+.2f} USDT")
    drift = _fill_model_drift(store, cfg, day)
    if drift:
        notes.append("fill model drift: " + "; ".join(p.reason for p in drift))
        flagged = (*flagged, "fill_model")
    result = AuditResult(day, kpis, goals, devs, flagged, n_returns=n_returns, notes=tuple(notes))
    if not flagged:
        log.info(
            "audit %s: within targets (sharpe=%s max_dd=%s fees_nav=%s)%s",
            day,
            kpis["sharpe"],
            kpis["max_dd"],
            kpis["fees_nav"],
            "".join(f"; {n}" for n in notes),
        )
        return result

    ctx = proposal_context(store, day, digest, n_returns)
    proposals = (*propose(cfg, kpis, devs, flagged, ctx), *drift)
    result = AuditResult(day, kpis, goals, devs, flagged, proposals, n_returns, notes=tuple(notes))
    out.mkdir(parents=True, exist_ok=True)
    proposal_path = out / f"proposal-{day.isoformat()}.md"
    ev = None
    if with_evidence and set(flagged) & set(KPIS):  # a KPI missed: test settings around
        from .audit_evidence import evidence, evidence_markdown

        ev = evidence(store, cfg, day_bounds(day)[1])
        text = proposal_markdown(result, cfg) + evidence_markdown(ev)
    else:
        text = proposal_markdown(result, cfg)
    atomic_write_text(proposal_path, text)
    summary = "; ".join(p.summary() for p in proposals)
    if ev is not None:
        summary += f"; {ev.summary()}"
    log_path, error = log_rows(out, day, log_row(result, summary))
    log.warning(
        "audit %s: %s deviate(s) more than %.0f%%: %s (see %s)",
        day,
        ", ".join(flagged),
        a.max_deviation * 100,
        summary,
        proposal_path,
    )
    return AuditResult(
        day,
        kpis,
        goals,
        devs,
        flagged,
        proposals,
        n_returns,
        proposal_path,
        log_path,
        error,
        tuple(notes),
        ev,
    )


def _fill_model_drift(store: Any, cfg: AppConfig, day: date) -> list[Proposal]:
    """Proposals to set the backtest's fill model to what the fills of the trailing
    ``audit.window_days`` show, where they contradict it beyond the margins."""
    from ..core.time_rules import DAY_MS
    from ..research.calibrate import calibrate, model_drift

    if not hasattr(store, "orders"):
        return []
    _, end = day_bounds(day)
    c = calibrate(store, cfg, end - cfg.audit.window_days * DAY_MS, end)
    texts = model_drift(c, cfg)
    out = []
    for text in texts:
        maker = text.startswith("maker")
        param = "backtest.maker_fill_ratio" if maker else "backtest.slippage"
        current = c.model_maker_share if maker else c.model_slippage
        seen = c.maker_share if maker else c.taker_slippage
        direction = "increase" if seen > current else "decrease"
        reason = f"{text} over {c.fills} fill(s) (adaptive-agent calibrate)"
        out.append(Proposal("fill_model", param, direction, current, seen, reason))
    return out


__all__ = [
    "LOG_COLUMNS",
    "AuditResult",
    "LogWriteError",
    "Proposal",
    "append_csv_row",
    "append_xlsx_row",
    "daily_returns",
    "deviation",
    "run_audit",
]
