"""Bar snapshots in real columns: a lossless round trip, column reads, and the migration of a
schema-1 state file (JSON snapshots) in place."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.records import BarSnapshot
from adaptive_agent.state.store import StateStore

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
texts = st.tuples() | st.lists(st.text(max_size=30), min_size=1, max_size=3).map(tuple)
bars = st.builds(
    BarSnapshot,
    time_ms=st.integers(0, 2**53),
    nav=finite,
    price_ref=finite,
    basis=finite,
    w_spot=finite,
    w_long=finite,
    w_short=finite,
    delta_usdt=finite,
    delta_frac=finite,
    margin_frac=finite,
    safe_mode=st.booleans(),
    safe_mode_reasons=texts,
    safe_mode_codes=texts,
    signal=st.sampled_from(["BUY", "SELL", "NONE"]),
    funding_rate=st.none() | finite,
    sharpe_30d=st.none() | finite,
)


@settings(max_examples=60, deadline=None)
@given(bar=bars)
def test_a_bar_reads_back_as_it_was_written(tmp_path_factory, bar):
    store = StateStore(tmp_path_factory.mktemp("b") / "s.sqlite", durable=False)
    store.add_bar(bar)
    assert store.bars(bar.time_ms, bar.time_ms + 1) == [bar]
    store.close()


def _bar(t: int, nav: float, **kw) -> BarSnapshot:
    return BarSnapshot(t, nav, 20_000.0, 0.001, 0.5, 0.0, 0.5, 1.0, 1e-5, 0.1, False, **kw)


def test_columns_are_real_and_read_by_name(tmp_path):
    store = StateStore(tmp_path / "s.sqlite")
    for i in range(5):
        store.add_bar(_bar(i * 300_000, 100.0 + i, funding_rate=None if i % 2 else 1e-4))
    assert store.bar_values(0, 900_000, "time_ms", "nav") == [
        (0, 100.0),
        (300_000, 101.0),
        (600_000, 102.0),
    ]
    with pytest.raises(ValueError, match="safe_mode_reasons"):
        store.bar_values(0, 1, "safe_mode_reasons")
    with pytest.raises(ValueError, match="not a numeric bar column"):
        store.bar_values(0, 1, "nav; DROP TABLE bars")
    # at given close times (calibrate's decision prices), in chunks past SQLite's bound limit
    times = [600_000, 0, 600_000, 123, *range(10**6, 10**6 + 1200)]
    assert store.bar_values_at(times, "nav", "price_ref") == {
        0: (100.0, 20_000.0),
        600_000: (102.0, 20_000.0),
    }
    assert store.bar_values_at([], "nav") == {}
    with pytest.raises(ValueError, match="not a numeric bar column"):
        store.bar_values_at([0], "signal")
    store.close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    # SQL can aggregate them: no JSON to decode
    assert db.execute("SELECT MAX(nav), COUNT(funding_rate) FROM bars").fetchone() == (104.0, 3)
    db.close()


def test_a_schema_1_state_file_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    StateStore(path).close()
    old = [
        _bar(0, 100.0),
        _bar(300_000, 99.5, safe_mode_reasons=("drawdown 5.1%",), safe_mode_codes=("DRAWDOWN",)),
    ]
    db = sqlite3.connect(path)  # rebuild the file as schema 1 wrote it
    db.execute("DROP TABLE bars")
    db.execute("CREATE TABLE bars (time_ms INTEGER PRIMARY KEY, snapshot TEXT NOT NULL)")
    for b in old:
        d = {f: getattr(b, f) for f in BarSnapshot.__dataclass_fields__}
        db.execute("INSERT INTO bars VALUES(?, ?)", (b.time_ms, json.dumps(d)))
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    store = StateStore(path)
    assert store.bars(0, math.inf) == old
    assert store.get_meta("schema_version") == "2"
    store.add_bar(_bar(600_000, 101.0))
    store.close()
    again = StateStore(path)  # opened again: nothing to migrate, nothing lost
    assert [b.nav for b in again.bars(0, 10**12)] == [100.0, 99.5, 101.0]
    again.close()


def test_bar_arrays_read_every_bar_in_chunks(tmp_path):
    store = StateStore(tmp_path / "s.sqlite", durable=False)
    with store.batch():
        for i in range(25_001):  # more than two chunks
            store.add_bar(_bar(i * 300_000, 100.0 + i))
    got = store.bar_arrays("time_ms", "nav")
    assert got["time_ms"].shape == (25_001,) and got["nav"][-1] == 25_100.0
    assert (got["time_ms"][1:] - got["time_ms"][:-1] == 300_000).all()
    with pytest.raises(ValueError, match="signal"):
        store.bar_arrays("signal")
    store.close()
