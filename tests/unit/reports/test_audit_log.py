"""The audit's Log.xlsx never loses rows; when it cannot be used the row goes to Log.csv."""

from __future__ import annotations

import csv
import warnings

import pytest
from openpyxl import Workbook, load_workbook

from adaptive_agent.config import AppConfig
from adaptive_agent.reports import audit_log
from adaptive_agent.reports.audit import LOG_COLUMNS, run_audit
from tests.support.audit_history import DAY, good_returns, history


def make_existing_log(path) -> list[tuple]:
    wb = Workbook()
    ws = wb.active
    ws.title = "audit"
    ws.append(list(LOG_COLUMNS))
    old = []
    for i in range(3):
        row = [f"2025-06-0{i + 1}", "2025-06-01T00:00:00Z", 1.0 + i, 0.01, 0.004, 1.34, 0.137,
               0.0028, 0.1, 0.0, 0.4, "fees_nav", f"old proposal {i}"]  # fmt: skip
        ws.append(row)
        old.append(tuple(row))
    notes = wb.create_sheet("notes")
    notes["A1"] = "hand-written note"
    notes["B2"] = "=1+1"
    wb.save(path)
    wb.close()
    return old


def test_append_keeps_every_existing_row(store, tmp_path) -> None:
    old = make_existing_log(tmp_path / "Log.xlsx")
    history(store, good_returns(), fee=50.0)
    r1 = run_audit(store, AppConfig(), DAY, tmp_path)
    r2 = run_audit(store, AppConfig(), DAY, tmp_path)  # a second run appends again
    assert r1.log_error is None and r2.log_error is None
    wb = load_workbook(tmp_path / "Log.xlsx")
    rows = list(wb["audit"].iter_rows(values_only=True))
    assert rows[0] == LOG_COLUMNS
    assert rows[1:4] == old
    assert len(rows) == 6 and rows[4][0] == rows[5][0] == "2025-06-30"
    assert wb["notes"]["A1"].value == "hand-written note" and wb["notes"]["B2"].value == "=1+1"
    wb.close()
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("state.db"))
    assert names == ["Log.xlsx", "proposal-2025-06-30.md"]  # no temp files left behind


def _csv_rows(path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_corrupt_workbook_is_left_alone_and_row_goes_to_csv(store, tmp_path) -> None:
    garbage = b"PK\x03\x04 this is not really a workbook \x00\xff" * 10
    (tmp_path / "Log.xlsx").write_bytes(garbage)
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert (tmp_path / "Log.xlsx").read_bytes() == garbage
    assert r.log_path == tmp_path / "Log.csv"
    assert "not a readable workbook" in r.log_error
    run_audit(store, AppConfig(), DAY, tmp_path)
    rows = _csv_rows(tmp_path / "Log.csv")
    assert rows[0] == list(LOG_COLUMNS) and len(rows) == 3  # header once, two rows appended
    assert rows[1][0] == "2025-06-30" and rows[1][LOG_COLUMNS.index("flagged")] == "fees_nav"
    assert (tmp_path / "Log.xlsx").read_bytes() == garbage


def test_locked_workbook_goes_to_csv(store, tmp_path, caplog) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()
    (tmp_path / "~$Log.xlsx").write_bytes(b"owner")
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert "locked" in r.log_error and "~$Log.xlsx" in r.log_error
    assert "locked" in caplog.text
    assert (tmp_path / "Log.xlsx").read_bytes() == before
    assert len(_csv_rows(tmp_path / "Log.csv")) == 2


def test_permission_error_counts_as_locked(store, tmp_path, monkeypatch) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "Log.xlsx"))

    monkeypatch.setattr(audit_log, "load_workbook", denied)
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert "locked" in r.log_error and r.log_path == tmp_path / "Log.csv"
    assert (tmp_path / "Log.xlsx").read_bytes() == before


def test_failed_save_never_replaces_the_workbook(store, tmp_path, monkeypatch) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()

    def disk_full(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", disk_full)
    history(store, good_returns(), fee=50.0)
    r = run_audit(store, AppConfig(), DAY, tmp_path)
    assert (tmp_path / "Log.xlsx").read_bytes() == before
    assert r.log_path == tmp_path / "Log.csv" and "No space left" in r.log_error
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_csv_header_once(tmp_path) -> None:
    path = tmp_path / "Log.csv"
    audit_log.append_csv_row(path, ["2025-06-30", None, 1.5])
    audit_log.append_csv_row(path, ["2025-07-01", "x", 2])
    assert _csv_rows(path) == [
        list(LOG_COLUMNS),
        ["2025-06-30", "", "1.5"],
        ["2025-07-01", "x", "2"],
    ]


def test_when_the_csv_fails_too_nothing_is_written_and_both_errors_are_told(tmp_path) -> None:
    (tmp_path / "Log.xlsx").write_bytes(b"not a workbook")
    (tmp_path / "Log.csv").mkdir()  # cannot be opened for appending
    path, error = audit_log.append_log_row(tmp_path, DAY, ["2025-06-30"])
    assert path is None
    assert "not a readable workbook" in error and "Log.csv failed too" in error
    assert (tmp_path / "Log.xlsx").read_bytes() == b"not a workbook"


def test_content_openpyxl_would_drop_is_left_alone(tmp_path, monkeypatch) -> None:
    make_existing_log(tmp_path / "Log.xlsx")
    before = (tmp_path / "Log.xlsx").read_bytes()
    real = audit_log.load_workbook

    def lossy(path):
        warnings.warn("Data Validation extension is not supported", UserWarning, stacklevel=2)
        return real(path)

    monkeypatch.setattr(audit_log, "load_workbook", lossy)
    with pytest.raises(audit_log.LogWriteError, match="cannot keep"):
        audit_log.append_xlsx_row(tmp_path / "Log.xlsx", ["2025-06-30"])
    assert (tmp_path / "Log.xlsx").read_bytes() == before


def test_a_locked_replace_counts_as_locked(tmp_path, monkeypatch) -> None:
    def denied(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(audit_log.os, "replace", denied)
    with pytest.raises(audit_log.LogWriteError, match="locked"):
        audit_log.append_xlsx_row(tmp_path / "Log.xlsx", ["2025-06-30"])
    assert list(tmp_path.iterdir()) == []  # no temp file left behind


def test_a_replays_rows_are_written_in_one_save_at_its_end(store, tmp_path) -> None:
    old = make_existing_log(tmp_path / "Log.xlsx")
    history(store, good_returns(), fee=50.0)
    deferred = audit_log.DeferredLog()
    for _ in range(3):
        r = run_audit(store, AppConfig(), DAY, tmp_path, log_rows=deferred)
        assert r.flagged and r.log_path == tmp_path / "Log.xlsx"
    before = load_workbook(tmp_path / "Log.xlsx")
    assert before["audit"].max_row == 4  # nothing written yet: the header and the old rows
    before.close()
    assert deferred.flush() == (tmp_path / "Log.xlsx", None)
    wb = load_workbook(tmp_path / "Log.xlsx")
    rows = list(wb["audit"].iter_rows(values_only=True))
    wb.close()
    assert rows[1:4] == old and [r[0] for r in rows[4:]] == ["2025-06-30"] * 3
    assert deferred.flush() == (None, None)  # flushed once
