"""``adaptive-agent status --state F``: what an operator asks first, read from the state
database alone (no venue call): the book at the last close against the targets, safe mode and
why, the last rebalance and its outcome, orders still unsettled, the latest problems."""

from __future__ import annotations

import argparse

from ..core.time_rules import utc_text
from ..lifecycle import UNFINISHED

# Event kinds that report a problem (the agent's alerts and reconcile findings).
PROBLEM_EVENTS = frozenset(
    {
        "circuit_breaker",
        "reconcile_mismatch",
        "reconcile_failed",
        "orders_parked",
        "stale_feed",
        "watchdog",
        "webhook_rejected",
        "venue_state_unknown",
        "safe_mode_entered",
        "rebalance_incomplete",
    }
)


def status_text(store, targets: tuple[float, float, float], now_ms: int | None = None) -> str:
    lines: list[str] = []
    last = store.get_meta("last_bar_ms")
    bar = None
    if last is not None:
        bars = store.bars(int(last) - 1, int(last) + 1)
        bar = bars[-1] if bars else None
    age = (
        "" if last is None or now_ms is None else f" ({(now_ms - int(last)) / 60_000:.0f} min ago)"
    )
    lines.append(f"last close     {utc_text(None if last is None else int(last))}{age}")
    if bar is not None:
        lines.append(f"NAV            {bar.nav:,.2f} USDT   P_ref {bar.price_ref:,.2f}")
        for name, w, t in zip(
            ("BTC_SPOT", "BTC_PERP_LONG", "BTC_PERP_SHORT"),
            (bar.w_spot, bar.w_long, bar.w_short),
            targets,
            strict=True,
        ):
            lines.append(f"  {name:<14} weight {w:7.2%}  target {t:7.2%}  off {w - t:+.2%}")
        lines.append(f"delta          {bar.delta_usdt:+,.2f} USDT ({bar.delta_frac:+.2%} of NAV)")
        lines.append(f"margin         {bar.margin_frac:.2%} of NAV   basis {bar.basis:+.4%}")
    manual = store.manual_safe_mode
    if bar is not None and bar.safe_mode:
        why = "; ".join(bar.safe_mode_reasons) or "no reason recorded"
        codes = ",".join(bar.safe_mode_codes)
        lines.append(f"safe mode      ON [{codes}]: {why}")
    else:
        lines.append(
            "safe mode      off" + (" (kill switch set: on at the next close)" if manual else "")
        )
    lines.append(f"kill switch    {'on' if manual else 'off'}")
    reb = store.last_rebalance()
    if reb is None:
        lines.append("last rebalance none")
    else:
        rid, decided, state, finished = reb
        done = "" if finished is None else f", finished {utc_text(finished, seconds=True)}"
        lines.append(f"last rebalance {rid} at {utc_text(decided)}: {state}{done}")
    unsettled = store.orders(statuses=UNFINISHED)
    lines.append(f"open orders    {len(unsettled)}")
    for o in unsettled[:10]:
        lines.append(f"  {o.client_id} {o.market} {o.order_type} {o.amount:g} {o.status}")
    problems = [e for e in store.events() if e[1] in PROBLEM_EVENTS][-5:]
    lines.append(f"last problems  {len(problems) or 'none'}")
    for t, kind, detail in problems:
        lines.append(f"  {utc_text(t)} {kind}: {detail}")
    return "\n".join(lines)


def cmd_status(args: argparse.Namespace) -> int:
    import time

    from ..config import load_config
    from .commands_ops import _open_state
    from .exit_codes import EXIT_OK

    t = load_config(args.config).strategy.targets
    store = _open_state(args.state)
    try:
        print(
            status_text(
                store, (t.BTC_SPOT, t.BTC_PERP_LONG, t.BTC_PERP_SHORT), int(time.time() * 1000)
            )
        )
    finally:
        store.close()
    return EXIT_OK
