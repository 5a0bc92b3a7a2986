"""State store durability rules."""

from __future__ import annotations

import sqlite3

import pytest

from adaptive_agent.core.model import EngineState
from adaptive_agent.state.store import StateError, StateStore


def test_intents_are_durable_before_anything_is_sent(tmp_path):
    db = tmp_path / "state.sqlite"
    store = StateStore(db)
    order = {
        "client_id": "t-abc1sp",
        "leg": "BTC_SPOT",
        "order_type": "BUY",
        "market": "spot",
        "phase": "post_only",
        "amount": 0.5,
        "price": 50_000.0,
    }
    store.begin_rebalance("abc1", 1_000, {"k": 1}, [order], 1_000)
    # A second connection (another process after a crash) sees the intent at once.
    other = sqlite3.connect(db)
    assert other.execute("SELECT status FROM orders WHERE client_id='t-abc1sp'").fetchone() == (
        "intent",
    )
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    other.close()
    with pytest.raises(sqlite3.IntegrityError):  # one client id, one order, ever
        store.add_orders("abc1", [order], 2_000)
    store.update_order("t-abc1sp", 2_000, status="closed", filled=0.5, avg_price=50_000.0)
    with pytest.raises(KeyError):
        store.update_order("t-nope", 2_000, status="closed")
    with pytest.raises(ValueError):
        store.update_order("t-abc1sp", 2_000, leg="x")
    assert store.unfinished_rebalances() == ["abc1"]
    store.finish_rebalance("abc1", "done", 3_000)
    assert store.unfinished_rebalances() == [] and store.has_rebalance("abc1")
    assert store.order("t-abc1sp").filled == 0.5
    assert [o.client_id for o in store.orders(statuses=("closed",))] == ["t-abc1sp"]
    store.save_engine_state(EngineState(1_000, 123.0, None, True))
    store.set_manual_safe_mode(True, 5)
    store.close()
    again = StateStore(db)
    assert again.load_engine_state() == EngineState(1_000, 123.0, None, True)
    assert again.manual_safe_mode
    assert again.events("manual_safe_mode") == [(5, "manual_safe_mode", "on")]
    again.close()


def test_schema_version_mismatch_is_refused(tmp_path):
    s = StateStore(tmp_path / "s.sqlite")
    s.set_meta("schema_version", "999")
    s.close()
    with pytest.raises(StateError, match="schema 999, this program reads 2"):
        StateStore(tmp_path / "s.sqlite")


def test_reset_trading_history_keeps_the_kill_switch(tmp_path):
    store = StateStore(tmp_path / "p.sqlite")
    store.begin_rebalance("r1", 1, {}, [], 1)
    store.save_engine_state(EngineState(1, 2.0, None, False))
    store.set_manual_safe_mode(True, 1)
    store.reset_trading_history()
    assert not store.has_rebalance("r1") and store.load_engine_state() is None
    assert store.manual_safe_mode
    store.close()


def test_a_second_paper_run_on_the_same_state_trades_again(tmp_path, monkeypatch, capsys):
    from adaptive_agent.cli import main

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["paper", "--bars", "200", "--state", "s.sqlite"]) == 0
        out = capsys.readouterr().out
        rebalances = int(out.split(" rebalances")[0].rsplit(" ", 1)[1])
        assert rebalances > 0


def test_bars_keep_their_safe_mode_codes(tmp_path):
    from tests.support.influxd_fixture import make_bar

    store = StateStore(tmp_path / "b.sqlite")
    bar = make_bar(5, safe_mode=True, safe_mode_reasons=("x",), safe_mode_codes=("margin",))
    store.add_bar(bar)
    (back,) = store.bars(bar.time_ms - 1, bar.time_ms + 1)
    assert back == bar and back.safe_mode_codes == ("margin",)
    store.close()


def test_commands_never_make_a_new_state_database(tmp_path, capsys):
    """``safe-mode on --state typo`` must not print "on" into a file no agent reads."""
    from adaptive_agent.cli import main

    typo = tmp_path / "typo" / "liv.sqlite"
    assert main(["safe-mode", "on", "--state", str(typo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(typo) in err and "state/live.sqlite" in err
    assert not typo.exists() and not typo.parent.exists()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all, just some words " * 20)
    for argv in (["safe-mode", "status"], ["audit", "--date", "2024-01-01"]):
        assert main([*argv, "--state", str(junk)]) == 2
        assert "not a state database" in capsys.readouterr().err
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    before = other.read_bytes()
    assert main(["safe-mode", "on", "--state", str(other)]) == 2
    assert "not a state database" in capsys.readouterr().err
    assert other.read_bytes() == before  # a foreign database is left exactly as it was
    assert not (tmp_path / "other.sqlite-wal").exists()
    real = tmp_path / "live.sqlite"
    StateStore(real).close()
    assert main(["safe-mode", "on", "--state", str(real)]) == 0
    assert "on" in capsys.readouterr().out
    store = StateStore(real, create=False)
    assert store.manual_safe_mode
    store.close()


@pytest.mark.parametrize("stored", ["ON", "1", "true", "garbage", ""])
def test_a_kill_switch_value_that_is_not_exactly_off_reads_as_on(tmp_path, stored):
    store = StateStore(tmp_path / "k.sqlite")
    assert not store.manual_safe_mode  # never set: off
    store.set_meta("manual_safe_mode", stored)
    assert store.manual_safe_mode
    store.set_manual_safe_mode(False, 1)
    assert not store.manual_safe_mode
    store.close()


def test_one_agent_per_state_file(tmp_path):
    from adaptive_agent.state.store import StateError

    db = tmp_path / "one.sqlite"
    first = StateStore(db, lock=True)
    with pytest.raises(StateError, match="already in use by another agent"):
        StateStore(db, lock=True)
    reader = StateStore(db)  # commands and tests may still read it
    reader.close()
    first.close()
    StateStore(db, lock=True).close()  # released on close (and by the kernel on a crash)


def test_a_batch_commits_its_writes_together_or_not_at_all(tmp_path):
    db = tmp_path / "s.sqlite"
    store = StateStore(db)
    other = sqlite3.connect(db)
    with store.batch():
        store.set_meta("a", "1")
        with store.batch():  # nested: the outer one commits
            store.set_meta("b", "2")
        assert other.execute("SELECT COUNT(*) FROM meta WHERE key IN ('a', 'b')").fetchone() == (0,)
    assert other.execute("SELECT COUNT(*) FROM meta WHERE key IN ('a', 'b')").fetchone() == (2,)
    with pytest.raises(ZeroDivisionError), store.batch():
        store.set_meta("c", "3")
        store.save_engine_state(EngineState(1, 2.0, None, False))
        1 / 0  # noqa: B018
    assert store.get_meta("c") is None and store.load_engine_state() is None
    store.set_meta("d", "4")  # and the store works on
    assert other.execute("SELECT value FROM meta WHERE key = 'd'").fetchone() == ("4",)
    other.close()
    store.close()


def test_rebalance_ids_in_a_time_range(tmp_path):
    store = StateStore(tmp_path / "s.db")
    for t in (100, 200, 300, 400):
        store.begin_rebalance(f"r{t}", t, {"t": t}, [], t)
    assert [r[0] for r in store.rebalance_ids()] == ["r100", "r200", "r300", "r400"]
    assert [r[0] for r in store.rebalance_ids(200, 400)] == ["r200", "r300"]  # [start, end)
    assert store.rebalance_ids(500, 600) == []
    assert store.rebalance_ids(300)[0][1:] == (300, '{"t": 300}')
    store.close()


def test_order_fill_times_of_the_rebalances_decided_in_a_window(tmp_path):
    store = StateStore(tmp_path / "s.db")
    for t in (100, 200, 300):
        order = {"client_id": f"c{t}", "leg": "BTC_SPOT", "order_type": "BUY", "market": "spot"}
        order |= {"phase": "post_only", "amount": 0.5, "price": 50_000.0}
        store.begin_rebalance(f"r{t}", t, {}, [order], t + 1)
        if t != 300:  # c300 never fills
            store.update_order(f"c{t}", t + 50, status="closed", filled=0.5, avg_price=5e4)
    assert store.order_fill_times(0, 1_000) == [
        ("c100", "post_only", 101, 150),
        ("c200", "post_only", 201, 250),
    ]
    assert store.order_fill_times(200, 300) == [("c200", "post_only", 201, 250)]
    store.close()
