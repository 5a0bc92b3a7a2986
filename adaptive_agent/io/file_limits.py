"""Bounds on what an input file may be before any parser reads it (docs/rules.md, Inputs).

A candle, signal or funding file is plain CSV or gzip-compressed CSV (``.gz``). Before pandas
sees it, one streaming pass (1 MiB at a time, so memory stays bounded whatever the file) checks:

- it is not another archive format (ZIP, bzip2, xz, zstd, 7z): those are refused by name;
- no line is longer than ``MAX_LINE_BYTES`` (a row of ours is under 200 bytes; a longer line is
  a wrong file, and one giant line would otherwise be held in memory whole);
- the (decompressed) size is at most ``MAX_FILE_BYTES`` and the line count at most ``MAX_ROWS``
  (66 years of 5-minute bars): a runaway gzip cannot fill the memory.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

MAX_LINE_BYTES = 4096
MAX_FILE_BYTES = 1 << 30  # 1 GiB, after decompression
MAX_ROWS = 7_000_000
CHUNK = 1 << 20

# Leading bytes of archive formats the loaders do not read (gzip's 1f 8b is read).
_OTHER_ARCHIVES = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
)
_GZIP_MAGIC = b"\x1f\x8b"


class FileLimitError(ValueError):
    """The file breaks one of the bounds; ``str()`` is the problem, ``line`` where (or None)."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


def check_file(path: Path) -> None:
    """Raise ``FileLimitError`` when ``path`` is not a CSV within the bounds (see the module)."""
    with path.open("rb") as raw:
        head = raw.read(8)
    for magic, what in _OTHER_ARCHIVES:
        if head.startswith(magic):
            raise FileLimitError(
                f"is {what}; extract the CSV first (plain .csv and gzip .gz are read)"
            )
    gz = head.startswith(_GZIP_MAGIC)
    if path.suffix == ".gz" and not gz:
        raise FileLimitError("has the .gz suffix but is not gzip-compressed")
    opener = gzip.open if gz else open
    lines = 0
    size = 0
    run = 0  # length of the line still open at the end of the previous chunk
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise FileLimitError(
                        f"is larger than {MAX_FILE_BYTES >> 20} MiB"
                        f"{' decompressed' if gz else ''}: not a 5-minute data file"
                    )
                ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
                if len(ends):
                    # each line's length with its newline; the first one began in earlier chunks
                    lengths = np.diff(np.concatenate(([-run - 1], ends)))
                    over = np.flatnonzero(lengths > MAX_LINE_BYTES + 1)
                    if len(over):
                        raise FileLimitError(_too_long(), lines + int(over[0]) + 1)
                    run = len(chunk) - int(ends[-1]) - 1
                    lines += len(ends)
                    if lines > MAX_ROWS:
                        raise FileLimitError(f"has more than {MAX_ROWS:,} lines")
                else:
                    run += len(chunk)
                if run > MAX_LINE_BYTES:
                    raise FileLimitError(_too_long(), lines + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileLimitError(f"cannot read: {exc}") from None


def _too_long() -> str:
    return f"line longer than {MAX_LINE_BYTES} bytes: not a row of a candle, signal or funding file"
