"""sweep.html in headless Chromium (issue 11, item 1): the heatmap over any two settings and the
uPlot scatter draw every configuration, offline (no request but the page), no console error."""

from __future__ import annotations

import asyncio
import os

import pytest

from adaptive_agent.cli import main
from tests.support.headless_chromium import INSTALL_HINT, chromium, chromium_path

if chromium_path() is None:
    if os.environ.get("CI"):
        raise RuntimeError(f"CI is set and {INSTALL_HINT}")
    pytest.skip(INSTALL_HINT, allow_module_level=True)


async def look(url: str) -> dict:
    async with chromium() as browser:
        page = await browser.new_page(1200, 900)
        await page.goto(url)
        await page.wait_for("window.sweepPage")
        found = {
            "cells": await page.evaluate("document.querySelectorAll('#heat td').length"),
            "points": await page.evaluate("window.sweepPage && uPlot ? 1 : 0"),
            "rows": await page.evaluate("document.querySelectorAll('#rows tr').length"),
            "caption": await page.evaluate("document.querySelector('#heat caption').textContent"),
        }
        # another pair of settings and another metric, chosen on the page
        await page.evaluate(
            "hy.value='strategy.min_rebalance_interval_minutes';hv.value='max_dd';sweepPage.heat()"
        )
        found["cells2"] = await page.evaluate("document.querySelectorAll('#heat td').length")
        found["caption2"] = await page.evaluate(
            "document.querySelector('#heat caption').textContent"
        )
        found["scatter"] = await page.evaluate(
            "document.querySelectorAll('#scatter canvas').length"
        )
        found["requests"], found["errors"] = page.requests, page.errors
    return found


def test_the_sweep_page_draws_offline(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--grid", "strategy.threshold_floor=0.004,0.008,0.012",
            "--grid", "strategy.atr_multiplier=0,0.2",
            "--grid", "strategy.min_rebalance_interval_minutes=30,120",
            "--start", "2025-05-01", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    url = (out / "sweep.html").resolve().as_uri()
    found = asyncio.run(look(url))
    assert found["errors"] == [], found["errors"]
    assert [r for r in found["requests"] if r != url] == [], found["requests"]
    assert found["cells"] == 3 * 2  # columns threshold_floor x rows atr_multiplier
    assert (
        "sharpe: rows strategy.atr_multiplier, columns strategy.threshold_floor"
        in (found["caption"])
    )
    assert found["cells2"] == 3 * 2 and found["caption2"].startswith("max_dd: rows strategy.min")
    assert found["rows"] == 12 + 1 and found["scatter"] >= 1
