"""A report folder says how it was made and can be made again (issue 10, item 3)."""

from __future__ import annotations

import hashlib
import json
import shutil

from adaptive_agent.cli import main
from adaptive_agent.data import FUNDING_8H

SECRET = "canary-Influx-pw-8d1f"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_from_report_reproduces_trades_csv(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADAPTIVE_AGENT__STRATEGY__THRESHOLD_FLOOR", "0.004")  # folded in
    monkeypatch.setenv("ADAPTIVE_AGENT__MONITORING__INFLUX_PASSWORD", SECRET)
    funding = tmp_path / "funding.csv.gz"
    shutil.copy(FUNDING_8H, funding)
    argv = ["backtest", "--end", "2022-10-01", "--funding", str(funding), "--nav0", "50000"]
    assert main([*argv, "--out", "first", "--no-html", "--quiet"]) == 0
    first = tmp_path / "first"
    run = json.loads((first / "run.json").read_text())
    assert run["version"] and run["command"].startswith("adaptive-agent backtest --end 2022-10-01")
    assert run["inputs"]["funding"]["sha256"] == _sha(funding)
    assert run["inputs"]["candles"]["sha256"] and run["trades_sha256"] == _sha(first / "trades.csv")
    config = (first / "config.toml").read_text()
    assert "threshold_floor = 0.004" in config  # the effective value, override included
    assert "# influx_password = (a secret: from the environment)" in config
    for f in first.iterdir():  # the secret is in no report file
        assert SECRET not in f.read_text(errors="replace"), f.name
    capsys.readouterr()

    monkeypatch.delenv("ADAPTIVE_AGENT__STRATEGY__THRESHOLD_FLOOR")  # the record decides
    assert main(["backtest", "--from-report", "first", "--out", "again", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"reproduced: trades.csv SHA-256 {run['trades_sha256']}" in out
    assert _sha(tmp_path / "again" / "trades.csv") == run["trades_sha256"]
    assert not (tmp_path / "again" / "equity.html").exists()  # --no-html recorded too

    funding.write_bytes(funding.read_bytes() + b"\n")  # an input changed since
    assert main(["backtest", "--from-report", "first", "--out", "third"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "funding file has changed since" in err[0] and str(funding) in err[0]
    assert not (tmp_path / "third").exists()


def test_from_report_refuses_options_that_would_change_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["backtest", "--from-report", str(tmp_path), "--end", "2023-01-01"]) == 2
    assert "--end cannot change it" in capsys.readouterr().err
    assert main(["backtest", "--from-report", str(tmp_path)]) == 2
    assert "no run record" in capsys.readouterr().err
    (tmp_path / "run.json").write_text("{not json")
    assert main(["backtest", "--from-report", str(tmp_path)]) == 2
    assert "not a run record of adaptive-agent" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]  # nothing written
