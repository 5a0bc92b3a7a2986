"""``adaptive-agent calibrate`` on a paper run (issue 11, item 5): the maker share and the
slippage it reports are those of the run's trades, computed here independently."""

from __future__ import annotations

import sqlite3

import pytest

from adaptive_agent.cli import main


def _independent(db) -> tuple[float, float]:
    """Maker share of notional, and the notional-weighted taker slippage against P_ref."""
    import json

    con = sqlite3.connect(db)
    rows = [json.loads(r[0]) for r in con.execute("SELECT record FROM trades")]
    con.close()
    notional = [abs(r["size_btc"]) * r["price"] for r in rows]
    maker = sum(n for n, r in zip(notional, rows, strict=True) if r["liquidity"] == "maker")
    taker = [(n, r) for n, r in zip(notional, rows, strict=True) if r["liquidity"] == "taker"]
    slip = sum(
        n * (1 if r["side"] == "buy" else -1) * (r["price"] - r["ref_price"]) / r["ref_price"]
        for n, r in taker
    ) / sum(n for n, _ in taker)
    return maker / sum(notional), slip


@pytest.mark.parametrize("fill_model", ["realistic", "backtest"])
def test_calibrate_reports_the_runs_maker_share_and_slippage(
    fill_model, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = ["paper", "--fill-model", fill_model, "--bars", "1500", "--state", "p.sqlite"]
    assert main([*argv, "--out", "r"]) == 0
    capsys.readouterr()
    assert main(["calibrate", "--state", "p.sqlite", "--out", "observed.toml"]) == 0
    out = capsys.readouterr().out
    share, slip = _independent(tmp_path / "p.sqlite")
    assert f"maker share           {share:.4%}" in out
    assert f"taker slippage        {slip:.4%}" in out
    snippet = (tmp_path / "observed.toml").read_text()
    assert f"maker_fill_ratio = {share:.6g}" in snippet and f"slippage = {slip:.6g}" in snippet
    # the snippet is a configuration the program reads
    assert main(["config", "--config", "observed.toml"]) == 0
    if fill_model == "backtest":  # the model's own fills: what it assumes comes back
        assert share == pytest.approx(0.5, abs=1e-3)
        assert slip == pytest.approx(0.0002, abs=5e-5)


def test_calibrate_refuses_a_missing_or_empty_state(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "--state", "nope.sqlite"]) == 2
    assert "nope.sqlite" in capsys.readouterr().err
    assert not (tmp_path / "nope.sqlite").exists()


def test_the_audit_flags_a_fill_model_the_fills_contradict(tmp_path, monkeypatch, capsys):
    """A book with a spread (the realistic fill model) fills no post-only order: the fills'
    maker share (0) is far from backtest.maker_fill_ratio (0.5), and the audit says so."""
    monkeypatch.chdir(tmp_path)
    argv = ["paper", "--fill-model", "realistic", "--bars", "1500", "--state", "p.sqlite"]
    assert main([*argv, "--out", "r"]) == 0
    capsys.readouterr()
    proposals = sorted((tmp_path / "r" / "audit").glob("proposal-*.md"))
    texts = [p.read_text() for p in proposals]
    drift = [t for t in texts if "backtest.maker_fill_ratio" in t]
    assert drift, [p.name for p in proposals]
    assert "maker share 0.00% vs backtest.maker_fill_ratio 50.00%" in drift[-1]
