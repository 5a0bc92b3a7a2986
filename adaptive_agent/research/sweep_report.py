"""A sweep's files: ``sweep.csv`` (one row per configuration: its settings, then every summary
column), ``walk_forward.csv`` when asked, and ``sweep.html``: a heatmap of the objective over
two settings and every row in a table, self-contained (opens offline)."""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path
from typing import Any

from ..backtest.rebalance_backtester import SUMMARY_COLUMNS
from ..reports.writer import iso
from .sweep import objective_value


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
                iso(int(r[c])) if c in ("start", "end") else _cell(r[c]) for c in SUMMARY_COLUMNS
            ]
            w.writerow([*(_cell(p[k]) for k in keys), *shown])


def write_walk_forward_csv(path: Path, rows: list[dict]) -> None:
    cols = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(
                [iso(int(r[c])) if c.endswith(("_start", "_end")) else _cell(r[c]) for c in cols]
            )


def _color(v: float, lo: float, hi: float) -> str:
    if not math.isfinite(v) or hi <= lo:
        return "#eee"
    x = (v - lo) / (hi - lo)  # red (worst) to green (best)
    return f"hsl({int(120 * x)}, 65%, 72%)"


def heatmap_html(keys: list[str], points: list[dict], rows: list[dict], objective: str) -> str:
    """The objective over the first two settings (the best row where others vary too)."""
    if len(keys) < 2:
        return "<p>A heatmap needs two settings in the grid.</p>"
    kx, ky = keys[0], keys[1]
    cells: dict[tuple, float] = {}
    for p, r in zip(points, rows, strict=True):
        v = objective_value(r, objective)
        key = (p[kx], p[ky])
        cells[key] = max(cells.get(key, -math.inf), v)
    xs = sorted(
        {p[kx] for p in points}, key=str if any(isinstance(p[kx], str) for p in points) else None
    )
    ys = sorted(
        {p[ky] for p in points}, key=str if any(isinstance(p[ky], str) for p in points) else None
    )
    finite = [v for v in cells.values() if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    head = "".join(f"<th>{html.escape(_cell(x))}</th>" for x in xs)
    body = []
    for y in ys:
        tds = []
        for x in xs:
            v = cells.get((x, y), math.nan)
            text = f"{v:,.3f}" if math.isfinite(v) else "n/a"
            tds.append(f'<td style="background:{_color(v, lo, hi)}">{text}</td>')
        body.append(f"<tr><th>{html.escape(_cell(y))}</th>{''.join(tds)}</tr>")
    return (
        f"<table class=heat><caption>{html.escape(objective)}: rows {html.escape(ky)},"
        f" columns {html.escape(kx)} (the best over the other settings)</caption>"
        f"<tr><th></th>{head}</tr>{''.join(body)}</table>"
    )


def write_sweep_html(
    path: Path, keys: list[str], points: list[dict], rows: list[dict], objective: str
) -> None:
    cols = [*keys, "roi", "sharpe", "max_dd", "fees_usdt", "rebalances", "calmar"]
    table = [[p.get(c, r.get(c)) for c in cols] for p, r in zip(points, rows, strict=True)]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>adaptive_agent sweep</title>
<style>body{{font:14px system-ui,sans-serif;margin:20px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}caption{{text-align:left;
font-weight:600;padding:6px 0}}</style></head><body>
<h1>Sweep: {len(rows):,} configurations</h1>
{heatmap_html(keys, points, rows, objective)}
<h2>Every configuration</h2><table id=rows></table>
<script>const cols={json.dumps(cols)};const rows={json.dumps(table, default=str)};
const t=document.getElementById('rows');
const fmt=v=>typeof v!=='number'?String(v):Math.abs(v)>=100
  ?v.toLocaleString('en-US',{{maximumFractionDigits:2}}):v.toPrecision(6);
const tr=cells=>'<tr>'+cells.join('')+'</tr>';
t.innerHTML=tr(cols.map(c=>'<th>'+c+'</th>'))
  +rows.map(r=>tr(r.map(v=>'<td>'+fmt(v)+'</td>'))).join('');
</script></body></html>
"""
    path.write_text(page, encoding="utf-8")
