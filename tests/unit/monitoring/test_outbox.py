"""Outbox: the crash-safe on-disk queue of lines (append, seal, drain, reopen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaptive_agent.monitoring import outbox
from adaptive_agent.monitoring.outbox import Outbox, complete_lines, iter_lines


def _outbox(path: Path, **kw: int) -> Outbox:
    kw.setdefault("max_bytes", 1 << 20)
    kw.setdefault("segment_max_bytes", 1 << 16)
    return Outbox(path, **kw)


class Sink:
    """A ``deliver`` that takes ``accept`` lines per call (all of them when None)."""

    def __init__(self, accept: int | None = None) -> None:
        self.accept = accept
        self.got: list[str] = []

    def __call__(self, lines: list[str]) -> int:
        n = len(lines) if self.accept is None else min(self.accept, len(lines))
        self.got.extend(lines[:n])
        return n


def test_append_then_drain_in_order_and_segments_are_deleted(tmp_path: Path) -> None:
    box = _outbox(tmp_path / "box", segment_max_bytes=20)
    for i in range(10):
        assert box.append([f"line-{i:02d}a", f"line-{i:02d}b"])
    assert box.pending == 20 and box.appended == 20 and not box.empty
    assert len(list((tmp_path / "box").glob("seg-*.lp"))) > 1  # rolled over
    sink = Sink()
    assert box.drain(sink, batch_size=3)
    assert sink.got == [f"line-{i:02d}{s}" for i in range(10) for s in "ab"]
    assert box.empty and box.pending == 0
    assert list((tmp_path / "box").glob("seg-*.lp")) == []
    box.close()


def test_partial_delivery_resumes_at_the_first_line_not_taken(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    box.append([f"p{i}" for i in range(5)])
    sink = Sink(accept=2)
    assert not box.drain(sink, batch_size=4)  # 2 of 4 taken: "not now"
    assert sink.got == ["p0", "p1"] and box.pending == 3
    sink.accept = None
    assert box.drain(sink, batch_size=4)
    assert sink.got == ["p0", "p1", "p2", "p3", "p4"]
    box.close()


def test_should_stop_leaves_the_rest_on_disk(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    box.append(["a", "b"])
    sink = Sink()
    assert not box.drain(sink, batch_size=1, should_stop=lambda: True)
    assert sink.got == [] and list(iter_lines(tmp_path)) == ["a", "b"]
    box.close()


def test_torn_tail_line_is_ignored_after_a_crash_and_the_rest_drains(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    box.append(["one", "two"])
    # the process dies in the middle of the next write: no newline at the end, no close()
    [segment] = tmp_path.glob("seg-*.lp")
    with segment.open("ab") as fh:
        fh.write(b"thr")
    box._tail.close()  # what the kernel does to a dead process's files and lock
    box._lock_file.close()

    again = _outbox(tmp_path)
    assert again.open() == 2 and again.pending == 2
    assert again.append(["four"])  # appended behind the old segment, in a new one
    assert len(list(tmp_path.glob("seg-*.lp"))) == 2
    sink = Sink()
    assert again.drain(sink, batch_size=10)
    assert sink.got == ["one", "two", "four"]
    assert again.empty
    again.close()


def test_reopen_after_a_clean_close_drains_what_was_left(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    box.append(["x", "y", "z"])
    assert not box.drain(Sink(accept=1), batch_size=3)  # x taken, segment kept
    box.close()
    again = _outbox(tmp_path)
    assert again.open() == 3  # x is delivered again: at-least-once
    sink = Sink()
    assert again.drain(sink, batch_size=3)
    assert sink.got == ["x", "y", "z"]
    again.close()


def test_one_outbox_per_directory(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    with pytest.raises(ValueError, match="used by another Tester"):
        Outbox(tmp_path, max_bytes=100, segment_max_bytes=100, owner="Tester")
    box.close()
    _outbox(tmp_path).close()  # released


def test_full_outbox_drops_and_counts(tmp_path: Path) -> None:
    errors: list[str] = []
    box = Outbox(
        tmp_path, max_bytes=10, segment_max_bytes=100, log_error=lambda m, *a: errors.append(m % a)
    )
    assert box.append(["12345"])  # 6 bytes
    assert not box.append(["123456"])  # 7 more would exceed 10
    assert box.dropped == 1 and box.pending == 1 and "is full" in errors[0]
    assert box.append([])  # nothing to do
    box.close()


def test_disk_failure_drops_and_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[str] = []
    box = Outbox(
        tmp_path,
        max_bytes=1000,
        segment_max_bytes=100,
        log_error=lambda m, *a: errors.append(m % a),
    )
    box.append(["ok"])

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as m:
        m.setattr(outbox.os, "fsync", failing_fsync)  # a failing disk
        assert not box.append(["lost"])
    assert box.dropped == 1 and "cannot spool" in errors[0]
    assert box.append(["next"])  # a fresh segment
    sink = Sink()
    assert box.drain(sink, batch_size=10)
    assert sink.got == ["ok", "lost", "next"]  # written but not synced: it may well be there
    box.close()


def test_complete_lines_skips_comments_blanks_and_the_torn_tail() -> None:
    data = b"# note\na b=1 1\n\nc\rd=2 2\ntorn"
    assert complete_lines(data) == ["a b=1 1", "c\rd=2 2"]
    assert complete_lines(b"") == []
