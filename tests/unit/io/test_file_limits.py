"""Bounds checked before any parser reads a file: archives, line length, size, row count."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from pathlib import Path

import pytest

from adaptive_agent.cli import main
from adaptive_agent.io import file_limits
from adaptive_agent.io.file_limits import MAX_LINE_BYTES, FileLimitError, check_file
from adaptive_agent.io.loaders import InputError, load_candles, load_funding, load_signals

HEADER = "timestamp,open,high,low,close\n"
ROW = "2023-11-15T00:00:00Z,30000,30020,29980,30005\n"


def test_a_plain_and_a_gzip_csv_pass(tmp_path):
    plain = tmp_path / "c.csv"
    plain.write_text(HEADER + ROW)
    check_file(plain)
    gz = tmp_path / "c.csv.gz"
    gz.write_bytes(gzip.compress((HEADER + ROW).encode()))
    check_file(gz)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p: _zip(p), "a ZIP archive"),
        (lambda p: p.write_bytes(bz2.compress(b"x" * 100)), "a bzip2 archive"),
        (lambda p: p.write_bytes(lzma.compress(b"x" * 100)), "an xz archive"),
    ],
)
def test_other_archives_are_refused_by_name(tmp_path, make, what):
    path = tmp_path / "candles.csv"  # the suffix does not matter: the bytes do
    make(path)
    with pytest.raises(FileLimitError, match=f"is {what}; extract the CSV first"):
        check_file(path)


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("candles.csv", HEADER + ROW)


def test_a_gz_suffix_on_a_plain_file_is_refused(tmp_path):
    path = tmp_path / "c.csv.gz"
    path.write_text(HEADER + ROW)
    with pytest.raises(FileLimitError, match="not gzip-compressed"):
        check_file(path)


def test_a_broken_gzip_is_one_line(tmp_path):
    path = tmp_path / "c.csv.gz"
    path.write_bytes(gzip.compress((HEADER + ROW * 100).encode())[:60])
    with pytest.raises(FileLimitError, match="cannot read"):
        check_file(path)


@pytest.mark.parametrize("where", [2, 5])
def test_an_over_long_line_is_named_by_number(tmp_path, where):
    lines = [HEADER] + [ROW] * 6
    lines[where - 1] = "1" * (MAX_LINE_BYTES + 1) + "\n"
    path = tmp_path / "c.csv"
    path.write_text("".join(lines))
    with pytest.raises(FileLimitError) as info:
        check_file(path)
    assert info.value.line == where


def test_a_line_of_exactly_the_limit_passes(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "1" * MAX_LINE_BYTES + "\n" + ROW)
    check_file(path)


def test_a_line_split_across_chunks_is_measured_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(file_limits, "CHUNK", 64)
    path = tmp_path / "c.csv"
    path.write_text(HEADER + ROW + "2" * (MAX_LINE_BYTES + 10) + "\n" + ROW)
    with pytest.raises(FileLimitError) as info:
        check_file(path)
    assert info.value.line == 3
    ok = tmp_path / "ok.csv"
    ok.write_text(HEADER + ROW * 40)  # many chunk boundaries, no long line
    check_file(ok)


def test_an_unterminated_giant_last_line_is_caught_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(file_limits, "CHUNK", 1024)
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "9" * (MAX_LINE_BYTES * 3))
    with pytest.raises(FileLimitError) as info:
        check_file(path)
    assert info.value.line == 2


def test_size_and_row_bounds(tmp_path, monkeypatch):
    path = tmp_path / "c.csv"
    path.write_text(HEADER + ROW * 50)
    monkeypatch.setattr(file_limits, "MAX_ROWS", 10)
    with pytest.raises(FileLimitError, match="more than 10 lines"):
        check_file(path)
    monkeypatch.setattr(file_limits, "MAX_ROWS", 10_000)
    monkeypatch.setattr(file_limits, "MAX_FILE_BYTES", 1024)
    with pytest.raises(FileLimitError, match="larger than 0 MiB"):
        check_file(path)
    gz = tmp_path / "bomb.csv.gz"  # small on disk, large decompressed
    gz.write_bytes(gzip.compress((HEADER + ROW * 200).encode()))
    with pytest.raises(FileLimitError, match="decompressed"):
        check_file(gz)


@pytest.mark.parametrize("loader", [load_candles, load_signals, load_funding])
def test_every_loader_applies_the_bounds_with_the_path_and_line(tmp_path, loader):
    path = tmp_path / "in.csv"
    path.write_text("timestamp,x\n" + "z" * (MAX_LINE_BYTES + 1) + "\n")
    with pytest.raises(InputError) as info:
        loader(path)
    assert str(info.value).startswith(f"{path}:2: line longer than {MAX_LINE_BYTES} bytes")


def test_the_cli_says_one_line_for_a_zip(tmp_path, capsys):
    path = tmp_path / "candles.zip"
    _zip(path)
    out = tmp_path / "r"
    assert main(["backtest", "--candles", str(path), "--out", str(out), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"error: {path}: is a ZIP archive; extract the CSV first (plain .csv and gzip .gz are read)"
    ]
    assert not out.exists()
