"""Health check: the state database's last processed bar must be recent; read-only."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive_agent.policy.health import check_health, main
from adaptive_agent.state.store import StateStore

NOW_MS = 1_750_000_000_000


def make_db(path: Path, value: object | None = NOW_MS - 60_000, meta: bool = True) -> Path:
    con = sqlite3.connect(path)
    if meta:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        if value is not None:
            con.execute("INSERT INTO meta VALUES ('last_bar_ms', ?)", (str(value),))
    else:
        con.execute("CREATE TABLE other (x)")
    con.commit()
    con.close()
    return path


def test_healthy_when_the_last_bar_is_recent(tmp_path: Path) -> None:
    ok, message = check_health(make_db(tmp_path / "s.sqlite"), 900, now_ms=NOW_MS)
    assert ok, message
    assert message == "healthy: last processed bar 2025-06-15 15:05:40 UTC, 60s ago"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.mkdir(), p)[1], "is not a file"),
        (lambda p: (p.write_text("not sqlite at all, definitely" * 100), p)[1], "cannot read"),
        (lambda p: make_db(p, meta=False), "has no meta table"),
        (lambda p: make_db(p, value=None), "no bar processed yet"),
        (lambda p: make_db(p, value="soon"), "is not epoch milliseconds: 'soon'"),
        (lambda p: make_db(p, value="nan"), "is not epoch milliseconds"),
        (lambda p: make_db(p, value=NOW_MS - 901_000), "is 901s old (limit 900s)"),
        (lambda p: make_db(p, value=NOW_MS + 3_600_000), "3600s in the future"),
        (lambda p: make_db(p, value=NOW_MS * 1000), "in the future"),
        (lambda p: make_db(p, value=NOW_MS // 1000), "old (limit 900s)"),
    ],
)
def test_unhealthy_states_have_clear_messages(tmp_path: Path, setup, expected: str) -> None:
    path = setup(tmp_path / "state.sqlite")
    ok, message = check_health(path, 900, now_ms=NOW_MS)
    assert not ok
    assert message.startswith("unhealthy: ") and expected in message, message


def test_reads_the_agents_real_state_database_read_only(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    store = StateStore(path)  # WAL mode, the agent's own schema
    now_ms = int(time.time() * 1000)
    store.set_meta("last_bar_ms", str(now_ms - 300_000))
    ok, message = check_health(path, 900)  # while the agent holds it open
    assert ok, message
    store.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    path.chmod(0o444)
    try:
        ok, message = check_health(path, 900)
        assert ok, message
        ok, message = check_health(path, 100)
        assert not ok and "limit 100s" in message
    finally:
        path.chmod(0o644)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_mtime_ns == mtime


def test_command_line_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_db(tmp_path / "live.sqlite", value=int(time.time() * 1000) - 1000)
    assert main(["--state", str(path), "--max-age", "900"]) == 0
    assert capsys.readouterr().out.startswith("healthy: ")
    assert main(["--state", str(tmp_path / "missing.sqlite")]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--state", str(path), "--max-age", "0"])
    run = subprocess.run(
        [sys.executable, "-m", "adaptive_agent.policy.health", "--state", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and run.stdout.startswith("healthy: "), run.stderr
