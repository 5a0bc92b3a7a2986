"""``adaptive-agent status``: the operator's first look, from the state database alone."""

from __future__ import annotations

from adaptive_agent.cli import main
from adaptive_agent.state.store import StateStore


def test_status_of_a_paper_run_names_the_book_safe_mode_and_the_last_rebalance(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["paper", "--bars", "200", "--state", "p.sqlite"]) == 0
    capsys.readouterr()
    assert main(["status", "--state", "p.sqlite"]) == 0
    out = capsys.readouterr().out
    for needle in ("last close     2022-", "NAV ", "BTC_SPOT", "target  50.00%", "delta "):
        assert needle in out, needle
    assert "safe mode      off" in out and "kill switch    off" in out
    assert "last rebalance " in out and ": done" in out and "open orders    0" in out
    store = StateStore(tmp_path / "p.sqlite", create=False)
    store.set_manual_safe_mode(True, 1)
    store.add_event(2, "reconcile_mismatch", "spot: open order 123")
    store.close()
    assert main(["status", "--state", "p.sqlite"]) == 0
    out = capsys.readouterr().out
    assert "kill switch    on" in out and "reconcile_mismatch: spot: open order 123" in out


def test_status_refuses_a_state_file_that_does_not_exist(tmp_path, capsys):
    assert main(["status", "--state", str(tmp_path / "nope.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "nope.sqlite" in err and "no such state database" in err
