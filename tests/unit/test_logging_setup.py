"""Structured logging: key=value and JSON lines, repeat collapsing, redaction, idempotence."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest

from adaptive_agent.logging_setup import (
    DEFAULT_LIBRARY_LEVELS,
    CollapsingHandler,
    KeyValueFormatter,
    RedactingFilter,
    setup_logging,
)
from adaptive_agent.policy.policy_layer import Secret


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    lib = {n: logging.getLogger(n).level for n in DEFAULT_LIBRARY_LEVELS}
    yield
    for n, lvl in lib.items():
        logging.getLogger(n).setLevel(lvl)
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, CollapsingHandler)]


def test_repeats_collapse_and_are_counted(restore_root) -> None:
    buf = io.StringIO()
    h = setup_logging(stream=buf)
    log = logging.getLogger("adaptive_agent.test")
    for _ in range(5):
        log.info("waiting for the next candle")
    log.info("rebalance %s done", "r1")  # a different message ends the run
    for _ in range(3):
        log.info("rebalance %s done", "r1")
    log.warning("basis high")
    log.warning("basis high")  # warnings are never collapsed
    log.info("waiting for the next candle")
    h.flush_repeats()
    lines = buf.getvalue().splitlines()
    msgs = [re.search(r'msg=("(?:[^"\\]|\\.)*"|\S+)', ln).group(1) for ln in lines]
    assert msgs == [
        '"waiting for the next candle"',
        '"... repeated 4 times"',
        '"rebalance r1 done"',
        '"... repeated 3 times"',
        '"basis high"',
        '"basis high"',
        '"waiting for the next candle"',
    ]
    assert "repeated=4" in lines[1] and 'repeat_of="waiting for the next candle"' in lines[1]
    assert lines[0].startswith("ts=") and " level=INFO logger=adaptive_agent.test " in lines[0]


def test_pending_repeats_are_written_at_close(restore_root) -> None:
    buf = io.StringIO()
    h = setup_logging(stream=buf)
    log = logging.getLogger("adaptive_agent.test")
    for _ in range(3):
        log.info("same")
    assert "repeated" not in buf.getvalue()
    logging.getLogger().removeHandler(h)
    h.close()  # what logging.shutdown() does at the end of the run
    assert buf.getvalue().splitlines()[-1].count('"... repeated 2 times"') == 1


def test_stuck_repeat_still_reports_within_the_time_bound() -> None:
    buf = io.StringIO()
    now = [0.0]
    h = CollapsingHandler(buf, flush_after_s=60.0, clock=lambda: now[0], check_interval_s=0.01)
    h.setFormatter(KeyValueFormatter())
    log = logging.getLogger("adaptive_agent.stuck")
    log.propagate = False
    log.addHandler(h)
    log.setLevel(logging.INFO)
    try:
        for _ in range(10):  # the same line every 10 s for 100 s
            log.info("feed stale")
            now[0] += 10.0
        lines = buf.getvalue().splitlines()
        # first line, then a count once the run is 60 s old, without any other message
        assert len(lines) == 2 and '"... repeated 7 times"' in lines[1]
        now[0] += 100.0  # silence: the background flusher writes the rest
        deadline = time.monotonic() + 5
        while "repeated 2 times" not in buf.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert '"... repeated 2 times"' in buf.getvalue()
    finally:
        log.removeHandler(h)
        log.propagate = True
        h.close()


def test_json_lines_parse(restore_root) -> None:
    buf = io.StringIO()
    setup_logging(level="DEBUG", json_logs=True, stream=buf)
    log = logging.getLogger("adaptive_agent.json")
    log.debug("bar %d", 7, extra={"nav": 10_000.5, "bad": float("nan")})
    log.info('quote " and newline\nhere')
    log.info('quote " and newline\nhere')
    log.info("other")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    objs = [json.loads(ln) for ln in buf.getvalue().splitlines()]
    assert objs[0]["level"] == "DEBUG" and objs[0]["msg"] == "bar 7" and objs[0]["nav"] == 10_000.5
    assert objs[0]["bad"] == "nan" and objs[0]["logger"] == "adaptive_agent.json"
    assert objs[1]["msg"] == 'quote " and newline\nhere'
    assert objs[2]["msg"] == "... repeated 1 times" and objs[2]["repeated"] == 1
    assert objs[3]["msg"] == "other"
    assert objs[4]["level"] == "ERROR" and "ValueError: boom" in objs[4]["exc"]
    assert all(o["ts"].endswith("Z") for o in objs)


def test_setup_is_idempotent(restore_root) -> None:
    before = len(logging.getLogger().handlers)
    setup_logging(stream=io.StringIO())
    first = ours()
    buf = io.StringIO()
    setup_logging(level="WARNING", stream=buf)
    setup_logging(level="INFO", stream=buf)
    assert first and len(logging.getLogger().handlers) == before + 1
    assert len(ours()) == 1
    logging.getLogger("adaptive_agent.x").info("once")
    assert buf.getvalue().count("once") == 1
    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("httpx").level == logging.WARNING  # URLs carry bot tokens


def test_redacting_filter_masks_secrets_everywhere(restore_root) -> None:
    buf = io.StringIO()
    token = "123456:SECRET-token-abcdef"
    setup_logging(stream=buf, filters=[RedactingFilter([Secret("T", token), "gate-api-secret"])])
    log = logging.getLogger("adaptive_agent.sec")
    log.info("url http://x/bot%s/getMe", token)
    log.info("key", extra={"header": "KEY gate-api-secret"})
    try:
        raise RuntimeError(f"The token `{token}` was rejected")
    except RuntimeError:
        log.exception("init failed")
    out = buf.getvalue()
    assert token not in out and "gate-api-secret" not in out
    assert out.count("***") >= 3


def test_bad_level_is_a_clear_error(restore_root) -> None:
    before = list(logging.getLogger().handlers)
    with pytest.raises(ValueError, match="unknown log level"):
        setup_logging(level="LOUD")
    assert logging.getLogger().handlers == before  # nothing half-installed
