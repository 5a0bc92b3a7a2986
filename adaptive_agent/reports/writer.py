"""Backtest report files (docs/rules.md, "Backtest reports") and the summary table printed at
the end of a run.

Files are written to a temporary folder beside the target and moved into place only when all
of them exist, so a failed run never leaves a half-written report behind.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from ..backtest.rebalance_backtester import SUMMARY_COLUMNS, BacktestResult

TRADE_COLUMNS = (
    "time",
    "rebalance_id",
    "leg",
    "order_type",
    "side",
    "size",
    "price",
    "notional",
    "liquidity",
    "fee",
)
HELD_COLUMNS = (
    "time",
    "rebalance_id",
    "leg",
    "order_type",
    "side",
    "size",
    "notional",
    "signal",
    "gate",
    "reason",
)
REPORT_FILES = (
    "summary.csv",
    "trades.csv",
    "blocked_trades_log.csv",
    "skipped_orders.csv",
    "equity.html",
)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _num(v: object) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def summary_row(result: BacktestResult) -> list[str]:
    s = result.summary
    return [
        iso(int(s[c])) if c in ("start", "end") else _num(s[c])  # type: ignore[arg-type]
        for c in SUMMARY_COLUMNS
    ]


def _write_csv(path: Path, header: tuple[str, ...], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_reports(result: BacktestResult, out: Path, html: bool = True, title: str = "") -> Path:
    """Write every report file into ``out`` (created if needed); returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        _write_csv(tmp / "summary.csv", SUMMARY_COLUMNS, [summary_row(result)])
        _write_csv(
            tmp / "trades.csv",
            TRADE_COLUMNS,
            (
                (
                    iso(f.time_ms),
                    f.rebalance_id,
                    f.leg.value,
                    f.order_type,
                    f.side,
                    repr(round(f.size_btc, 10)),
                    repr(f.price),
                    repr(f.notional),
                    f.liquidity,
                    repr(f.fee),
                )
                for f in result.fills
            ),
        )
        for name, gates in (
            ("blocked_trades_log.csv", ("signal", "safe_mode")),
            ("skipped_orders.csv", ("minimum",)),
        ):
            _write_csv(
                tmp / name,
                HELD_COLUMNS,
                (
                    (
                        iso(r.plan.time_ms),
                        r.rebalance_id,
                        h.order.leg.value,
                        h.order.order_type.value,
                        h.order.side.value,
                        repr(round(h.order.size_btc, 10)),
                        repr(h.order.notional),
                        r.plan.signal.value,
                        h.gate,
                        h.reason,
                    )
                    for r in result.rebalances
                    for h in (*r.plan.blocked, *r.plan.skipped)
                    if h.gate in gates
                ),
            )
        if html:
            from .equity_html import write_equity_html

            write_equity_html(result, tmp / "equity.html", title=title)
        for p in tmp.iterdir():
            os.replace(p, out / p.name)
        if not html and (out / "equity.html").exists():
            (out / "equity.html").unlink()  # never leave an equity page from an older run
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return out


def format_summary(result: BacktestResult) -> str:
    s = result.summary

    def pct(k: str) -> str:
        v = float(s[k])  # type: ignore[arg-type]
        return "n/a" if math.isnan(v) else f"{v * 100:.4f} %"

    sharpe = float(s["sharpe"])  # type: ignore[arg-type]
    rows = [
        ("period", f"{iso(int(s['start']))} -> {iso(int(s['end']))}"),  # type: ignore[arg-type]
        ("days", f"{float(s['days']):.2f}"),  # type: ignore[arg-type]
        ("bars (missing)", f"{s['bars']:,} ({s['missing_bars']:,})"),
        ("NAV start -> end", f"{float(s['nav_start']):,.2f} -> {float(s['nav_end']):,.2f} USDT"),  # type: ignore[arg-type]
        ("ROI", pct("roi")),
        ("Sharpe (daily, ann.)", "n/a" if math.isnan(sharpe) else f"{sharpe:.3f}"),
        ("max drawdown", pct("max_dd")),
        ("fees", f"{float(s['fees_usdt']):,.2f} USDT"),  # type: ignore[arg-type]
        ("fees / NAV / day", pct("fees_nav_per_day")),
        ("turnover (x mean NAV)", f"{float(s['turnover']):.3f}"),  # type: ignore[arg-type]
        ("funding PnL", f"{float(s['funding_pnl']):,.2f} USDT"),  # type: ignore[arg-type]
        ("rebalances", f"{s['rebalances']:,}"),
        ("orders (blocked)", f"{s['orders']:,} ({s['blocked_orders']:,})"),
        ("maker share", pct("maker_share")),
        ("|delta| / NAV mean, max", f"{pct('delta_frac_mean')}, {pct('delta_frac_max')}"),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 2 + max(len(v) for _, v in rows))
    body = "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
    return f"{line}\n{body}\n{line}"
