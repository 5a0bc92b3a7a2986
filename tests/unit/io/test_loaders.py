"""Input files: accepted formats, and every kind of malformed input -> exit 2, one precise line."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adaptive_agent.cli import main
from adaptive_agent.io.loaders import InputError, load_candles, load_funding, load_signals

HEADER = "timestamp,open,high,low,close,volume\n"
T = 1_700_006_400_000  # 2023-11-15 00:00 UTC, on the 5-minute grid


def good_rows(n: int = 30, start: int = T) -> list[str]:
    rows = []
    for i in range(n):
        p = 30_000 + 10 * i
        rows.append(f"{start + 300_000 * i},{p},{p + 20},{p - 20},{p + 5},1.5\n")
    return rows


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_cli(tmp_path: Path, capsys, *args: str) -> tuple[int, str]:
    out = tmp_path / "report"
    rc = main(["backtest", "--out", str(out), "--quiet", "--no-html", *args])
    err = capsys.readouterr().err
    if rc != 0:
        assert not out.exists() or not any(out.iterdir()), "no partial report on bad input"
    return rc, err


def with_row(idx: int, row: str, n: int = 30) -> str:
    rows = good_rows(n)
    rows[idx] = row
    return HEADER + "".join(rows)


BAD_CANDLES = [
    ("missing column", "timestamp,open,high,low,volume\n1,2,3,1,1\n", 1, "missing column(s) close"),
    (
        "unparsable",
        with_row(4, f"{T + 1_200_000},30040,30060,30020,abc,1\n"),
        6,
        "cannot parse 'abc'",
    ),
    ("nan", with_row(5, f"{T + 1_500_000},30050,30070,30030,NaN,1\n"), 7, "NaN"),
    ("empty field", with_row(5, f"{T + 1_500_000},30050,,30030,30055,1\n"), 7, "missing value"),
    ("zero price", with_row(3, f"{T + 900_000},0,30050,30010,30035,1\n"), 5, "not positive"),
    ("negative price", with_row(3, f"{T + 900_000},30030,30050,-5,30035,1\n"), 5, "not positive"),
    ("high below low", with_row(7, f"{T + 2_100_000},30070,30000,30100,30075,1\n"), 9, "below low"),
    ("duplicate ts", with_row(8, f"{T + 2_100_000},30080,30100,30060,30085,1\n"), 10, "duplicate"),
    ("out of order", with_row(8, f"{T},30080,30100,30060,30085,1\n"), 10, "out of order"),
    ("too many fields", with_row(2, f"{T + 600_000},1,2,1,2,1,9\n"), 4, "expected 6 fields"),
    (
        "bad iso time",
        HEADER + "2023-11-15T00:00:00Z,1,2,1,2,1\nyesterday,1,2,1,2,1\n",
        3,
        "cannot parse 'yesterday'",
    ),
    ("off grid", with_row(2, f"{T + 600_001},30020,30040,30000,30025,1\n"), 4, "5-minute grid"),
    (
        "blank line inside",
        HEADER + "".join(good_rows(3)) + "\n" + "".join(good_rows(2, T + 10**7)),
        5,
        "empty line",
    ),
    (
        "negative volume",
        with_row(1, f"{T + 300_000},30010,30030,29990,30015,-1\n"),
        3,
        "negative volume",
    ),
    ("fractional ts", with_row(1, f"{T + 300_000}.5,30010,30030,29990,30015,1\n"), 3, "whole"),
    # wrong figures with exit 0 before (issue 9)
    ("close above high", with_row(4, f"{T + 1_200_000},30040,30060,30020,30070,1\n"), 6, "close"),
    ("open below low", with_row(4, f"{T + 1_200_000},30000,30060,30020,30040,1\n"), 6, "open"),
    ("repeated column", "timestamp,open,high,low,close,close\n" + "".join(good_rows(3)), 1, "more"),
    ("year 0001", HEADER + "0001-01-01T00:00:00Z,1,2,1,2,1\n" + "".join(good_rows(2)), 2, "2009"),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "needle"), BAD_CANDLES, ids=[b[0] for b in BAD_CANDLES]
)
def test_bad_candles_exit_2_with_file_and_line(tmp_path, capsys, name, text, line, needle):
    f = write(tmp_path / "candles.csv", text)
    rc, err = run_cli(tmp_path, capsys, "--candles", str(f))
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"{f}:{line}:" in lines[0], lines[0]
    assert needle in lines[0]
    assert "Traceback" not in err


def test_empty_and_missing_files(tmp_path, capsys):
    empty = write(tmp_path / "empty.csv", "")
    rc, err = run_cli(tmp_path, capsys, "--candles", str(empty))
    assert rc == 2 and "file is empty" in err and str(empty) in err
    rc, err = run_cli(tmp_path, capsys, "--candles", str(tmp_path / "nope.csv"))
    assert rc == 2 and "file not found" in err
    header_only = write(tmp_path / "h.csv", HEADER)
    rc, err = run_cli(tmp_path, capsys, "--candles", str(header_only))
    assert (rc == 2 and "empty" in err) or "no data" in err
    rc, err = run_cli(tmp_path, capsys, "--candles", str(tmp_path))
    assert rc == 2 and "directory" in err


def test_headerless_with_wrong_field_count(tmp_path):
    f = write(tmp_path / "k.csv", f"{T},1,2,1,2,3\n")
    with pytest.raises(InputError, match=r"k.csv:1: no header, and 6 fields"):
        load_candles(f)


SIG_HEADER = "timestamp,signal\n"
BAD_SIGNALS = [
    ("unknown", SIG_HEADER + f"{T},BUY\n{T + 1},HOLD\n", 3, "unknown signal 'HOLD'"),
    ("missing", SIG_HEADER + f"{T},BUY\n{T + 1},\n", 3, "missing signal"),
    ("out of order", SIG_HEADER + f"{T},BUY\n{T - 1},SELL\n", 3, "out of order"),
    ("missing column", "timestamp,side\n1,BUY\n", 1, "missing column(s) signal"),
    ("bad time", SIG_HEADER + "2023-13-45,BUY\n", 2, "cannot parse"),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "needle"), BAD_SIGNALS, ids=[b[0] for b in BAD_SIGNALS]
)
def test_bad_signals(tmp_path, capsys, name, text, line, needle):
    candles = write(tmp_path / "c.csv", HEADER + "".join(good_rows()))
    f = write(tmp_path / "signals.csv", text)
    rc, err = run_cli(tmp_path, capsys, "--candles", str(candles), "--signals", str(f))
    assert rc == 2
    assert len(err.strip().splitlines()) == 1
    assert f"{f}:{line}:" in err and needle in err


FUND_HEADER = "timestamp,funding_rate\n"
BAD_FUNDING = [
    ("nan", FUND_HEADER + f"{T},0.0001\n{T + 28_800_000},nan\n", 3, "NaN"),
    ("duplicate", FUND_HEADER + f"{T},0.0001\n{T},0.0002\n", 3, "duplicate"),
    ("percent", FUND_HEADER + f"{T},0.01\n{T + 1},1.5\n", 3, "plausible"),
    ("missing column", "timestamp,value\n1,0.1\n", 1, "missing column(s) funding_rate"),
    ("text", FUND_HEADER + f"{T},high\n", 2, "cannot parse 'high'"),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "needle"), BAD_FUNDING, ids=[b[0] for b in BAD_FUNDING]
)
def test_bad_funding(tmp_path, capsys, name, text, line, needle):
    candles = write(tmp_path / "c.csv", HEADER + "".join(good_rows()))
    f = write(tmp_path / "funding.csv", text)
    rc, err = run_cli(tmp_path, capsys, "--candles", str(candles), "--funding", str(f))
    assert rc == 2
    assert len(err.strip().splitlines()) == 1
    assert f"{f}:{line}:" in err and needle in err


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    f = write(tmp_path / "c.csv", with_row(4, f"{T + 1_200_000},30040,30060,30020,abc,1\n"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "adaptive_agent",
            "backtest",
            "--candles",
            str(f),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {f}:6: column 'close': cannot parse 'abc' as a number"
    assert not (tmp_path / "r").exists()


def test_accepted_formats_agree(tmp_path):
    """Epoch ms, epoch s, ISO-8601, Binance klines (us), gzip: the same candles."""
    rows = good_rows(5)
    ms = load_candles(write(tmp_path / "ms.csv", HEADER + "".join(rows)))
    sec = HEADER + "".join(
        r.replace(str(int(r.split(",")[0])), str(int(r.split(",")[0]) // 1000), 1) for r in rows
    )
    s = load_candles(write(tmp_path / "s.csv", sec))
    iso_rows = []
    for r in rows:
        t, rest = r.split(",", 1)
        iso = np.datetime64(int(t), "ms").astype("datetime64[s]").astype(str)
        iso_rows.append(f"{iso},{rest}")
    iso = load_candles(
        write(tmp_path / "iso.csv", "Timestamp, Open,High,Low,Close,Volume\n" + "".join(iso_rows))
    )
    klines = "".join(
        f"{int(r.split(',')[0]) * 1000},{','.join(r.strip().split(',')[1:])},0,0,0,0,0,0\n"
        for r in rows
    )
    kl = load_candles(write(tmp_path / "k.csv", klines))
    gz = tmp_path / "g.csv.gz"
    gz.write_bytes(gzip.compress((HEADER + "".join(rows) + "\n\n").encode()))
    g = load_candles(gz)
    for other in (s, iso, kl, g):
        assert other.ts.tolist() == ms.ts.tolist()
        assert other.close.tolist() == ms.close.tolist()
        assert other.high.tolist() == ms.high.tolist()


def test_signals_and_funding_formats(tmp_path):
    sig = load_signals(
        write(
            tmp_path / "s.csv",
            f"timestamp,signal,note\n{T},buy,x\n{T},Sell,y\n2023-11-15T01:00:00+01:00,none,z\n",
        )
    )
    assert sig.codes.tolist() == [1, -1, 0]
    assert sig.ts_ms.tolist()[-1] == T  # 01:00+01:00 is 00:00 UTC: equal timestamps allowed
    fund = load_funding(write(tmp_path / "f.csv", f"timestamp,rate\n{T},0.0001\n{T + 1},-0.0002\n"))
    assert fund.rate.tolist() == [0.0001, -0.0002]
    assert fund.rate_at(np.array([T - 1, T, T + 5]), 0.5).tolist() == [0.5, 0.0001, -0.0002]


def test_perpetual_candles_that_end_early_are_an_error_not_a_frozen_price(tmp_path, capsys):
    spot = write(tmp_path / "spot.csv", HEADER + "".join(good_rows(60)))
    perp = write(tmp_path / "perp.csv", HEADER + "".join(good_rows(30)))  # 2.5 h short
    rc, err = run_cli(tmp_path, capsys, "--candles", str(spot), "--perp-candles", str(perp))
    assert rc == 2 and err.count("\n") == 1
    assert "perpetual candles end at" in err and "--end" in err
    full = write(tmp_path / "perp_full.csv", HEADER + "".join(good_rows(60)))
    rc, _ = run_cli(tmp_path, capsys, "--candles", str(spot), "--perp-candles", str(full))
    assert rc == 0


def test_bad_paths_and_files_on_the_command_line_are_one_line_and_exit_2(tmp_path, capsys):
    """Tracebacks before (issue 9): --config a folder or not UTF-8, --out a file, a bad port."""
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_bytes(b"\xff\xfe[strategy]\n")
    a_file = write(tmp_path / "taken", "x")
    cases = [
        (["backtest", "--config", str(tmp_path), "--no-html"], "is a folder"),
        (["config", "--config", str(bad_toml)], "not UTF-8"),
        (["backtest", "--out", str(a_file), "--no-html"], "is a file, not a folder"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and "Traceback" not in err, err
    with pytest.raises(SystemExit) as stop:
        main(["gate-sim", "--port", "99999"])
    assert stop.value.code == 2 and "outside 0..65535" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("price", "shown"), [("1e-310", "1e-310"), ("1e300", "1e+300"), ("0.00001", "1e-05")]
)
def test_a_price_no_btc_ever_had_is_an_error_not_an_overflow(tmp_path, price, shown):
    rows = good_rows(4)
    parts = rows[2].split(",")
    parts[1:5] = [price] * 4
    rows[2] = ",".join(parts)
    path = write(tmp_path / "c.csv", HEADER + "".join(rows))
    with pytest.raises(InputError) as info:
        load_candles(path)
    assert str(info.value) == (
        f"{path}:4: column 'open': price {shown} is outside [0.0001, 1e+09] USDT,"
        " not a BTC price (a misread file?)"
    )


def test_a_long_bad_value_is_cut_in_the_message(tmp_path):
    rows = good_rows(3)
    rows[1] = "x" * 500 + rows[1][rows[1].index(",") :]
    path = write(tmp_path / "c.csv", HEADER + "".join(rows))
    with pytest.raises(InputError) as info:
        load_candles(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:3: column 'timestamp': cannot parse 'xxxx")
    assert "(500 characters)" in msg and len(msg) < 200
