"""The audit's log (docs/rules.md, "Daily audit"): one row per flagged audit in ``Log.xlsx``,
or in ``Log.csv`` beside it when the workbook cannot be used.

``Log.xlsx`` is appended to safely: the workbook is loaded, the row added to its ``audit`` sheet,
saved to a temp file, re-read to check that every earlier row is still there, then moved into
place with ``os.replace``. A workbook that is locked (an Office ``~$Log.xlsx`` or LibreOffice
``.~lock.Log.xlsx#`` lock file, or a PermissionError), corrupt, or holding content openpyxl
would drop, is never written: the error is logged and returned, and the row is appended to
``Log.csv`` instead.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import tempfile
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook

if TYPE_CHECKING:
    from .audit import AuditResult

log = logging.getLogger("adaptive_agent.audit")

SHEET = "audit"
LOG_COLUMNS = (
    "date",
    "run_at_utc",
    "sharpe_30d",
    "max_dd",
    "fees_nav",
    "target_sharpe",
    "target_max_dd",
    "target_fees_nav",
    "dev_sharpe",
    "dev_max_dd",
    "dev_fees_nav",
    "flagged",
    "proposal",
)


class LogWriteError(Exception):
    """Log.xlsx could not be appended to safely (locked, corrupt, unsupported content)."""


def log_row(r: AuditResult, summary: str) -> list[Any]:
    def num(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else float(v)

    return [
        r.day.isoformat(),
        datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        num(r.kpis["sharpe"]),
        num(r.kpis["max_dd"]),
        num(r.kpis["fees_nav"]),
        r.targets["sharpe"],
        r.targets["max_dd"],
        r.targets["fees_nav"],
        num(r.deviations["sharpe"]),
        num(r.deviations["max_dd"]),
        num(r.deviations["fees_nav"]),
        ",".join(r.flagged),
        summary,
    ]


_LOCK_NAMES = ("~$Log.xlsx", ".~lock.Log.xlsx#")


def append_xlsx_row(path: Path, row: list[Any]) -> None:
    """Append ``row`` to the ``audit`` sheet of ``path`` (``append_xlsx_rows``)."""
    append_xlsx_rows(path, [row])


def append_xlsx_rows(path: Path, rows: list[list[Any]]) -> None:
    """Append ``rows`` to the ``audit`` sheet of ``path`` without ever losing existing content.

    Raises ``LogWriteError`` (file untouched) when the workbook is locked, corrupt, or holds
    content openpyxl would drop on saving.
    """
    for name in _LOCK_NAMES:
        lock = path.with_name(name.replace("Log.xlsx", path.name))
        if lock.exists():
            raise LogWriteError(
                f"{path} is locked: lock file {lock.name} exists (is the workbook open in"
                " Excel/LibreOffice?)"
            )
    if path.exists():
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                wb = load_workbook(path)
        except PermissionError as exc:
            raise LogWriteError(f"{path} is locked or not readable: {exc}") from exc
        except Exception as exc:
            raise LogWriteError(
                f"{path} is not a readable workbook ({type(exc).__name__}: {exc}); left untouched"
            ) from exc
        if caught:
            msgs = "; ".join(sorted({str(w.message) for w in caught}))
            raise LogWriteError(f"{path} has content openpyxl cannot keep ({msgs}); left untouched")
    else:
        wb = Workbook()
        wb.active.title = SHEET
    ws = wb[SHEET] if SHEET in wb.sheetnames else wb.create_sheet(SHEET)
    if ws.max_row == 1 and ws.max_column == 1 and ws.cell(1, 1).value is None:  # empty sheet
        for col, name in enumerate(LOG_COLUMNS, 1):
            ws.cell(row=1, column=col, value=name)
    counts = {name: wb[name].max_row for name in wb.sheetnames}
    for row in rows:
        ws.append(row)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        wb.save(tmp)
        check = load_workbook(tmp)
        for name, n in counts.items():
            want = n + len(rows) if name == ws.title else n
            if name not in check.sheetnames or check[name].max_row != want:
                raise LogWriteError(f"{path}: verification of the new workbook failed ({name})")
        os.replace(tmp, path)
    except PermissionError as exc:
        raise LogWriteError(f"{path} is locked (cannot replace it): {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def append_csv_row(path: Path, row: list[Any]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        if new:
            w.writerow(LOG_COLUMNS)
        w.writerow(["" if v is None else v for v in row])
        fh.flush()
        os.fsync(fh.fileno())


def append_log_row(out: Path, day: date, row: list[Any]) -> tuple[Path | None, str | None]:
    """Append ``row`` to ``out/Log.xlsx``, else to ``out/Log.csv`` (``append_log_rows``)."""
    return append_log_rows(out, str(day), [row])


def append_log_rows(out: Path, what: str, rows: list[list[Any]]) -> tuple[Path | None, str | None]:
    """Append ``rows`` to ``out/Log.xlsx``, else to ``out/Log.csv``; ``what`` names them in
    the log (a day, or a replay's days).

    Returns the file written (``None`` when neither could be) and the error that kept the rows
    out of the workbook, if any.
    """
    xlsx, csv_path = out / "Log.xlsx", out / "Log.csv"
    try:
        append_xlsx_rows(xlsx, rows)
        return xlsx, None
    except Exception as exc:  # whatever went wrong, the workbook was not replaced
        error = str(exc) if isinstance(exc, LogWriteError) else f"{xlsx}: {exc!r}"
    log.error("audit %s: %s; the row(s) go to %s instead", what, error, csv_path)
    try:
        for row in rows:
            append_csv_row(csv_path, row)
    except OSError as exc:
        log.error("audit %s: writing %s failed: %s", what, csv_path, exc)
        return None, f"{error}; writing {csv_path} failed too: {exc}"
    return csv_path, error


class DeferredLog:
    """The audit's log rows of a replay, written in one workbook save at its end.

    Appending to ``Log.xlsx`` loads and saves the whole workbook: once a day is right for a
    live agent, but a replay of three years would rewrite it a thousand times (quadratic).
    ``run_audit(..., log_rows=DeferredLog())`` collects the rows; ``flush()`` writes them."""

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.out: Path | None = None

    def __call__(self, out: Path, day: date, row: list[Any]) -> tuple[Path | None, str | None]:
        self.out = out
        self.rows.append(row)
        return out / "Log.xlsx", None  # written at flush()

    def flush(self) -> tuple[Path | None, str | None]:
        if self.out is None or not self.rows:
            return None, None
        rows, self.rows = self.rows, []
        return append_log_rows(self.out, f"{len(rows)} day(s) of the replay", rows)
