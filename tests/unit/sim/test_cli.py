"""``gate-sim`` command: credentials from the environment, one URL line, clean stop on a signal."""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request

import ccxt
import pytest

from adaptive_agent.exchange.gate_constants import redirect_ccxt
from adaptive_agent.sim import cli, options

RUN = (
    "import argparse, sys\n"
    "from adaptive_agent.sim import cli, options\n"
    "p = argparse.ArgumentParser()\n"
    "options.add_arguments(p)\n"
    "sys.exit(cli.main(p.parse_args(sys.argv[1:])))\n"
)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    options.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("missing", ["GATE_API_KEY", "GATE_API_SECRET"])
def test_refuses_to_start_without_credentials(monkeypatch, capsys, missing):
    monkeypatch.setenv("GATE_API_KEY", "k")
    monkeypatch.setenv("GATE_API_SECRET", "s")
    monkeypatch.delenv(missing)
    assert cli.main(parse("--port", "0")) == 2
    assert missing in capsys.readouterr().err


def test_without_keys_it_prints_a_throwaway_pair_that_signs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GATE_API_KEY", "GATE_API_SECRET")}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "--port", "0", "--fill-model", "backtest"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while len(lines) < 4:
            ready, _, _ = select.select([proc.stdout], [], [], 20)
            assert ready, f"gate-sim printed only {lines}"
            lines.append(proc.stdout.readline().strip())
        assert lines[0].startswith("gate-sim: no GATE_API_KEY/GATE_API_SECRET set")
        exports = dict(line.removeprefix("export ").split("=", 1) for line in lines[1:3])
        assert set(exports) == {"GATE_API_KEY", "GATE_API_SECRET"}
        assert len(exports["GATE_API_SECRET"]) == 48
        url = lines[3].split()[3]
        client = ccxt.gate(
            {"apiKey": exports["GATE_API_KEY"], "secret": exports["GATE_API_SECRET"]}
        )
        redirect_ccxt(client, url)
        assert client.fetch_balance()["USDT"]["total"] > 0  # a signed call with the printed pair
        with urllib.request.urlopen(f"{url}/sim/state", timeout=5) as r:
            first = json.load(r)["bar"]
        time.sleep(2.5)
        with urllib.request.urlopen(f"{url}/sim/state", timeout=5) as r:
            assert json.load(r)["bar"] > first  # the default speed advances (1 bar a second)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0


def test_bad_candle_file_is_an_input_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GATE_API_KEY", "k")
    monkeypatch.setenv("GATE_API_SECRET", "s")
    assert cli.main(parse("--candles", str(tmp_path / "missing.csv"))) == 2
    assert "missing.csv" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serves_on_loopback_prints_the_url_and_stops_on_a_signal(sig):
    secret = "very-secret-value"
    env = dict(os.environ, GATE_API_KEY="cli-key", GATE_API_SECRET=secret)
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "--port", "0", "--fill-model", "backtest", "--speed", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "no URL line within 20 s"
        line = proc.stdout.readline().strip()
        url = line.split()[3]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/sim/state", timeout=5) as r:
            state = json.load(r)
        assert state["bar"] == 0 and state["fill_model"] == "backtest"
        assert state["bars"] > 300_000  # the bundled candles
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert secret not in line + out + err


def test_funding_hours_option_reaches_the_market(monkeypatch, path):
    assert parse().funding_hours == (0, 8, 16)
    args = parse("--funding-hours", "4,12,20", "--candles", "any.csv")
    assert args.funding_hours == (4, 12, 20)
    monkeypatch.setattr(cli, "load_candles", lambda _file: path)
    assert cli._market(args).funding_hours_utc == (4, 12, 20)


@pytest.mark.parametrize(
    ("option", "bad"),
    [("--funding-hours", bad) for bad in ("", "8,8", "24", "a,b")]
    + [("--history-max", bad) for bad in ("0", "-3", "1.5", "abc")],
)
def test_bad_funding_hours_or_history_max_are_a_usage_error(capsys, option, bad):
    with pytest.raises(SystemExit) as exc:
        parse(option, bad)
    assert exc.value.code == 2
    assert option in capsys.readouterr().err


def test_wallets_are_funded_as_a_new_user_unless_told(monkeypatch, path):
    monkeypatch.setattr(cli, "load_candles", lambda _file: path)
    m = cli._market(parse("--candles", "any.csv"))
    assert m.spot_balances()["USDT"].available == 100_000.0
    assert m.futures_account()["total"] == 0.0 and not m.wallets.unified
    args = parse("--candles", "x", "--spot-usdt", "600", "--futures-usdt", "400")
    m = cli._market(args)
    assert (m.spot_balances()["USDT"].available, m.futures_account()["total"]) == (600, 400)
    m = cli._market(
        parse("--candles", "x", "--unified", "--spot-usdt", "600", "--futures-usdt", "4")
    )
    assert m.wallets.unified and m.spot_balances()["USDT"].available == 604.0


@pytest.mark.parametrize("bad", ["-1", "nan", "inf", "abc", "1e13"])
def test_bad_usdt_amounts_are_a_usage_error(capsys, bad):
    with pytest.raises(SystemExit) as exc:
        parse("--spot-usdt", bad)
    assert exc.value.code == 2
    assert "--spot-usdt" in capsys.readouterr().err


def test_history_max_option_reaches_the_market(monkeypatch, path):
    monkeypatch.setattr(cli, "load_candles", lambda _file: path)
    assert cli._market(parse("--candles", "x"))._index.history_max == 5_000
    assert cli._market(parse("--candles", "x", "--history-max", "7"))._index.history_max == 7
