"""The daily audit (SPEC 10, road-map section 8): the day's KPIs against the configured targets.

KPIs for one UTC day, from the state store. A day owns the bars that close in
``(D 00:00, D+1 00:00]`` (``digest.day_bounds``): its last bar is the 00:00 close that ends it.

- Sharpe: daily UTC returns from the last bar NAV of each day, over the 30 days ending with
  ``day`` (returns between consecutive days that have bars; at most 30), annualised as
  ``mean / std(ddof=1) x sqrt(365)``. ``None`` with fewer than 2 returns or zero spread.
- Max DD: of the day's bar NAVs (up to and including the 00:00 close that ends it) from their
  running peak.
- Fees/NAV: the day's fees over the day's mean bar NAV.

Deviation is relative and signed so that positive means worse: Sharpe
``(target - actual) / |target|``, Max DD and fees ``(actual - target) / target``. A KPI whose
deviation exceeds ``cfg.audit.max_deviation`` is flagged. When any is flagged the audit writes
``proposal-YYYY-MM-DD.md`` (which parameter to change, in which direction, and why; nothing is
changed automatically) and appends one row to ``Log.xlsx``. When nothing is flagged it writes
nothing.

``Log.xlsx`` is appended to safely: the workbook is loaded, the row added to its ``audit`` sheet,
saved to a temp file, re-read to check that every earlier row is still there, then moved into
place with ``os.replace``. A workbook that is locked (an Office ``~$Log.xlsx`` or LibreOffice
``.~lock.Log.xlsx#`` lock file, or a PermissionError), corrupt, or holding content openpyxl
would drop, is never written: the error is logged and returned, and the row is appended to
``Log.csv`` beside it instead.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from ..config import AppConfig
from .digest import DAY_MS, atomic_write_text, build_digest, day_bounds, utc_day

log = logging.getLogger("adaptive_agent.audit")

SHARPE_DAYS = 30
SHEET = "audit"
LOG_COLUMNS = (
    "date",
    "run_at_utc",
    "sharpe_30d",
    "max_dd",
    "fees_nav",
    "target_sharpe",
    "target_max_dd",
    "target_fees_nav",
    "dev_sharpe",
    "dev_max_dd",
    "dev_fees_nav",
    "flagged",
    "proposal",
)
KPIS = ("sharpe", "max_dd", "fees_nav")


class LogWriteError(Exception):
    """Log.xlsx could not be appended to safely (locked, corrupt, unsupported content)."""


@dataclass(frozen=True, slots=True)
class Proposal:
    kpi: str
    parameter: str
    direction: str  # increase | decrease | review
    current: Any
    suggested: Any
    reason: str

    def summary(self) -> str:
        if self.direction == "review":
            return f"review {self.parameter}"
        return f"{self.direction} {self.parameter} {_fmt(self.current)} -> {_fmt(self.suggested)}"


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

    @property
    def ok(self) -> bool:
        return not self.flagged


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3%}"


# --- KPIs ---------------------------------------------------------------------------------------


def daily_returns(store: Any, day: date, days: int = SHARPE_DAYS) -> list[float]:
    """Returns of the last-bar NAV between consecutive UTC days with bars, ending with ``day``
    (a day's last bar is normally the 00:00 close that ends it)."""
    start, end = day_bounds(day)
    closes: dict[date, float] = {}
    for b in store.bars(start - days * DAY_MS, end):
        closes[utc_day(b.time_ms)] = b.nav
    navs = [closes[d] for d in sorted(closes)]
    rets = [navs[i] / navs[i - 1] - 1.0 for i in range(1, len(navs)) if navs[i - 1] > 0]
    return rets[-days:]


def sharpe(returns: list[float]) -> float | None:
    n = len(returns)
    if n < 2:
        return None
    mean = math.fsum(returns) / n
    var = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    if not var > 0:
        return None
    return mean / math.sqrt(var) * math.sqrt(365.0)


def max_drawdown(navs: list[float]) -> float | None:
    if not navs:
        return None
    peak, dd = navs[0], 0.0
    for v in navs:
        peak = max(peak, v)
        if peak > 0:
            dd = max(dd, 1.0 - v / peak)
    return dd


def deviation(kpi: str, actual: float | None, target: float) -> float | None:
    """Relative deviation, positive when worse than the target."""
    if actual is None:
        return None
    if kpi == "sharpe":
        if target == 0:
            return 0.0 if actual >= 0 else math.inf
        return (target - actual) / abs(target)
    if target == 0:
        return 0.0 if actual <= 0 else math.inf
    return (actual - target) / target


# --- proposals ----------------------------------------------------------------------------------


def _step(ratio: float) -> float:
    """Change a parameter by the size of the miss, but at least 10% and at most 25% a day."""
    return min(max(ratio, 1.10), 1.25)


def _round(v: float) -> float:
    return float(f"{v:.4g}")


def _proposals(
    cfg: AppConfig,
    kpis: dict[str, float | None],
    devs: dict[str, float | None],
    flagged: tuple[str, ...],
    ctx: dict[str, Any],
) -> list[Proposal]:
    s, a = cfg.strategy, cfg.audit
    out: list[Proposal] = []
    if "fees_nav" in flagged:
        fees = kpis["fees_nav"] or 0.0
        ratio = fees / a.target_fees_nav_per_day if a.target_fees_nav_per_day > 0 else 2.0
        why = (
            f"fees were {fees:.4%} of NAV against a target of {a.target_fees_nav_per_day:.4%}"
            f" per day ({devs['fees_nav']:+.1%}); the day had {ctx['rebalances']} rebalance(s)"
            f" and turnover {ctx['turnover']:.3f}x NAV. A wider no-trade band means fewer,"
            " larger rebalances and less fee per day."
        )
        out.append(
            Proposal(
                "fees_nav",
                "strategy.threshold_floor",
                "increase",
                s.threshold_floor,
                _round(min(s.threshold_floor * _step(ratio), 0.99)),
                why,
            )
        )
        if ctx["rebalances"] >= 2:
            out.append(
                Proposal(
                    "fees_nav",
                    "strategy.min_rebalance_interval_minutes",
                    "increase",
                    s.min_rebalance_interval_minutes,
                    _round(min(max(s.min_rebalance_interval_minutes * 2, 60.0), 1440.0)),
                    f"{ctx['rebalances']} rebalances in one day; spacing them out cuts the"
                    " number of fee-paying trades.",
                )
            )
    if "max_dd" in flagged:
        dd = kpis["max_dd"] or 0.0
        ratio = dd / a.target_max_dd if a.target_max_dd > 0 else 2.0
        drift = ctx["max_abs_delta_frac"]
        if drift > s.threshold_floor:
            out.append(
                Proposal(
                    "max_dd",
                    "strategy.threshold_floor",
                    "decrease",
                    s.threshold_floor,
                    _round(s.threshold_floor / _step(ratio)),
                    f"max drawdown {dd:.2%} against {a.target_max_dd:.2%}; net delta drifted"
                    f" to {drift:.2%} of NAV, above the {s.threshold_floor:.2%} floor, so BTC"
                    " moves reached NAV. A tighter band keeps the book closer to neutral"
                    " (at the price of more rebalances).",
                )
            )
            if s.atr_multiplier > 0:
                out.append(
                    Proposal(
                        "max_dd",
                        "strategy.atr_multiplier",
                        "decrease",
                        s.atr_multiplier,
                        _round(s.atr_multiplier / _step(ratio)),
                        "the volatility term widens the band on volatile days, exactly when"
                        " delta drift costs most.",
                    )
                )
        else:
            t = s.targets
            k = 1.0 / _step(ratio)
            suggested = {
                "BTC_SPOT": _round(t.BTC_SPOT * k),
                "BTC_PERP_LONG": _round(t.BTC_PERP_LONG * k),
                "BTC_PERP_SHORT": _round(t.BTC_PERP_SHORT * k),
            }
            current = {
                "BTC_SPOT": t.BTC_SPOT,
                "BTC_PERP_LONG": t.BTC_PERP_LONG,
                "BTC_PERP_SHORT": t.BTC_PERP_SHORT,
            }
            out.append(
                Proposal(
                    "max_dd",
                    "strategy.targets",
                    "decrease",
                    current,
                    suggested,
                    f"max drawdown {dd:.2%} against {a.target_max_dd:.2%} while net delta"
                    f" stayed within {drift:.2%} of NAV: the loss came from the legs"
                    " themselves (basis, funding). Scaling every target down by the same factor"
                    " keeps the book neutral and lowers gross exposure.",
                )
            )
        if ctx["max_margin_frac"] > 0.8 * cfg.safe_mode.max_margin_frac:
            out.append(
                Proposal(
                    "max_dd",
                    "strategy.leverage",
                    "decrease",
                    s.leverage,
                    _round(max(s.leverage / _step(ratio), 1.0)),
                    f"used margin reached {ctx['max_margin_frac']:.1%} of NAV; less leverage"
                    " leaves more collateral against a squeeze on the perpetual leg (check that"
                    " BTC_SPOT + (long + short) / leverage stays <= 1).",
                )
            )
    if "sharpe" in flagged:
        sh = kpis["sharpe"]
        fees30 = ctx["fees_nav_30d"]
        funding30 = ctx["mean_funding_30d"]
        why = f"30-day Sharpe {sh:.2f} against a target of {a.target_sharpe:.2f}"
        if fees30 is not None and fees30 > a.target_fees_nav_per_day:
            if not any(p.parameter == "strategy.threshold_floor" for p in out):
                out.append(
                    Proposal(
                        "sharpe",
                        "strategy.threshold_floor",
                        "increase",
                        s.threshold_floor,
                        _round(s.threshold_floor * 1.10),
                        f"{why}; fees averaged {fees30:.4%} of NAV per day over the window,"
                        f" above the {a.target_fees_nav_per_day:.4%} target: costs eat the"
                        " return.",
                    )
                )
        elif funding30 is not None and funding30 < 0:
            t = s.targets
            out.append(
                Proposal(
                    "sharpe",
                    "strategy.targets",
                    "decrease",
                    {"BTC_SPOT": t.BTC_SPOT, "BTC_PERP_SHORT": t.BTC_PERP_SHORT},
                    {
                        "BTC_SPOT": _round(t.BTC_SPOT * 0.9),
                        "BTC_PERP_SHORT": _round(t.BTC_PERP_SHORT * 0.9),
                    },
                    f"{why}; funding averaged {funding30 * 1e4:+.2f} bps per 8 h, so the short"
                    " perpetual leg pays funding. Less spot/short exposure (same ratio, still"
                    " neutral) until funding turns positive.",
                )
            )
        else:
            out.append(
                Proposal(
                    "sharpe",
                    "strategy.targets",
                    "review",
                    None,
                    None,
                    f"{why}; neither fees nor funding explain it. Sharpe over"
                    f" {ctx['n_returns']} daily returns is noisy: review the targets and the"
                    " basis history before changing anything.",
                )
            )
    return out


def _context(store: Any, day: date, digest: Any, n_returns: int) -> dict[str, Any]:
    start, end = day_bounds(day)
    bars = store.bars(start, end)
    w_start = start - (SHARPE_DAYS - 1) * DAY_MS
    window = store.bars(w_start, end)
    trades = store.trades(w_start, end)
    fees30 = None
    if window:
        mean_nav = math.fsum(b.nav for b in window) / len(window)
        days = len({utc_day(b.time_ms) for b in window})
        if mean_nav > 0 and days:
            fees30 = math.fsum(t.fee_usdt for t in trades) / mean_nav / days
    rates = [b.funding_rate for b in window if b.funding_rate is not None]
    return {
        "rebalances": digest.rebalances,
        "turnover": digest.turnover or 0.0,
        "max_abs_delta_frac": max((abs(b.delta_frac) for b in bars), default=0.0),
        "max_margin_frac": max((b.margin_frac for b in bars), default=0.0),
        "fees_nav_30d": fees30,
        "mean_funding_30d": (math.fsum(rates) / len(rates)) if rates else None,
        "n_returns": n_returns,
    }


# --- files --------------------------------------------------------------------------------------


def _proposal_markdown(r: AuditResult, cfg: AppConfig) -> str:
    lines = [
        f"# Audit proposal {r.day.isoformat()}",
        "",
        f"Generated {datetime.now(tz=UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC by the daily audit."
        " Nothing has been changed: these are proposals for a person to review, test in a"
        " backtest, and apply in the configuration.",
        "",
        "## KPIs against targets",
        "",
        "| KPI | actual | target | deviation (positive = worse) | flagged |",
        "| --- | --- | --- | --- | --- |",
    ]
    names = {"sharpe": "Sharpe (30 d)", "max_dd": "Max DD (day)", "fees_nav": "Fees/NAV (day)"}
    for k in KPIS:
        actual, target, dev = r.kpis[k], r.targets[k], r.deviations[k]
        if k == "sharpe":
            a_txt = "n/a" if actual is None else f"{actual:.3f}"
            t_txt = f"{target:.3f}"
        else:
            a_txt, t_txt = _pct(actual), _pct(target)
        d_txt = "n/a" if dev is None else f"{dev:+.1%}"
        lines.append(
            f"| {names[k]} | {a_txt} | {t_txt} | {d_txt} | {'yes' if k in r.flagged else ''} |"
        )
    lines += [
        "",
        f"Allowed deviation: {cfg.audit.max_deviation:.0%}. Sharpe uses {r.n_returns} daily"
        " return(s).",
        "",
        "## Proposals",
        "",
    ]
    for i, p in enumerate(r.proposals, 1):
        if p.direction == "review":
            lines.append(f"{i}. **{p.parameter}**: review ({p.kpi})")
        else:
            lines.append(
                f"{i}. **{p.parameter}**: {p.direction} from {_fmt(p.current)}"
                f" to {_fmt(p.suggested)} ({p.kpi})"
            )
        lines.append(f"   Why: {p.reason}")
    return "\n".join(lines) + "\n"


def _row(r: AuditResult, summary: str) -> list[Any]:
    def num(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else float(v)

    return [
        r.day.isoformat(),
        datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        num(r.kpis["sharpe"]),
        num(r.kpis["max_dd"]),
        num(r.kpis["fees_nav"]),
        r.targets["sharpe"],
        r.targets["max_dd"],
        r.targets["fees_nav"],
        num(r.deviations["sharpe"]),
        num(r.deviations["max_dd"]),
        num(r.deviations["fees_nav"]),
        ",".join(r.flagged),
        summary,
    ]


_LOCK_NAMES = ("~$Log.xlsx", ".~lock.Log.xlsx#")


def append_xlsx_row(path: Path, row: list[Any]) -> None:
    """Append ``row`` to the ``audit`` sheet of ``path`` without ever losing existing content.

    Raises ``LogWriteError`` (file untouched) when the workbook is locked, corrupt, or holds
    content openpyxl would drop on saving.
    """
    for name in _LOCK_NAMES:
        lock = path.with_name(name.replace("Log.xlsx", path.name))
        if lock.exists():
            raise LogWriteError(
                f"{path} is locked: lock file {lock.name} exists (is the workbook open in"
                " Excel/LibreOffice?)"
            )
    if path.exists():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                wb = load_workbook(path)
        except PermissionError as exc:
            raise LogWriteError(f"{path} is locked or not readable: {exc}") from exc
        except Exception as exc:
            raise LogWriteError(
                f"{path} is not a readable workbook ({type(exc).__name__}: {exc}); left untouched"
            ) from exc
        if caught:
            msgs = "; ".join(sorted({str(w.message) for w in caught}))
            raise LogWriteError(f"{path} has content openpyxl cannot keep ({msgs}); left untouched")
    else:
        wb = Workbook()
        wb.active.title = SHEET
    ws = wb[SHEET] if SHEET in wb.sheetnames else wb.create_sheet(SHEET)
    if ws.max_row == 1 and ws.max_column == 1 and ws.cell(1, 1).value is None:  # empty sheet
        for col, name in enumerate(LOG_COLUMNS, 1):
            ws.cell(row=1, column=col, value=name)
    counts = {name: wb[name].max_row for name in wb.sheetnames}
    ws.append(row)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wb.save(tmp)
        check = load_workbook(tmp)
        for name, n in counts.items():
            want = n + 1 if name == ws.title else n
            if name not in check.sheetnames or check[name].max_row != want:
                raise LogWriteError(f"{path}: verification of the new workbook failed ({name})")
        os.replace(tmp, path)
    except PermissionError as exc:
        raise LogWriteError(f"{path} is locked (cannot replace it): {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def append_csv_row(path: Path, row: list[Any]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        if new:
            w.writerow(LOG_COLUMNS)
        w.writerow(["" if v is None else v for v in row])
        fh.flush()
        os.fsync(fh.fileno())


# --- the audit ----------------------------------------------------------------------------------


def run_audit(store: Any, cfg: AppConfig, day: date, out_dir: str | Path) -> AuditResult:
    """Audit one UTC ``day``; write a proposal and a log row when a KPI deviates too far."""
    out = Path(out_dir)
    a = cfg.audit
    digest = build_digest(store, day)
    start, end = day_bounds(day)
    navs = [b.nav for b in store.bars(start, end)]
    rets = daily_returns(store, day)
    kpis: dict[str, float | None] = {
        "sharpe": sharpe(rets),
        "max_dd": max_drawdown(navs),
        "fees_nav": digest.fees_nav,
    }
    targets = {
        "sharpe": a.target_sharpe,
        "max_dd": a.target_max_dd,
        "fees_nav": a.target_fees_nav_per_day,
    }
    devs = {k: deviation(k, kpis[k], targets[k]) for k in KPIS}
    flagged = tuple(k for k in KPIS if devs[k] is not None and devs[k] > a.max_deviation)
    notes = []
    if not navs:
        notes.append("no bars recorded for this day")
    if kpis["sharpe"] is None:
        notes.append(f"Sharpe undefined ({len(rets)} daily return(s))")
    result = AuditResult(day, kpis, targets, devs, flagged, n_returns=len(rets), notes=tuple(notes))
    if not flagged:
        log.info(
            "audit %s: within targets (sharpe=%s max_dd=%s fees_nav=%s)",
            day,
            kpis["sharpe"],
            kpis["max_dd"],
            kpis["fees_nav"],
        )
        return result

    ctx = _context(store, day, digest, len(rets))
    proposals = tuple(_proposals(cfg, kpis, devs, flagged, ctx))
    result = AuditResult(
        day, kpis, targets, devs, flagged, proposals, len(rets), notes=tuple(notes)
    )
    out.mkdir(parents=True, exist_ok=True)
    proposal_path = out / f"proposal-{day.isoformat()}.md"
    atomic_write_text(proposal_path, _proposal_markdown(result, cfg))
    summary = "; ".join(p.summary() for p in proposals)
    row = _row(result, summary)
    xlsx, csv_path = out / "Log.xlsx", out / "Log.csv"
    log_path: Path | None = xlsx
    error = None
    try:
        append_xlsx_row(xlsx, row)
    except Exception as exc:  # whatever went wrong, the workbook was not replaced
        error = str(exc) if isinstance(exc, LogWriteError) else f"{xlsx}: {exc!r}"
        log.error("audit %s: %s; the row goes to %s instead", day, error, csv_path)
        try:
            append_csv_row(csv_path, row)
            log_path = csv_path
        except OSError as exc2:
            error += f"; writing {csv_path} failed too: {exc2}"
            log.error("audit %s: writing %s failed: %s", day, csv_path, exc2)
            log_path = None
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
        targets,
        devs,
        flagged,
        proposals,
        len(rets),
        proposal_path,
        log_path,
        error,
        tuple(notes),
    )


__all__ = [
    "LOG_COLUMNS",
    "AuditResult",
    "LogWriteError",
    "Proposal",
    "append_csv_row",
    "append_xlsx_row",
    "daily_returns",
    "deviation",
    "max_drawdown",
    "run_audit",
    "sharpe",
]
