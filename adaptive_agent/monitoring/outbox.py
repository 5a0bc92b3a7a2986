"""A crash-safe outbox on disk: text lines waiting to be delivered, oldest first.

Lines are appended to segment files in one directory (``<prefix><n><suffix>``, numbered in
order, append-only, fsync'd together with the directory entry of a new segment). Delivery reads
the oldest segment and hands its lines to a ``deliver`` callable in batches; a segment is
deleted only after every line of it was taken (delivered, or given up by ``deliver`` itself).
A crash before that delivers the segment again, so whoever reads the outbox must tolerate a
line twice. A last line torn by a crash (no newline) is ignored, and so are blank lines and
lines starting with ``#``; a line itself must not contain a newline.

The directory is locked (``flock``) by the ``Outbox`` using it: a second one on the same
directory raises ValueError (two drainers would delete each other's segments). A new ``Outbox``
on a directory left behind by an earlier process finds its segments in ``open()`` and delivers
them before anything appended later.

Not thread-safe: one thread appends and drains.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["Outbox", "complete_lines", "iter_lines"]

log = logging.getLogger(__name__)

SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".lp"


class Outbox:
    """Append, seal, drain and iterate the segments of one outbox directory.

    Args:
        directory: created if missing, then locked until ``close()``.
        max_bytes: appends that would grow the outbox past this size are dropped (counted).
        segment_max_bytes: the open segment is sealed and a new one started past this size.
        owner: names the user in the lock error and in log lines (e.g. ``"InfluxSink"``).
        log_error: how errors are reported (e.g. a rate-limited logger); ``log.error`` if None.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int,
        segment_max_bytes: int,
        owner: str = "Outbox",
        log_error: Callable[..., None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._max_bytes = int(max_bytes)
        self._segment_max_bytes = int(segment_max_bytes)
        self._owner = owner
        self._log_error = log_error or log.error
        self._lock_file: Any = (self.directory / ".lock").open("ab")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise ValueError(f"spool_dir {self.directory} is used by another {owner}") from None
        self._segments: deque[Path] = deque()
        self._next_segment = 0
        self._tail: Any = None  # open file object of the segment being appended to
        self._tail_path: Path | None = None
        self._head_lines: list[str] | None = None
        self._head_index = 0
        self._bytes = 0
        self.pending = 0  # lines waiting (an estimate while a crashed segment is read)
        self.appended = 0  # lines appended since this Outbox was created
        self.dropped = 0  # lines not appended: outbox full or disk failure

    @property
    def empty(self) -> bool:
        """No segment is left (nothing waits, not even a segment of torn or comment lines)."""
        return not self._segments

    def open(self) -> int:
        """Find the segments an earlier process left; returns how many lines they hold."""
        found: list[tuple[int, Path]] = []
        for path in self.directory.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"):
            number = path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]
            if number.isdigit():
                found.append((int(number), path))
        found.sort()
        lines = 0
        for number, path in found:
            self._segments.append(path)
            self._next_segment = number + 1
            try:
                data = path.read_bytes()
            except OSError:
                continue
            self._bytes += len(data)
            lines += len(complete_lines(data))
        self.pending += lines
        return lines

    def append(self, lines: list[str]) -> bool:
        """Append ``lines`` durably (fsync'd) behind everything else; False if they were dropped."""
        if not lines:
            return True
        data = ("\n".join(lines) + "\n").encode()
        if self._bytes + len(data) > self._max_bytes:
            self.dropped += len(lines)
            self._log_error(
                "%s: spool %s is full (%d bytes); %d points dropped",
                self._owner,
                self.directory,
                self._bytes,
                len(lines),
            )
            return False
        try:
            if self._tail is not None and self._tail.tell() >= self._segment_max_bytes:
                self.seal()
            if self._tail is None:
                name = f"{SEGMENT_PREFIX}{self._next_segment:012d}{SEGMENT_SUFFIX}"
                path = self.directory / name
                self._next_segment += 1
                self._tail = path.open("ab")
                self._tail_path = path
                self._segments.append(path)
                _fsync_dir(self.directory)
            self._tail.write(data)
            self._tail.flush()
            os.fsync(self._tail.fileno())
        except OSError as exc:
            self.dropped += len(lines)
            self._log_error("%s: cannot spool %d points: %s", self._owner, len(lines), exc)
            with contextlib.suppress(Exception):
                self.seal()
            return False
        self._bytes += len(data)
        self.pending += len(lines)
        self.appended += len(lines)
        return True

    def seal(self) -> None:
        """Close the segment being appended to; the next append starts a new one."""
        tail, self._tail, self._tail_path = self._tail, None, None
        if tail is not None:
            tail.close()

    def drain(
        self,
        deliver: Callable[[list[str]], int],
        batch_size: int,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> bool:
        """Hand the lines to ``deliver`` oldest first, at most ``batch_size`` at a time.

        ``deliver`` returns how many leading lines of the batch are done; fewer than all means
        "not now": draining stops there and resumes at that line next time. Returns True when
        the outbox is empty, False when ``deliver`` or ``should_stop`` stopped it.
        """
        while self._segments:
            head = self._segments[0]
            if self._tail_path == head:
                self.seal()  # from now on newer lines go to a newer segment
            if self._head_lines is None:
                try:
                    data = head.read_bytes()
                except FileNotFoundError:
                    data = b""
                self._head_lines = complete_lines(data)
                self._head_index = 0
            lines = self._head_lines
            while self._head_index < len(lines):
                if should_stop():
                    return False
                chunk = lines[self._head_index : self._head_index + batch_size]
                done = deliver(chunk)
                self._head_index += done
                self.pending = max(0, self.pending - done)
                if done < len(chunk):
                    return False
            try:
                size = head.stat().st_size
                head.unlink()
            except FileNotFoundError:
                size = 0
            self._bytes = max(0, self._bytes - size)
            self._segments.popleft()
            self._head_lines = None
            self._head_index = 0
        self.pending = 0
        self._bytes = 0
        return True

    def close(self) -> None:
        """Seal the open segment and release the directory for the next ``Outbox``."""
        with contextlib.suppress(Exception):
            self.seal()
        with contextlib.suppress(Exception):
            self._lock_file.close()


def complete_lines(data: bytes) -> list[str]:
    """Lines of a segment; a last line cut short by a crash (no newline) is dropped."""
    text = data.decode("utf-8", errors="replace")
    parts = text.split("\n")  # not splitlines(): \r and friends may sit inside string fields
    parts.pop()  # after the last newline: empty, or an incomplete line
    return [p for p in parts if p and not p.startswith("#")]


def iter_lines(directory: str | os.PathLike[str]) -> Iterator[str]:
    """The lines waiting in an outbox directory, oldest first (for inspection and tests)."""
    paths = sorted(Path(directory).glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"))
    for path in paths:
        yield from complete_lines(path.read_bytes())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
