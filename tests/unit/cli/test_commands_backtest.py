"""``backtest``, ``signals`` and ``config`` through ``adaptive_agent.cli.main``."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from adaptive_agent.cli import main
from adaptive_agent.core.time_rules import HOUR_MS
from adaptive_agent.io.loaders import load_signals
from adaptive_agent.strategies.baseline_signals import ema_crossover_signals, write_signals
from tests.support.market_data import write_candles_csv


def rows(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_backtest_with_every_input(spot, tmp_path, capsys):
    c = spot.slice(0, 8_000)
    candles = write_candles_csv(tmp_path / "c.csv", c)
    sig = tmp_path / "s.csv"
    write_signals(ema_crossover_signals(c, 3, 12), sig)
    fund = tmp_path / "f.csv"
    fund.write_text("timestamp,funding_rate\n1659312000000,0.0003\n")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[backtest]\nslippage = 0.001\n")
    out = tmp_path / "r"
    rc = main(
        [
            "backtest",
            "--candles",
            str(candles),
            "--signals",
            str(sig),
            "--funding",
            str(fund),
            "--perp-candles",
            str(candles),
            "--config",
            str(cfg),
            "--nav0",
            "50000",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "ROI" in printed and str(out) in printed
    row = rows(out / "summary.csv")[0]
    assert float(row["nav_start"]) == 50_000.0
    assert int(row["blocked_orders"]) > 0
    assert float(row["funding_pnl"]) > 0
    taker = [t for t in rows(out / "trades.csv") if t["liquidity"] == "taker"]
    assert taker  # slippage 0.001 from the config file is applied to taker fills
    first = taker[0]
    bar = int(
        np.searchsorted(c.ts, np.datetime64(first["time"].rstrip("Z"), "ms").astype(np.int64))
    )
    factor = 1.001 if first["side"] == "buy" else 0.999
    assert float(first["price"]) == pytest.approx(c.open[bar] * factor)


def test_default_run_uses_bundled_data_and_default_out(tmp_path):
    """README command 1 in small: bundled data, baseline signals, reports/<run-id>/."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from adaptive_agent.cli import main; rc = main(['backtest', '--start',"
            " '2024-01-01', '--end', '2024-02-01', '--no-html']);"
            " bad = [m for m in sys.modules if m.split('.')[0] in ('ccxt', 'aiohttp', 'plotly')];"
            " print('IMPORTED', bad); sys.exit(rc)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED []" in proc.stdout  # the backtest never loads an exchange client
    assert "baseline EMA" in proc.stdout and "binance_spot_BTCUSDT_5m" in proc.stdout
    runs = list((tmp_path / "reports").iterdir())
    assert len(runs) == 1
    row = rows(runs[0] / "summary.csv")[0]
    assert row["start"] == "2024-01-01T00:00:00Z" and row["end"] == "2024-02-01T00:00:00Z"
    assert not (runs[0] / "equity.html").exists()


def test_bad_start_and_empty_window(capsys, tmp_path):
    assert main(["backtest", "--start", "soon", "--out", str(tmp_path)]) == 2
    assert "--start" in capsys.readouterr().err
    assert main(["backtest", "--start", "2030-01-01", "--out", str(tmp_path)]) == 2
    assert "fewer than 2 candles" in capsys.readouterr().err


def test_signals_command_has_no_lookahead(spot, tmp_path, capsys):
    c = spot.slice(0, 20_000)
    f = write_candles_csv(tmp_path / "c.csv", c)
    out = tmp_path / "sub" / "sig.csv"
    assert main(["signals", "--candles", str(f), "--out", str(out)]) == 0
    assert "signals written" in capsys.readouterr().out
    full = load_signals(out)
    assert len(full.ts_ms) > 5
    assert np.all(full.ts_ms % HOUR_MS == 0)  # emitted at hour closes
    assert np.all(full.codes[1:] != full.codes[:-1])  # crossings alternate
    # Signals computed on a prefix of the candles are a prefix of the full signals.
    part = ema_crossover_signals(c.slice(0, 12_000))
    k = len(part.ts_ms)
    assert k > 0
    assert part.ts_ms.tolist() == full.ts_ms[:k].tolist()
    assert part.codes.tolist() == full.codes[:k].tolist()


def test_config_command_masks_secrets(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ADAPTIVE_AGENT__MONITORING__INFLUX_PASSWORD", "hunter2-secret")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2-secret" not in out and 'influx_password = "**********"' in out
    assert "[strategy.targets]" in out and "BTC_SPOT = 0.5" in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[strategy\n")
    assert main(["config", "--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_config_error_exit_code_for_backtest(capsys, monkeypatch):
    monkeypatch.setenv("ADAPTIVE_AGENT__BACKTEST__SLIPPAGE", "-1")
    assert main(["backtest"]) == 2
    err = capsys.readouterr().err
    assert "backtest.slippage" in err and "ADAPTIVE_AGENT__BACKTEST__SLIPPAGE" in err


def test_version_and_module_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "adaptive_agent", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("adaptive-agent ")


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "inf", "1e300"])
def test_bad_nav0_exits_2_before_anything_runs(bad, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["backtest", "--nav0", bad, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --nav0: "), captured.err
    assert "finite number > 0" in lines[0]
    assert captured.out == "" and not out.exists()
