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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .. import metrics
from ..backtest.run_summary import SUMMARY_COLUMNS, BacktestResult, FillColumns, held_orders
from ..core.model import HoldGate
from ..core.time_rules import BAR_MS, iso_text, iso_texts, utc_seconds
from .fixed_csv import fixed_rows

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
    "monthly_returns.csv",
    "equity.csv",
    "equity.html",
)
EQUITY_COLUMNS = (
    "time",
    "nav",
    "drawdown",
    "w_spot",
    "w_long",
    "w_short",
    "delta_frac",
    "funding_cum",
    "fees_cum",
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _num(v: object) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def summary_row(result: BacktestResult) -> list[str]:
    s = result.summary
    return [
        iso_text(int(s[c])) if c in ("start", "end") else _num(s[c])  # type: ignore[arg-type]
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
    # equity.csv is numpy's work, which lets go of the interpreter: written beside the others.
    pool = ThreadPoolExecutor(1, thread_name_prefix="equity-csv")
    try:
        equity = pool.submit(write_equity_csv, result, tmp / "equity.csv")
        _write_csv(tmp / "summary.csv", SUMMARY_COLUMNS, [summary_row(result)])
        fills = result.fills
        _write_csv(
            tmp / "trades.csv",
            TRADE_COLUMNS,
            (
                (
                    time,
                    f.rebalance_id,
                    f.leg,  # a StrEnum: csv writes its value
                    f.order_type,
                    f.side,
                    repr(round(f.size_btc, 10)),
                    repr(f.price),
                    repr(f.notional),
                    f.liquidity,
                    repr(f.fee),
                )
                for time, f in zip(iso_texts(FillColumns.of(fills).time_ms), fills, strict=True)
            ),
        )
        for name, gates in (
            ("blocked_trades_log.csv", frozenset((HoldGate.SIGNAL, HoldGate.SAFE_MODE))),
            ("skipped_orders.csv", frozenset((HoldGate.MINIMUM,))),
        ):
            held = list(held_orders(result.rebalances, gates))
            times = iso_texts([time_ms for _, time_ms, _, _ in held])
            _write_csv(
                tmp / name,
                HELD_COLUMNS,
                (
                    (
                        time,
                        rid,
                        h.order.leg,  # StrEnums: csv writes their values
                        h.order.order_type,
                        h.order.side,
                        repr(round(h.order.size_btc, 10)),
                        repr(h.order.notional),
                        signal,
                        h.gate,
                        h.reason,
                    )
                    for time, (rid, _, signal, h) in zip(times, held, strict=True)
                ),
            )
        write_monthly_returns(result, tmp / "monthly_returns.csv")
        equity.result()
        if html:
            from .equity_html import write_equity_html

            write_equity_html(
                result, tmp / "equity.html", title=title, sections=report_sections(result)
            )
        for p in tmp.iterdir():
            os.replace(p, out / p.name)
        if not html and (out / "equity.html").exists():
            (out / "equity.html").unlink()  # never leave an equity page from an older run
    finally:
        pool.shutdown()  # (a failed file above: the equity writer finishes before cleaning up)
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return out


def monthly_table(result: BacktestResult) -> list[tuple[int, list[float | None], float]]:
    """Rows of (year, the 12 monthly returns (None: no bar that month), the year's return)."""
    nav0 = float(result.summary["nav_start"])  # type: ignore[arg-type]
    months = metrics.monthly_returns(result.ts_ms + BAR_MS, result.nav, nav0)
    years: dict[int, list[float | None]] = {}
    for y, m, r in months:
        years.setdefault(y, [None] * 12)[m - 1] = r
    return [
        (y, row, math.prod(1.0 + r for r in row if r is not None) - 1.0)
        for y, row in sorted(years.items())
    ]


def report_sections(result: BacktestResult) -> list[tuple[str, str]]:
    """The tables below the equity page's charts: monthly returns and the PnL attribution."""
    import html as _html

    def pct(v: float | None) -> str:
        if v is None or not math.isfinite(v):
            return ""
        v = 0.0 if round(v, 4) == 0 else v  # never "-0.00 %"
        return f"{v * 100:,.2f} %"

    head = "".join(f"<th>{m.title()}</th>" for m in MONTHS)
    rows = "".join(
        f"<tr><th>{y}</th>{''.join(f'<td>{pct(r)}</td>' for r in row)}<td><b>{pct(t)}</b></td></tr>"
        for y, row, t in monthly_table(result)
    )
    monthly = f"<table><tr><th></th>{head}<th>Year</th></tr>{rows}</table>"
    s = result.summary
    parts = [
        ("NAV end - start", "pnl_total"),
        ("price + basis, spot", "pnl_price_spot"),
        ("price + basis, perp long", "pnl_price_long"),
        ("price + basis, perp short", "pnl_price_short"),
        ("slippage vs decision price", "pnl_slippage"),
        ("funding", "pnl_funding"),
        ("fees", "pnl_fees"),
        ("  spot maker", "fees_spot_maker"),
        ("  spot taker", "fees_spot_taker"),
        ("  perp maker", "fees_perp_maker"),
        ("  perp taker", "fees_perp_taker"),
        ("unexplained (float error)", "pnl_unexplained"),
    ]

    def usdt(k: str) -> str:
        v = float(s.get(k, math.nan))  # type: ignore[arg-type]
        if not math.isfinite(v):
            return "n/a"
        return f"{0.0 if round(v, 2) == 0 else v:,.2f}"

    attribution = (
        "<table>"
        + "".join(
            f"<tr><th style=text-align:left>{_html.escape(label)}</th><td>{usdt(k)} USDT</td></tr>"
            for label, k in parts
        )
        + "</table>"
    )
    bench = (
        f"<p>Benchmarks over the same period: USDT held {pct(float(s.get('bench_usdt_roi', 0)))};"  # type: ignore[arg-type]
        f" BTC bought at the start and held {pct(float(s.get('bench_btc_roi', math.nan)))}"  # type: ignore[arg-type]
        f" (max drawdown {pct(float(s.get('bench_btc_max_dd', math.nan)))}).</p>"  # type: ignore[arg-type]
    )
    return [("Monthly returns", monthly), ("Where the money came from", attribution + bench)]


def write_monthly_returns(result: BacktestResult, path: Path) -> None:
    """``monthly_returns.csv``: one row a year, a column a month and the year (fractions)."""
    _write_csv(
        path,
        ("year", *MONTHS, "year_return"),
        (
            (y, *("" if r is None else repr(r) for r in row), repr(total))
            for y, row, total in monthly_table(result)
        ),
    )


def equity_curves(result: BacktestResult) -> dict[str, np.ndarray]:
    """The per-close curves of ``equity.csv`` (and of the equity page)."""
    nav0 = float(result.summary["nav_start"])  # type: ignore[arg-type]
    close = result.ts_ms + BAR_MS
    fees = np.zeros(len(close))
    if result.fills:  # a fill's time is the open of the bar it filled in: in that bar's close
        at = np.searchsorted(result.ts_ms, [f.time_ms for f in result.fills], side="right") - 1
        np.add.at(fees, np.clip(at, 0, None), [f.fee for f in result.fills])
    funding = result.funding_cum if result.funding_cum is not None else np.full(len(close), np.nan)
    return {
        "close_ms": close,
        "nav": result.nav,
        "drawdown": metrics.drawdowns(result.nav, nav0),
        "w_spot": result.w_spot,
        "w_long": result.w_long,
        "w_short": result.w_short,
        "delta_frac": result.delta_frac,
        "funding_cum": funding,
        "fees_cum": np.cumsum(fees),
    }


EQUITY_DECIMALS = (2, 8, 8, 8, 8, 8, 4, 4)  # NAV to the cent, shares to 1e-8, USDT to 1e-4
EQUITY_FORMAT = "{}Z," + ",".join(f"{{:.{d}f}}" for d in EQUITY_DECIMALS) + "\n"


def write_equity_csv(result: BacktestResult, path: Path) -> None:
    """``equity.csv``: the book at every bar close, each row ``EQUITY_FORMAT``'s text, built
    by numpy in chunks (``fixed_csv.fixed_rows``: the same bytes as ``str.format``; the times
    by ``time_rules.utc_seconds``: the same bytes as numpy's datetime64 text)."""
    c = equity_curves(result)
    with path.open("wb") as fh:
        fh.write((",".join(EQUITY_COLUMNS) + "\n").encode())
        for lo in range(0, len(c["close_ms"]), 20_000):  # in chunks: memory stays small
            hi = lo + 20_000
            ms = c["close_ms"][lo:hi]
            times = utc_seconds(ms)
            columns = [np.asarray(c[k][lo:hi], dtype=np.float64) for k in EQUITY_COLUMNS[1:]]
            fh.write(fixed_rows(times, columns, EQUITY_DECIMALS, EQUITY_FORMAT))


def num(v: object, decimals: int) -> str:
    x = float(v)  # type: ignore[arg-type]
    return "n/a" if not math.isfinite(x) else f"{x:,.{decimals}f}"


def format_summary(result: BacktestResult) -> str:
    s = result.summary

    def pct(k: str) -> str:
        v = float(s[k])  # type: ignore[arg-type]
        return "n/a" if math.isnan(v) else f"{v * 100:.4f} %"

    def usdt(k: str, sign: int = 1) -> str:
        """Signed USDT with thousands separators (fees as plain amounts with sign=0)."""
        v = float(s[k])  # type: ignore[arg-type]
        if math.isnan(v):
            return "n/a"
        v = 0.0 if round(v, 2) == 0 else v  # never "-0.00"
        return f"{v:+,.2f} USDT" if sign else f"{v:,.2f}"

    sharpe = float(s["sharpe"])  # type: ignore[arg-type]
    rows = [
        ("period", f"{iso_text(int(s['start']))} -> {iso_text(int(s['end']))}"),  # type: ignore[arg-type]
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
        ("rebalances (with a fill)", f"{s['rebalances']:,} ({s['rebalances_filled']:,})"),
        ("orders (blocked)", f"{s['orders']:,} ({s['blocked_orders']:,})"),
        ("maker share", pct("maker_share")),
        ("|delta| / NAV mean, max", f"{pct('delta_frac_mean')}, {pct('delta_frac_max')}"),
        ("CAGR", pct("cagr")),
        ("Sortino, Calmar", f"{num(s['sortino'], 3)}, {num(s['calmar'], 3)}"),
        ("longest drawdown", f"{num(s['longest_dd_days'], 1)} days"),
        ("benchmark: USDT held", pct("bench_usdt_roi")),
        ("benchmark: BTC held", f"{pct('bench_btc_roi')} (max drawdown {pct('bench_btc_max_dd')})"),
        ("PnL (NAV end - start)", usdt("pnl_total")),
        ("  price+basis spot", usdt("pnl_price_spot")),
        ("  price+basis perp long", usdt("pnl_price_long")),
        ("  price+basis perp short", usdt("pnl_price_short")),
        ("  slippage vs decision", usdt("pnl_slippage")),
        ("  funding", usdt("pnl_funding")),
        ("  fees", usdt("pnl_fees")),
        (
            "  fees spot maker/taker",
            f"{usdt('fees_spot_maker', 0)} / {usdt('fees_spot_taker', 0)}",
        ),
        (
            "  fees perp maker/taker",
            f"{usdt('fees_perp_maker', 0)} / {usdt('fees_perp_taker', 0)}",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 2 + max(len(v) for _, v in rows))
    body = "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
    return f"{line}\n{body}\n{line}"
