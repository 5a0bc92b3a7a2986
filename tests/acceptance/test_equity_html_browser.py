"""The bundled run's ``equity.html`` in a real browser (headless Debian Chromium): it draws every
panel with no network request and no console error, a one-day zoom draws that day's 288 bars at
their exact NAV, and the tooltip names the bar under the cursor. Screenshots of the whole run and
of the day are saved (set EQUITY_PNG_DIR to keep them; the folder is printed)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from adaptive_agent.backtest.rebalance_backtester import run_backtest
from adaptive_agent.core.time_rules import BAR_MS, DAY_MS
from adaptive_agent.reports import writer
from adaptive_agent.reports.equity_html import marker_bars
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals
from tests.support.headless_chromium import INSTALL_HINT, chromium, chromium_path

if chromium_path() is None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI is set and {INSTALL_HINT}")
    pytest.skip(INSTALL_HINT, allow_module_level=True)


@pytest.fixture(scope="module")
def bundled(spot, funding, tmp_path_factory):
    result = run_backtest(spot, ema_crossover_signals(spot), funding)
    out = writer.write_reports(result, tmp_path_factory.mktemp("report"), title="bundled run")
    return result, out / "equity.html"


def busiest_full_day(result) -> int:
    """Start (ms) of the day with all 288 bars and the most rebalances: a telling screenshot."""
    day = result.ts_ms // DAY_MS
    days, counts = np.unique(day, return_counts=True)
    full = set(days[counts == DAY_MS // BAR_MS].tolist())
    reb = np.array([r.plan.time_ms - BAR_MS for r in result.rebalances]) // DAY_MS
    hits = {d: int(np.sum(reb == d)) for d in full}
    return max(sorted(hits), key=hits.__getitem__) * DAY_MS


def png_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("EQUITY_PNG_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nequity.html screenshots in {folder}")
    return folder


async def look(page_path: Path, day_ms: int, shots: Path) -> dict:
    url = page_path.resolve().as_uri()
    iso_day = datetime.fromtimestamp(day_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    found: dict = {}
    async with chromium() as browser:
        page = await browser.new_page(1400, 1000)
        await page.goto(url)
        await page.wait_for("window.equityChart.ready || window.equityChart.error")
        found["whole"] = await page.evaluate("window.equityChart.state()")
        found["whole_png"] = await page.screenshot(shots / "equity_whole_run.png")
        await page.evaluate(f"window.equityChart.zoomDay('{iso_day}')")
        found["day_api"] = await page.evaluate("window.equityChart.state()")
        # the tooltip at a bar in the middle of the day, with the mouse on the NAV curve
        bar_close = day_ms + 121 * BAR_MS
        pt = await page.evaluate(f"window.equityChart.pointOf({bar_close})")
        await page.mouse_move(pt["x"], pt["y"])
        found["tip"] = await page.wait_for("window.equityChart.tip()")
        await page.screenshot(shots / f"equity_day_{iso_day}_tooltip.png", full_page=False)
        found["main_requests"], found["main_errors"] = page.requests, page.errors
        found["error"] = await page.evaluate("window.equityChart.error")

        day_page = await browser.new_page(1400, 1000)
        await day_page.goto(f"{url}#day={iso_day}")
        await day_page.wait_for("window.equityChart.ready || window.equityChart.error")
        found["day_hash"] = await day_page.evaluate("window.equityChart.state()")
        found["day_png"] = await day_page.screenshot(shots / f"equity_day_{iso_day}.png")
        found["day_requests"], found["day_errors"] = day_page.requests, day_page.errors

        # a link to six hours (both ends included), then one the page cannot read (new tabs:
        # a change of the fragment alone would not load the page again)
        hours = f"#from={iso_day}T10:00Z&to={iso_day}T16:00Z"
        for key, link in (("hours", hours), ("bad", "#from=x")):
            tab = await browser.new_page(1400, 1000)
            await tab.goto(url + link)
            await tab.wait_for("window.equityChart.ready || window.equityChart.error")
            found[key] = await tab.evaluate(
                "[window.equityChart.state(), document.getElementById('status').textContent]"
            )
            found["day_requests"] += tab.requests
            found["day_errors"] += tab.errors
    return found


def test_bundled_page_in_chromium(bundled, tmp_path):
    result, page_path = bundled
    day_ms = busiest_full_day(result)
    shots = png_dir(tmp_path)
    found = asyncio.run(look(page_path, day_ms, shots))

    url = page_path.resolve().as_uri()
    assert found["error"] is None
    assert found["main_errors"] == [] and found["day_errors"] == []
    # the only request either tab made is the page itself (the day tab asks without the hash)
    assert found["main_requests"] == [url]
    assert {r.split("#")[0] for r in found["day_requests"]} == {url}

    whole = found["whole"]
    assert whole["panels"] == 5 and whole["bars"] == len(result.nav)
    assert whole["level"] > 0 and whole["points"] <= 2 * 1400  # min/max pairs, <= 2 per pixel
    reb, blk = marker_bars(result)
    assert whole["markers"] == len(reb) + len(blk) > 0

    closes = result.ts_ms + BAR_MS
    in_day = (closes > day_ms) & (closes <= day_ms + DAY_MS)
    for state in (found["day_api"], found["day_hash"]):
        assert state["level"] == 0  # every bar, no decimation
        assert state["points"] == state["distinct"] == 288
        assert state["x"] == closes[in_day].tolist()
        assert np.allclose(state["nav"], np.round(result.nav[in_day], 2), rtol=0, atol=1e-9)

    hours = found["hours"][0]
    assert hours["level"] == 0 and hours["points"] == 6 * 12 + 1
    assert hours["x"][0] == day_ms + 10 * 3_600_000 and hours["x"][-1] == day_ms + 16 * 3_600_000
    assert found["bad"][0]["level"] == whole["level"]  # the whole run, and a word on the page
    assert found["bad"][1] == "ignored the zoom in the link: #from=x"

    i = int(np.searchsorted(closes, day_ms + 121 * BAR_MS))
    close = datetime.fromtimestamp(int(closes[i]) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
    tip = found["tip"]
    assert tip.startswith(f"close {close} UTC"), tip
    assert f"{result.nav[i]:,.2f}" in tip and f"{result.price[i]:,.2f}" in tip

    for name in ("equity_whole_run.png", f"equity_day_{close[:10]}.png"):
        name_tip = name.replace(".png", "_tooltip.png")
        assert name == "equity_whole_run.png" or (shots / name_tip).is_file()
        png = (shots / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, name
