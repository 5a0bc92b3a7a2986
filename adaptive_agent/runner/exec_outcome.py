"""What the agent says about an execution that did not reach its targets (docs/rules.md,
Execution: rejected legs).

A leg the venue refused (balance, margin, reduce-only, rate limit) or that fell short is never
silent: a WARNING line per leg, one alert, and for an ``INCOMPLETE`` rebalance how far the book
is from neutral after the fills that did happen and what the agent does next. The next step is
what the loop really does: the engine state records this rebalance as the last one, so the
trigger is armed again once the minimum interval has passed; at that close, if the drift still
exceeds the threshold, a new rebalance (new client ids) sends the missing legs again.
"""

from __future__ import annotations

import logging

from ..core.model import Book, Params, Plan
from ..core.time_rules import utc_text
from ..execution.executor import ExecutionReport
from ..execution.leg_outcome import LegResult, book_after, delta_frac
from ..lifecycle import RebalanceStatus

log = logging.getLogger("adaptive_agent.agent")


def fills_of(report: ExecutionReport) -> list[tuple[str, float]]:
    return [(leg.order_type, leg.filled) for leg in report.legs if leg.filled > 0]


def incomplete_text(
    plan: Plan, report: ExecutionReport, book: Book, price: float, params: Params
) -> str:
    """One paragraph: which legs ended how, the delta left, and the next step."""
    legs = "; ".join(
        f"{leg.leg} {leg.order_type} {leg.result}"
        + (f" ({leg.rejection})" if leg.rejection else "")
        + f", filled {leg.filled:g} of {leg.requested:g}"
        for leg in report.legs
        if leg.result is not LegResult.FILLED
    )
    after = book_after(book, fills_of(report), params)
    frac = delta_frac(after, price, plan.nav, params)
    next_ms = plan.time_ms + params.min_interval_ms
    return (
        f"rebalance {report.rebalance_id} incomplete: {legs}. The book is now"
        f" {abs(frac):.2%} of NAV from neutral (delta {frac:+.2%}). Next: no retry in this"
        f" rebalance; from the close at {utc_text(next_ms)} (minimum interval) the trigger"
        " retries the missing legs while the drift exceeds the threshold"
    )


def report_outcome(agent, plan: Plan, report: ExecutionReport, book: Book, price: float) -> bool:
    """Log and alert about the legs that did not fill; True if the rebalance is incomplete
    (the caller counts it toward the error streak)."""
    for leg in report.legs:
        if leg.result is not LegResult.FILLED:
            log.warning(
                "rebalance %s: %s %s %s%s; notes: %s",
                report.rebalance_id,
                leg.leg,
                leg.order_type,
                leg.result,
                f" ({leg.rejection})" if leg.rejection else "",
                "; ".join(leg.notes) or "-",
            )
    if report.status is not RebalanceStatus.INCOMPLETE:
        return False
    text = incomplete_text(plan, report, book, price, agent.params)
    log.warning("%s", text)
    agent.alert("rebalance_incomplete", text)
    return True
