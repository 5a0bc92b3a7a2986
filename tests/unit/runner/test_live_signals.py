"""Live signal sources (file follower, webhook) and the one timestamp and signal parser."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from aiohttp import web

from adaptive_agent.core.model import Signal
from adaptive_agent.core.signals import parse_signal
from adaptive_agent.io.loaders import InputError, load_signals
from adaptive_agent.io.timestamps import TimestampError, parse_timestamp
from adaptive_agent.runner.live_signals import FileFollower, SignalBook, webhook_app

T_MS = 1_667_952_000_000  # 2022-11-09 00:00 UTC


async def _serve(book, now_ms=lambda: 7_000):
    runner = web.AppRunner(webhook_app(book, "s3cret", now_ms=now_ms))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/signal"


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


@pytest.mark.parametrize(
    "text",
    [
        str(T_MS // 1000),  # seconds
        str(T_MS),  # milliseconds
        str(T_MS * 1000),  # microseconds (Binance's newer dumps)
        "2022-11-09T00:00:00Z",
        "2022-11-09 00:00:00",  # no zone: UTC
        "2022-11-09T01:00:00+01:00",
    ],
)
def test_every_input_reads_a_time_by_the_same_rule(tmp_path, text):
    """Files, the follower and the webhook agree on every accepted form (µs included)."""
    f = tmp_path / "s.csv"
    f.write_text(f"timestamp,signal\n{text},BUY\n")
    assert load_signals(f).ts_ms.tolist() == [T_MS]
    book = SignalBook()
    assert FileFollower(f, book).poll() == 1 and book.ts == [T_MS]
    assert parse_timestamp(text) == T_MS

    async def post():
        hook = SignalBook()
        runner, url = await _serve(hook, now_ms=lambda: T_MS + 60_000)
        try:
            async with aiohttp.ClientSession() as http:
                body = {"signal": "BUY", "timestamp": text}
                r = await http.post(url, json=body, headers={"Authorization": "Bearer s3cret"})
                return r.status, hook.ts
        finally:
            await runner.cleanup()

    assert asyncio.run(post()) == (200, [T_MS])


@pytest.mark.parametrize("bad", ["yesterday", "1.5", "-3", "1e30", ""])
def test_a_bad_time_gives_the_same_words_everywhere(tmp_path, caplog, bad):
    try:
        parse_timestamp(bad)
    except TimestampError as exc:
        problem = exc.problem
    else:
        raise AssertionError(f"{bad!r} was accepted")
    f = tmp_path / "s.csv"
    f.write_text(f"timestamp,signal\n{bad},BUY\n")
    with pytest.raises(InputError) as err:
        load_signals(f)
    assert str(err.value).endswith(problem)
    caplog.set_level(logging.ERROR)
    assert FileFollower(f, SignalBook()).poll() == 0
    assert problem in caplog.text


def test_signal_names_have_one_parser():
    assert parse_signal(" sell ") is Signal.SELL and parse_signal("None") is Signal.NONE
    for bad in ("HOLD", "", True, 1):
        with pytest.raises(ValueError, match="expected BUY, SELL or NONE"):
            parse_signal(bad)


def test_the_webhook_refuses_dated_deep_oversized_and_flooding_requests():
    """A signal stamped in the future would freeze every later one as "older" (issue 9)."""

    async def scenario():
        rejected: list[str] = []
        book = SignalBook(ttl_ms=3_600_000)
        runner = web.AppRunner(
            webhook_app(
                book,
                "s3cret",
                now_ms=lambda: T_MS,
                max_per_minute=12,
                on_reject=rejected.append,
            )
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/signal"
        auth = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
        codes = []
        try:
            async with aiohttp.ClientSession() as http:
                bodies = [
                    '{"signal": "BUY", "timestamp": "2100-01-01T00:00:00Z"}',  # future
                    json.dumps({"signal": "BUY", "timestamp": T_MS - 2 * 3_600_000}),  # past TTL
                    "[" * 2000 + "]" * 2000,  # deep
                    '{"signal": "BUY", "timestamp": 1e400}',  # not a finite time
                    '{"signal": ["BUY"]}',  # not flat
                    "x" * 5000,  # over the size cap
                    json.dumps({"signal": "SELL", "timestamp": T_MS - 60_000}),  # fine
                    '{"signal": "BUY"}',  # fine: now
                ]
                for body in bodies:
                    r = await http.post(url, data=body, headers=auth)
                    codes.append(r.status)
                for _ in range(6):  # 14 requests within a minute: the cap is 12
                    r = await http.post(url, data='{"signal": "NONE"}', headers=auth)
                    codes.append(r.status)
        finally:
            await runner.cleanup()
        return codes, rejected, book

    codes, rejected, book = asyncio.run(scenario())
    assert codes[:6] == [400, 400, 400, 400, 400, 413]
    assert codes[6:8] == [200, 200]
    assert codes[8:12] == [200] * 4 and codes[12:] == [429, 429]
    assert book.ts == [T_MS - 60_000, T_MS, T_MS, T_MS, T_MS, T_MS]
    assert len(rejected) == 1 and "in the future" in rejected[0]  # once a minute, not a flood


def test_an_older_signal_is_refused_in_utc_text_not_epoch_ms():
    book = SignalBook()
    t = 1_668_000_000_000
    book.add(t, Signal.BUY, "test")
    with pytest.raises(ValueError) as info:
        book.add(t - 60_000, Signal.SELL, "test")
    assert str(info.value) == (
        "signal at 2022-11-09 13:19:00 UTC is older than the last one (2022-11-09 13:20:00 UTC)"
    )
