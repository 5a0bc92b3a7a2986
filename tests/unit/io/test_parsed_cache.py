"""A file read before is served from its binary copy, found by the file's bytes: an edit is
parsed again whatever its time stamps, a bad file is never kept, and a cache that cannot be
used never stops a load."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from adaptive_agent.io import loaders, parsed_cache
from adaptive_agent.io.loaders import InputError, load_candles, load_funding, load_signals

CANDLES = "timestamp,open,high,low,close\n" + "".join(
    f"{1_699_999_800_000 + i * 300_000},{100 + i},{101 + i},{99 + i},{100.5 + i}\n"
    for i in range(20)
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(parsed_cache.CACHE_ENV, str(folder))
    return folder


def _count_parses(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = loaders._parse_candles

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(loaders, "_parse_candles", counting)
    return calls


def test_a_file_read_again_is_not_parsed_again(tmp_path, cache, monkeypatch):
    f = tmp_path / "c.csv"
    f.write_text(CANDLES)
    calls = _count_parses(monkeypatch)
    first = load_candles(f)
    second = load_candles(f)
    assert len(calls) == 1 and len(list(cache.glob("candles-*.npz"))) == 1
    for name in ("ts", "open", "high", "low", "close"):
        a, b = getattr(first, name), getattr(second, name)
        assert a.dtype == b.dtype and np.array_equal(a, b)
        assert not b.flags.writeable  # a copy is shared by every reader: never written to
    assert second.path == str(f)
    renamed = tmp_path / "renamed.csv"  # the same bytes under another name: the same copy
    renamed.write_bytes(f.read_bytes())
    assert load_candles(renamed).path == str(renamed) and len(calls) == 1


def test_an_edit_is_parsed_again_even_with_the_same_size_and_time_stamps(
    tmp_path, cache, monkeypatch
):
    f = tmp_path / "c.csv"
    f.write_text(CANDLES)
    stamp = f.stat()
    calls = _count_parses(monkeypatch)
    load_candles(f)
    f.write_text(CANDLES.replace("100.5\n", "100.4\n", 1))  # same length
    os.utime(f, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert f.stat().st_size == stamp.st_size
    assert load_candles(f).close[0] == 100.4 and len(calls) == 2


def test_a_bad_file_is_reported_every_time_and_never_kept(tmp_path, cache):
    f = tmp_path / "bad.csv"
    f.write_text(CANDLES.replace("101.5", "x", 1))
    for _ in range(2):
        with pytest.raises(InputError, match=r"bad\.csv:3: column 'close'"):
            load_candles(f)
    assert not list(cache.glob("*.npz"))
    with pytest.raises(InputError, match="file not found"):
        load_candles(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="is a directory"):
        load_candles(tmp_path)


def test_a_cache_that_cannot_be_used_never_stops_a_load(tmp_path, monkeypatch):
    f = tmp_path / "c.csv"
    f.write_text(CANDLES)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(parsed_cache.CACHE_ENV, str(blocker / "cache"))  # cannot be created
    assert len(load_candles(f)) == 20
    monkeypatch.setenv(parsed_cache.CACHE_ENV, "off")
    assert len(load_candles(f)) == 20
    folder = tmp_path / "cache"
    monkeypatch.setenv(parsed_cache.CACHE_ENV, str(folder))
    load_candles(f)
    (copy,) = folder.glob("candles-*.npz")
    copy.write_bytes(b"PK\x03\x04 not a zip")  # a damaged copy: parsed again, and replaced
    assert len(load_candles(f)) == 20
    with np.load(copy) as z:
        assert len(z["ts"]) == 20


def test_a_cache_one_may_only_read_is_still_used(tmp_path, cache, monkeypatch):
    f = tmp_path / "c.csv"
    f.write_text(CANDLES)
    load_candles(f)
    calls = _count_parses(monkeypatch)

    def refused(*a, **k):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(parsed_cache.os, "utime", refused)
    assert len(load_candles(f)) == 20 and calls == []


def test_the_most_recently_used_copies_are_kept(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(parsed_cache, "MAX_ENTRIES", 3)
    files = []
    for i in range(5):
        f = tmp_path / f"c{i}.csv"
        f.write_text(CANDLES.replace("100.5\n", f"100.{i + 1}\n", 1))
        files.append(f)
    for f in files[:3]:
        load_candles(f)
    calls = _count_parses(monkeypatch)
    load_candles(files[0])  # used again: the newest
    for f in files[3:]:
        load_candles(f)
    assert len(list(cache.glob("*.npz"))) == 3
    load_candles(files[0])
    assert [str(files[3]), str(files[4])] == calls  # files[0] was still there


def test_signals_and_funding_keep_their_types(tmp_path, cache):
    s = tmp_path / "s.csv"
    s.write_text("timestamp,signal\n1700000000000,buy\n1700000300000,SELL\n")
    fu = tmp_path / "f.csv"
    fu.write_text("timestamp,funding_rate\n1700000000000,0.0001\n1700028800000,-0.0002\n")
    for _ in range(2):
        sig = load_signals(s)
        assert sig.codes.dtype == np.int8 and sig.codes.tolist() == [1, -1]
        assert sig.ts_ms.dtype == np.int64
        fr = load_funding(fu)
        assert fr.rate.tolist() == [0.0001, -0.0002] and fr.path == str(fu)
    assert len(list(cache.glob("*.npz"))) == 2


def test_a_cached_file_loads_without_pandas(tmp_path, cache):
    f = tmp_path / "c.csv"
    f.write_text(CANDLES)
    code = (
        "import sys\n"
        "from adaptive_agent.io.loaders import load_candles\n"
        f"c = load_candles({str(f)!r})\n"
        "print(len(c), 'pandas' in sys.modules)\n"
    )
    env = {**os.environ, parsed_cache.CACHE_ENV: str(cache)}
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["20", "True"], ["20", "False"]], runs
