"""Input files parsed once: a binary copy of what a loader made of a file, found again by the
file's content.

Parsing the bundled 5-minute candles (306,704 rows, gzip) with pandas costs about half a second,
and importing pandas as much again; a backtest CLI or a sweep that reads the same file again
loads the arrays it gave from an uncompressed ``.npz`` instead, in milliseconds. The copy's name
is a hash of the file's bytes (not its name or time stamps: an edited file is parsed again even
within the same second, a renamed one is not), of the kind of loader and of the source of every
module that decides what a file means (the loaders, the timestamp rule, the file bounds, the
signal names), so a changed rule never serves an old reading. Only files that parsed without
error are kept: a bad file is parsed, and reported, every time.

The cache is a convenience, never a source of failure: a folder that cannot be written, a copy
that cannot be read, a full disk — the file is parsed as if there were no cache. Copies live in
``$ADAPTIVE_AGENT_CACHE_DIR``, else ``$XDG_CACHE_HOME/adaptive_agent``, else
``~/.cache/adaptive_agent``; the ``MAX_ENTRIES`` most recently used are kept.
``ADAPTIVE_AGENT_CACHE_DIR=off`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

CACHE_ENV = "ADAPTIVE_AGENT_CACHE_DIR"
MAX_ENTRIES = 16
_PACKAGE = Path(__file__).resolve().parents[1]
RULE_SOURCES = (
    "io/loaders.py",
    "io/timestamps.py",
    "io/file_limits.py",
    "io/parsed_cache.py",
    "core/signals.py",
    "core/time_rules.py",
)


def _rules_hash() -> bytes:
    h = hashlib.sha256(f"numpy {np.__version__}".encode())
    for rel in RULE_SOURCES:
        h.update(rel.encode() + b"\0" + (_PACKAGE / rel).read_bytes())
    return h.digest()


_RULES = _rules_hash()


def cache_dir() -> Path | None:
    env = os.environ.get(CACHE_ENV)
    if env:
        return None if env == "off" else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "adaptive_agent"


def _key(kind: str, path: Path) -> str:
    h = hashlib.blake2b(_RULES + kind.encode() + b"\0", digest_size=20)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def load(
    kind: str, path: Path, parse: Callable[[Path], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The arrays ``parse(path)`` gives, from the binary copy when the file was read before
    (as read-only arrays), else parsed now and kept for next time. ``parse`` raises for a bad
    file as it always does: nothing is kept then."""
    folder = cache_dir()
    if folder is None:
        return parse(path)
    try:
        copy = folder / f"{kind}-{_key(kind, path)}.npz"
    except OSError:  # not found, a directory, unreadable: parse() says which, as always
        return parse(path)
    try:
        with copy.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        _used(copy)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        arrays = parse(path)
        _keep(folder, copy, arrays)
        return arrays
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


def _used(copy: Path) -> None:
    """Mark ``copy`` as the most recently used: its mtime set from the clock in nanoseconds
    (a file system stamps files with a coarse clock: two copies written within its tick would
    tie, and the eviction could drop the newer)."""
    now = time.time_ns()
    with contextlib.suppress(OSError):  # a cache one may only read: used, not refreshed
        os.utime(copy, ns=(now, now))


def _keep(folder: Path, copy: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the copy whole or not at all (temporary file, then rename); evict the oldest."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, copy)
        except BaseException:
            os.unlink(tmp)
            raise
        _used(copy)
        entries = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-MAX_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
