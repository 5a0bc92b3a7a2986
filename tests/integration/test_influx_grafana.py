"""Grafana provisioning: parse it, check the datasource references, run every query on influxd.

No Grafana server is available here, so the dashboard is tested the way Grafana would use it:
each panel's raw InfluxQL, with Grafana's macros filled in, must run on InfluxDB 1.x and return
rows for a realistic day written through InfluxSink.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from adaptive_agent.core.time_rules import HOUR_MS
from adaptive_agent.monitoring.influx import InfluxSink
from tests.support.influxd_fixture import (
    BAR_MS,
    T0_MS,
    InfluxdServer,
    influxd,
    make_bar,
    make_rebalance,
)
from tests.support.market_data import ROOT

__all__ = ["influxd"]

GRAFANA = ROOT / "deploy" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "influxdb.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml"
DASHBOARD = GRAFANA / "dashboards" / "adaptive_agent.json"
DAY_BARS = 288


# ---------------------------------------------------------------- a tiny YAML subset reader
# Enough for provisioning files: nested mappings, lists of mappings, plain or quoted scalars,
# comments. Anything else is an error (PyYAML is deliberately not a dependency).


def _scalar(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("", "~", "null"):
        return None
    return text


def parse_yaml(source: str) -> Any:
    lines: list[tuple[int, str]] = []
    for raw in source.splitlines():
        stripped = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if stripped.strip():
            assert "\t" not in raw[: len(raw) - len(raw.lstrip())], "tabs in indentation"
            lines.append((len(stripped) - len(stripped.lstrip()), stripped.strip()))
    value, end = _block(lines, 0, 0)
    assert end == len(lines), f"unparsed YAML from line {lines[end]}"
    return value


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if i < len(lines) and lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            # "- key: value" opens a mapping whose other keys sit 2 columns further in
            first = lines[i][1][2:]
            sub = [(indent + 2, first), *lines[i + 1 :]]
            value, used = _block(sub, 0, indent + 2)
            items.append(value)
            i += used
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        key, sep, rest = lines[i][1].partition(":")
        assert sep and not key.startswith("- "), f"not a mapping entry: {lines[i][1]!r}"
        i += 1
        if rest.strip():
            mapping[key.strip()] = _scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            mapping[key.strip()], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            mapping[key.strip()], i = _block(lines, i, indent)  # list at the key's indent
        else:
            mapping[key.strip()] = None
    assert i == len(lines) or lines[i][0] < indent, f"bad indentation at {lines[i][1]!r}"
    return mapping, i


def test_tiny_yaml_reader() -> None:
    doc = parse_yaml(
        "# c\napiVersion: 1\nitems:\n  - name: a  # note\n    n: 2\n    sub:\n      x: 'q'\n"
        "  - name: b\nlist:\n- k: v\nempty:\n"
    )
    assert doc == {
        "apiVersion": 1,
        "items": [{"name": "a", "n": 2, "sub": {"x": "q"}}, {"name": "b"}],
        "list": [{"k": "v"}],
        "empty": None,
    }


# ---------------------------------------------------------------- static checks


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    doc = parse_yaml(DATASOURCES.read_text())
    assert doc["apiVersion"] == 1
    (ds,) = doc["datasources"]
    return ds


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # panels inside collapsed rows
    return out


def _queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            found.append((panel["title"], target["query"]))
    for ann in dashboard["annotations"]["list"]:
        if "query" in ann:
            found.append((f"annotation {ann['name']}", ann["query"]))
    return found


def test_datasource_provisioning(datasource: dict[str, Any]) -> None:
    assert datasource["type"] == "influxdb"
    assert datasource["uid"] == "adaptive-agent-influxdb"
    assert datasource["url"] == "http://influxdb:8086"
    assert datasource["access"] == "proxy"
    assert datasource["database"] == datasource["jsonData"]["dbName"] == "adaptive_agent"
    # no secret in the file itself (only commented-out environment placeholders)
    assert "password" not in json.dumps(datasource) and "secureJsonData" not in datasource


def test_dashboard_provider() -> None:
    doc = parse_yaml(PROVIDERS.read_text())
    assert doc["apiVersion"] == 1
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path == "/var/lib/grafana/dashboards"
    # where docker-compose.yml mounts the folders (checked as text: no YAML library here)
    compose = GRAFANA.parent.parent / "docker-compose.yml"
    if compose.exists():
        text = compose.read_text()
        assert f"./deploy/grafana/dashboards:{path}" in text
        assert "./deploy/grafana/provisioning:/etc/grafana/provisioning" in text


def test_every_panel_uses_the_provisioned_datasource(
    dashboard: dict[str, Any], datasource: dict[str, Any]
) -> None:
    uid = datasource["uid"]
    assert dashboard["uid"] and dashboard["title"]
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "influxdb", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "influxdb", "uid": uid}, panel["title"]
            assert target["rawQuery"] is True, panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
    for ann in dashboard["annotations"]["list"]:
        if "query" in ann:
            assert ann["datasource"] == {"type": "influxdb", "uid": uid}


def test_queries_follow_the_rules(dashboard: dict[str, Any]) -> None:
    for title, q in _queries(dashboard):
        assert "$timeFilter" in q, title
        if re.search(r"GROUP BY time\(", q):
            assert "time($__interval)" in q and "fill(none)" in q, title
        assert re.search(r'FROM "(bar|rebalance|alert)"', q), title


def test_one_panel_per_series(dashboard: dict[str, Any]) -> None:
    text = " ".join(q for _, q in _queries(dashboard))
    for field in (
        "nav",
        "delta_usdt",
        "delta_frac",
        "sharpe_30d",
        "basis",
        "w_spot",
        "w_long",
        "w_short",
        "margin_frac",
        "safe_mode",
        "price_ref",
        "funding_rate",
        "fees_usdt",
        "slippage_usdt",
        "notional_usdt",
        "orders",
        "blocked",
        "skipped",
        "signal_to_first_ack_ms",
        "complete_ms",
        "text",
    ):
        assert f'"{field}"' in text, field
    titles = {p["title"] for p in _panels(dashboard)}
    assert {"NAV", "Sharpe 30d", "Basis_Gate", "Leg weights", "Safe mode", "Alerts"} <= titles


# ---------------------------------------------------------------- the queries on real data


def _write_a_day(url: str, db: str, spool: Path) -> None:
    sink = InfluxSink(url, db, spool_dir=spool, flush_interval_s=0.02, batch_size=500)
    try:
        for i in range(DAY_BARS):
            sink.on_bar(make_bar(i))
            if i % 6 == 0:  # a rebalance every half hour
                sink.on_rebalance(make_rebalance(i), [])
            if i % 100 == 40:
                sink.on_alert("safe_mode", "entered: stale_ws", T0_MS + i * BAR_MS)
            if i % 100 == 45:
                sink.on_alert("safe_mode", "left", T0_MS + i * BAR_MS)
            if i == 200:
                sink.on_alert("funding", "funding 6.1 bps per 8 h > 5 bps", T0_MS + i * BAR_MS)
        assert sink.flush(10.0)
        assert sink.stats().points_rejected == 0
    finally:
        sink.close()


def test_every_query_returns_rows(
    influxd: InfluxdServer, tmp_path: Path, dashboard: dict[str, Any], datasource: dict[str, Any]
) -> None:
    db = datasource["jsonData"]["dbName"]
    _write_a_day(influxd.url, db, tmp_path / "spool")
    start, end = T0_MS - HOUR_MS, T0_MS + DAY_BARS * BAR_MS + HOUR_MS
    # what Grafana substitutes for a 26-hour range at about 300 px of panel width
    time_filter = f"time >= {start}ms and time <= {end}ms"
    queries = _queries(dashboard)
    assert len(queries) >= 18
    for title, q in queries:
        sql = q.replace("$timeFilter", time_filter).replace("$__interval", "5m")
        assert "$" not in sql, title
        rows = influxd.query(sql, db)
        assert rows, f"{title}: no rows from {sql}"
        assert all(r["time"] is not None for r in rows), title
        values = [v for r in rows for k, v in r.items() if k != "time"]
        assert any(v is not None for v in values), f"{title}: only nulls"
        # bucketed queries: no bucket outside the data (fill(none) keeps empty ones out)
        if "GROUP BY time(" in q:
            assert len(rows) <= (end - start) // BAR_MS + 1, title
