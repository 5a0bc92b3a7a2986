"""The backtest's progress bar: shown on a terminal only, and only after its delay."""

from __future__ import annotations

import io

from adaptive_agent.cli.progress import Progress


def test_progress_bar_only_after_delay():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet = Progress(Tty(), delay=3600)
    quiet(0.5)
    quiet.close()
    assert quiet.stream.getvalue() == ""
    loud = Progress(Tty(), delay=0)
    loud(0.5)
    loud.close()
    assert "50.0%" in loud.stream.getvalue() and loud.stream.getvalue().endswith("\n")
    piped = Progress(io.StringIO(), delay=0)
    piped(0.5)
    assert piped.stream.getvalue() == ""


def test_paper_replay_progress_is_labelled_and_reaches_100_percent(tmp_path):
    import asyncio

    from adaptive_agent.config import AppConfig
    from adaptive_agent.data import SPOT_5M
    from adaptive_agent.io.loaders import load_candles
    from adaptive_agent.runner.paper import make_market, paper_agent, replay
    from adaptive_agent.state.store import StateStore

    class Tty(io.StringIO):
        def isatty(self):
            return True

    bar = Progress(Tty(), delay=0, label="paper")
    candles = load_candles(SPOT_5M).slice(0, 400)
    cfg = AppConfig()
    market = make_market(cfg, candles, None, "backtest")
    store = StateStore(tmp_path / "p.sqlite", durable=False)
    kept: list = []
    agent = paper_agent(cfg, market, store, None)
    closes = asyncio.run(replay(agent, market, candles, rebalances=kept, progress=bar))
    store.close()
    bar.close()
    shown = bar.stream.getvalue()
    assert closes == 399 and shown.startswith("\rpaper [")
    assert shown.count("\r") > 300 and shown.endswith("] 100.0%\n")
    assert kept and all(p.triggered for p in kept)
