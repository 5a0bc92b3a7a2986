"""State store durability rules and the live signal sources (file follower, webhook)."""

from __future__ import annotations

import asyncio
import sqlite3

import aiohttp
import pytest
from aiohttp import web

from adaptive_agent.core.model import EngineState, Signal
from adaptive_agent.runner.live_signals import FileFollower, SignalBook, webhook_app
from adaptive_agent.state.store import StateStore


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
    with pytest.raises(RuntimeError, match="schema 999"):
        StateStore(tmp_path / "s.sqlite")


def test_file_follower_reads_appended_rows_and_skips_bad_ones(tmp_path, caplog):
    f = tmp_path / "signals.csv"
    book = SignalBook()
    follower = FileFollower(f, book)
    assert follower.poll() == 0  # not there yet
    f.write_text("timestamp,signal\n1000,BUY\n")
    assert follower.poll() == 1 and book.at(1_000_000) is Signal.BUY
    with f.open("a") as fh:
        fh.write("2000,HOLD\n3000,sell\n4000,N")  # a bad row, a good row, a partial line
    assert follower.poll() == 1
    assert "signals.csv:3: ignored: unknown signal 'HOLD'" in caplog.text
    assert book.at(3_500_000) is Signal.SELL
    with f.open("a") as fh:
        fh.write("ONE\n500,BUY\n")  # the partial line completes; then an out-of-order row
    assert follower.poll() == 1 and book.at(5_000_000) is Signal.NONE
    assert "older than the last" in caplog.text
    f.write_text("timestamp,signal\n9000,BUY\n")  # rotated / truncated
    follower.poll()
    assert book.at(9_000_000) is Signal.BUY


def test_signal_ttl():
    book = SignalBook(ttl_ms=60_000)
    book.add(0, Signal.BUY, "t")
    assert book.at(60_000) is Signal.BUY and book.at(60_001) is Signal.NONE
    assert book.at(-1) is Signal.NONE


def test_webhook_accepts_only_authenticated_well_formed_signals():
    async def scenario():
        seen = []
        book = SignalBook(on_add=lambda t, s, src: seen.append((t, s, src)))
        runner = web.AppRunner(webhook_app(book, "s3cret", now_ms=lambda: 7_000))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/signal"
        auth = {"Authorization": "Bearer s3cret"}
        try:
            async with aiohttp.ClientSession() as http:
                r = await http.post(url, json={"signal": "BUY"})
                assert r.status == 401
                r = await http.post(
                    url, json={"signal": "BUY"}, headers={"Authorization": "Bearer x"}
                )
                assert r.status == 401
                r = await http.post(url, data="not json", headers=auth)
                assert r.status == 400
                r = await http.post(url, json={"signal": "HOLD"}, headers=auth)
                assert r.status == 400
                r = await http.post(url, json={"nope": 1}, headers=auth)
                assert r.status == 400
                assert seen == []  # nothing changed
                r = await http.post(url, json={"signal": "sell"}, headers=auth)
                assert r.status == 200 and (await r.json())["timestamp"] == 7_000
                r = await http.post(
                    url, json={"signal": "BUY", "timestamp": "1970-01-01T00:00:08Z"}, headers=auth
                )
                assert r.status == 200
                r = await http.post(url, json={"signal": "BUY", "timestamp": 1}, headers=auth)
                assert r.status == 400  # older than the last one
        finally:
            await runner.cleanup()
        return seen

    seen = asyncio.run(scenario())
    assert seen == [(7_000, Signal.SELL, "webhook"), (8_000, Signal.BUY, "webhook")]


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
