"""A sweep's files: ``sweep.csv`` (one row per configuration: its settings, then every summary
column), ``walk_forward.csv`` when asked, and ``sweep.html``: a heatmap of the objective over
two settings and every row in a table, self-contained (opens offline)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ..backtest.run_summary import SUMMARY_COLUMNS
from ..core.time_rules import iso_text


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else repr(v)
    return str(v)


def write_sweep_csv(path: Path, keys: list[str], points: list[dict], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([*keys, *SUMMARY_COLUMNS])
        for p, r in zip(points, rows, strict=True):
            shown = [
                iso_text(int(r[c])) if c in ("start", "end") else _cell(r[c])
                for c in SUMMARY_COLUMNS
            ]
            w.writerow([*(_cell(p[k]) for k in keys), *shown])


def write_walk_forward_csv(path: Path, rows: list[dict]) -> None:
    cols = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(
                [
                    iso_text(int(r[c])) if c.endswith(("_start", "_end")) else _cell(r[c])
                    for c in cols
                ]
            )


def write_sweep_html(
    path: Path, keys: list[str], points: list[dict], rows: list[dict], objective: str
) -> None:
    """The page: a heatmap of any metric over any two settings (chosen on the page; the first
    two when it opens, each cell the best row over the other settings), a scatter of any
    metric against any other (uPlot, the backtest report's vendored library), and every row.
    Self-contained: it opens offline and requests nothing."""
    from ..reports.equity_html import VENDOR

    metrics = ["sharpe", "roi", "max_dd", "fees_usdt", "calmar", "sortino", "rebalances"]
    cols = [*keys, *metrics]
    table = [
        [p[c] if c in p else _json_num(r.get(c)) for c in cols]
        for p, r in zip(points, rows, strict=True)
    ]
    data = json.dumps({"keys": keys, "metrics": metrics, "cols": cols, "rows": table,
                       "objective": objective if objective in metrics else "sharpe"},
                      default=str)  # fmt: skip
    page = (  # the blobs last: no placeholder is looked for inside them
        _SWEEP_PAGE.replace("__N__", f"{len(rows):,}")
        .replace("__DATA__", data.replace("</", "<\\/"))
        .replace("__PAGE_JS__", (VENDOR.parent.parent / "sweep_page.js").read_text("utf-8"))
        .replace("__UPLOT_CSS__", (VENDOR / "uPlot.min.css").read_text("utf-8"))
        .replace("__UPLOT_JS__", (VENDOR / "uPlot.iife.min.js").read_text("utf-8"))
    )
    path.write_text(page, encoding="utf-8")


def _json_num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


_SWEEP_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>adaptive_agent sweep</title><style>__UPLOT_CSS__</style>
<style>body{font:13px system-ui,sans-serif;margin:16px 24px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}caption{text-align:left;
font-weight:600;padding:6px 0}select{margin:0 12px 0 4px}</style></head><body>
<h1>Sweep: __N__ configurations</h1>
<noscript>The charts need JavaScript; sweep.csv holds every row.</noscript>
<div>Heatmap: rows <select id=hy></select> columns <select id=hx></select>
value <select id=hv></select></div><div id=heat></div>
<h2>Scatter</h2><div>x <select id=sx></select> y <select id=sy></select></div>
<div id=scatter></div>
<h2>Every configuration</h2><table id=rows></table>
<script>__UPLOT_JS__</script>
<script id=sweep-data type="application/json">__DATA__</script>
<script>__PAGE_JS__</script></body></html>
"""
