"""The shared run-input builder: bundled defaults, the time window, the bar count."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from adaptive_agent.cli.inputs import (
    NO_SIGNALS,
    build_run_inputs,
    check_bars,
    check_nav0,
    parse_time,
    replay_speed,
)
from adaptive_agent.config import AppConfig
from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import InputError
from adaptive_agent.runner.paper import PaperOptions, load_paper_inputs
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals, write_signals
from tests.support.market_data import write_candles_csv

JAN = parse_time("2024-01-01", "--start")
FEB = parse_time("2024-02-01", "--end")


def test_parse_time_is_utc_unless_told():
    assert JAN == 1_704_067_200_000
    assert parse_time("2024-01-01T01:00+01:00", "--start") == JAN
    with pytest.raises(argparse.ArgumentTypeError, match="--end: cannot parse 'soon' as a time"):
        parse_time("soon", "--end")
    assert parse_time(str(JAN), "--start") == JAN  # epoch ms, as every other input reads it


def test_bundled_defaults_and_window():
    cfg = AppConfig()
    run = build_run_inputs(cfg, start_ms=JAN, end_ms=FEB)
    assert str(run.candles.path) == str(SPOT_5M)
    assert run.candles.ts[0] == JAN and run.candles.ts[-1] < FEB
    assert run.funding_path == str(FUNDING_8H) and run.funding is not None
    assert run.perp is None
    sc = cfg.signals
    assert run.signals_desc == f"baseline EMA {sc.ema_fast_hours}h/{sc.ema_slow_hours}h crossover"
    expected = ema_crossover_signals(run.candles, sc.ema_fast_hours, sc.ema_slow_hours)
    assert run.signals.ts_ms.tolist() == expected.ts_ms.tolist()


def test_own_files_have_no_default_signals_or_funding(spot, tmp_path):
    c = spot.slice(0, 500)
    path = write_candles_csv(tmp_path / "c.csv", c)
    run = build_run_inputs(AppConfig(), candles=str(path), perp_candles=str(path))
    assert len(run.candles) == 500 and len(run.perp) == 500
    assert run.signals is None and run.signals_desc == NO_SIGNALS
    assert run.funding is None and run.funding_path is None
    sig = tmp_path / "s.csv"
    write_signals(ema_crossover_signals(c, 3, 12), sig)
    run = build_run_inputs(AppConfig(), candles=str(path), signals=str(sig))
    assert run.signals_desc == str(sig) and len(run.signals.ts_ms) > 0


def test_bars_keep_one_more_candle_than_closes():
    run = build_run_inputs(AppConfig(), start_ms=JAN, bars=10)
    assert len(run.candles) == 11 and run.candles.ts[0] == JAN


def test_an_empty_window_is_an_input_error():
    with pytest.raises(InputError, match="fewer than 2 candles"):
        build_run_inputs(AppConfig(), start_ms=parse_time("2030-01-01", "--start"))


def test_paper_loads_what_the_backtest_loads():
    cfg = AppConfig()
    candles, signals, funding = load_paper_inputs(cfg, PaperOptions(start_ms=JAN, bars=300))
    run = build_run_inputs(cfg, start_ms=JAN, bars=300)
    assert np.array_equal(candles.ts, run.candles.ts)
    assert np.array_equal(signals.codes, run.signals.codes)
    assert np.array_equal(funding.ts, run.funding.ts)


def test_replay_speed():
    assert replay_speed("max") is None
    assert replay_speed("2.5") == 2.5
    for bad in ("0", "-2", "nan", "inf", "fast"):
        with pytest.raises(argparse.ArgumentTypeError, match="--speed: expected 'max' or a"):
            replay_speed(bad)


def test_nav0_and_bars_checks():
    check_nav0(None)
    check_nav0(1e-9)
    check_bars(None)
    check_bars(0)
    check_nav0(1e12)  # the bound of backtest.nav0 in the configuration
    for bad in (0.0, -5.0, float("nan"), float("inf"), 1.0000001e12, 1e300):
        with pytest.raises(argparse.ArgumentTypeError, match="--nav0: expected a finite"):
            check_nav0(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="--bars: expected a whole number"):
        check_bars(-1)
