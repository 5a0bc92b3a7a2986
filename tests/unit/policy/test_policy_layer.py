"""Policy layer: secrets (never shown), redaction, the logging filter, and enforce()."""

from __future__ import annotations

import copy
import io
import logging
import pickle
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest

from adaptive_agent.config import AppConfig, MonitoringConfig, PolicyConfig
from adaptive_agent.policy import netguard, policy_layer, redaction
from adaptive_agent.policy.policy_layer import (
    MASK,
    MissingSecret,
    Secret,
    SecretFilter,
    enforce,
    get_secret,
    install_secret_filter,
    redact,
    register_secret,
    uninstall_secret_filter,
)
from tests.unit.policy.test_netguard import PUBLIC_NAME, audit_watch


def fresh(prefix: str = "s3cr3t") -> str:
    """A unique secret-looking value (the registry is process-wide)."""
    return f"{prefix}-{uuid.uuid4().hex}"


@pytest.fixture
def secret_value() -> str:
    value = fresh()
    Secret("TEST_API_SECRET", value)  # registers it
    return value


@pytest.fixture
def filtered() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger whose handler carries the SecretFilter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretFilter())
    logger = logging.getLogger(f"test.policy.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


# --- secrets ----------------------------------------------------------------------------------


def test_missing_or_blank_secret_names_the_variable() -> None:
    with pytest.raises(MissingSecret, match="GATE_API_KEY"):
        get_secret("GATE_API_KEY", env={})
    with pytest.raises(MissingSecret, match="TELEGRAM_BOT_TOKEN") as info:
        get_secret("TELEGRAM_BOT_TOKEN", env={"TELEGRAM_BOT_TOKEN": "   "})
    assert str(info.value) == "missing secret: set the environment variable TELEGRAM_BOT_TOKEN"


def test_get_secret_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    value = fresh()
    monkeypatch.setenv("GATE_API_SECRET", value)
    secret = get_secret("GATE_API_SECRET")
    assert secret.reveal() == value and secret.name == "GATE_API_SECRET"
    assert get_secret("X_TOKEN", env={"X_TOKEN": value}).reveal() == value


def test_secret_never_shows_its_value() -> None:
    value = fresh()
    secret = Secret("GATE_API_KEY", value)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", format(secret)):
        assert text == "Secret(GATE_API_KEY=**********)"
    assert value not in repr([secret]) and value not in str({"k": secret})
    assert not hasattr(secret, "__dict__")
    for leak in (lambda: pickle.dumps(secret), lambda: copy.copy(secret)):
        with pytest.raises(TypeError) as info:
            leak()
        assert value not in str(info.value) and "GATE_API_KEY" in str(info.value)


# --- redaction --------------------------------------------------------------------------------


def test_redact_masks_registered_secrets_and_their_encoded_forms(secret_value: str) -> None:
    assert redact(f"key={secret_value}; again {secret_value}") == f"key={MASK}; again {MASK}"
    assert redact("nothing to hide") == "nothing to hide"
    assert redact("") == ""
    tricky = fresh("a/b+c=") + "\n"
    register_secret(tricky)
    quoted = tricky.strip().replace("/", "%2F").replace("+", "%2B").replace("=", "%3D")
    assert redact(f"url=https://x/bot{quoted}/send body={tricky.strip()}") == (
        f"url=https://x/bot{MASK}/send body={MASK}"
    )
    assert redact(12345) == "12345"  # type: ignore[arg-type]


def test_longer_secrets_are_masked_whole() -> None:
    short = fresh("abcd")
    long = short + "-and-more"
    register_secret(short)
    register_secret(long)
    assert redact(f"[{long}] [{short}]") == f"[{MASK}] [{MASK}]"


def test_very_short_values_are_not_masked() -> None:
    register_secret("xy")  # masking "xy" everywhere would wreck the logs
    register_secret(None)  # type: ignore[arg-type]
    assert redact("xyz") == "xyz"


def test_redact_masks_secret_looking_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {name: fresh() for name in ("MY_KEY", "X_SECRET", "BOT_TOKEN", "DB_PASSWORD")}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("INFO_TEXT", "visible-value-123456")
    monkeypatch.setenv("SHORT_TOKEN", "1234567")  # too short to be a credential
    text = " ".join([*values.values(), "visible-value-123456", "1234567"])
    assert redact(text) == " ".join([MASK] * 4 + ["visible-value-123456", "1234567"])
    assert redaction.SECRET_ENV_NAME.search("gate_api_key")
    assert not redaction.SECRET_ENV_NAME.search("KEYBOARD")


# --- the logging filter -----------------------------------------------------------------------


def test_filter_masks_message_args_and_extras(filtered, secret_value: str) -> None:
    logger, stream = filtered
    logger.info(f"connecting with {secret_value}")
    logger.warning("key=%s other=%d", secret_value, 7)
    logger.error("dict %(k)s", {"k": secret_value})
    logger.info("extra", extra={"token": secret_value})
    logger.info(Secret("GATE_API_KEY", secret_value))
    logger.info(["non-string message", secret_value])
    out = stream.getvalue()
    assert secret_value not in out
    assert f"connecting with {MASK}" in out and f"key={MASK} other=7" in out
    assert f"dict {MASK}" in out and "Secret(GATE_API_KEY=**********)" in out


def test_filter_masks_logged_exception_tracebacks(filtered, secret_value: str) -> None:
    logger, stream = filtered

    def fail() -> None:
        raise ValueError(f"bad signature for key {secret_value}")

    records: list[logging.LogRecord] = []
    handler = logger.handlers[0]
    handler.addFilter(lambda r: records.append(r) or True)
    try:
        fail()
    except ValueError:
        logger.exception("request failed")
    try:
        raise RuntimeError("no secret here")
    except RuntimeError:
        logger.error("plain failure", exc_info=True)
    logger.warning("stack", stack_info=True)
    out = stream.getvalue()
    assert secret_value not in out
    assert "Traceback (most recent call last)" in out and f"bad signature for key {MASK}" in out
    assert records[0].exc_info is None  # the raw exception cannot be rendered again
    assert records[1].exc_info is not None  # nothing to hide: left as it was
    assert "RuntimeError: no secret here" in out


def test_filter_survives_bad_arguments_without_leaking(filtered, secret_value: str) -> None:
    logger, stream = filtered
    logger.info("%d items", secret_value)
    out = stream.getvalue()
    assert secret_value not in out and "bad logging arguments" in out

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    record = logging.LogRecord("x", logging.INFO, "f", 1, Unprintable(), None, None)
    assert SecretFilter().filter(record) is True
    assert record.getMessage() == "[log record withheld: secret redaction failed]"


def test_install_on_root_masks_caplog_and_handlers_added_later(
    caplog: pytest.LogCaptureFixture, secret_value: str
) -> None:
    root = logging.getLogger()
    factory_before = logging.getLogRecordFactory()
    install_secret_filter()
    install_secret_filter()  # idempotent
    try:
        assert root.filters.count(redaction._SECRET_FILTER) == 1
        assert redaction._SECRET_FILTER in caplog.handler.filters
        late = io.StringIO()
        late_handler = logging.StreamHandler(late)
        child = logging.getLogger(f"test.late.{uuid.uuid4().hex}")
        child.addHandler(late_handler)
        child.propagate = False
        child.warning("late handler sees %s", secret_value)
        child.removeHandler(late_handler)
        with caplog.at_level(logging.INFO):
            logging.getLogger("adaptive_agent.test").info("caplog sees %s", secret_value)
        assert secret_value not in late.getvalue() and MASK in late.getvalue()
        assert secret_value not in caplog.text and f"caplog sees {MASK}" in caplog.text
    finally:
        uninstall_secret_filter()
        uninstall_secret_filter()
    assert logging.getLogRecordFactory() is factory_before
    assert redaction._SECRET_FILTER not in root.filters
    assert not policy_layer.secret_filter_installed()


# --- enforce ----------------------------------------------------------------------------------


def test_enforce_starts_and_stops_everything_in_test_mode() -> None:
    breached = threading.Event()
    reasons: list[str] = []

    def on_breach(reason: str) -> None:
        reasons.append(reason)
        breached.set()

    password = fresh("influx")
    cfg = AppConfig(
        policy=PolicyConfig(max_rss_mb=1.0),  # this process is far above 1 MB: trips for real
        monitoring=MonitoringConfig(influx_password=password),
    )
    guards_before = netguard.active_guards()
    filter_before = policy_layer.secret_filter_installed()
    handle = enforce(cfg, test_mode=True, on_breach=on_breach, interval_s=0.02)
    try:
        assert handle.guard is not None and handle.guard.allow == cfg.policy.network_allow
        assert handle.watchdog is not None and handle.watchdog.running
        assert policy_layer.secret_filter_installed()
        assert redact(password) == MASK  # the configuration's SecretStr was registered
        with audit_watch() as leaks, pytest.raises(PermissionError, match=PUBLIC_NAME):
            socket.getaddrinfo(PUBLIC_NAME, 443)
        assert leaks == []
        assert breached.wait(10), "the watchdog did not report the RSS breach"
        assert reasons[0].startswith("rss ") and "> limit 1 MB" in reasons[0]
        assert handle.breached
    finally:
        handle.stop()
        handle.stop()  # idempotent
    assert not handle.watchdog.running and not handle.guard.active
    assert netguard.active_guards() == guards_before
    assert policy_layer.secret_filter_installed() == filter_before


def test_enforce_outside_test_mode_has_no_network_guard() -> None:
    with enforce(AppConfig(), interval_s=60) as handle:
        assert handle.guard is None and handle.watchdog is not None
        assert not handle.breached
    assert not handle.watchdog.running


def test_enforce_refuses_to_start_without_required_secrets() -> None:
    guards_before = netguard.active_guards()
    with pytest.raises(MissingSecret, match="GATE_API_SECRET"):
        enforce(AppConfig(), require=["GATE_API_KEY", "GATE_API_SECRET"], env={"GATE_API_KEY": "k"})
    assert netguard.active_guards() == guards_before
    value = fresh()
    with enforce(AppConfig(), require=["GATE_API_KEY"], env={"GATE_API_KEY": value}) as handle:
        assert handle.secrets["GATE_API_KEY"].reveal() == value
        assert value not in repr(handle)


def test_enforce_rolls_back_when_a_step_fails() -> None:
    cfg = AppConfig(policy=PolicyConfig(network_allow=("not a host!",)))
    filter_before = policy_layer.secret_filter_installed()

    def watchdogs() -> int:
        return sum(t.name == "resource-watchdog" for t in threading.enumerate())

    before = watchdogs()
    with pytest.raises(ValueError, match="allow-list entry"):
        enforce(cfg, test_mode=True)
    assert policy_layer.secret_filter_installed() == filter_before
    assert watchdogs() == before


def test_the_watchdog_window_comes_from_the_configuration() -> None:
    cfg = AppConfig(
        policy=PolicyConfig(
            watchdog_interval_s=60.0, watchdog_trip_samples=7, watchdog_clear_samples=2
        )
    )
    with enforce(cfg) as handle:
        wd = handle.watchdog
        assert wd is not None
        assert (wd.interval_s, wd.trip_after, wd.clear_after) == (60.0, 7, 2)
    assert AppConfig().policy.watchdog_trip_samples * AppConfig().policy.watchdog_interval_s == 60


def test_a_replay_lifts_the_cpu_limit_only(caplog: pytest.LogCaptureFixture) -> None:
    from adaptive_agent.policy.policy_layer import is_replay
    from adaptive_agent.policy.watchdog import Sample, breaches

    assert not is_replay(0) and not is_replay(-3_600_000) and not is_replay(59_000)
    assert is_replay(-400 * 86_400_000) and is_replay(3_600_001)
    with enforce(AppConfig(), interval_s=60) as handle:
        wd = handle.watchdog
        assert wd is not None
        busy = Sample(cpu_frac=1.0, rss_mb=10.0)
        assert breaches(busy, wd.limits)  # a full core is a breach live ...
        with caplog.at_level(logging.WARNING):
            handle.for_replay()
        assert breaches(busy, wd.limits) == []  # ... not in a replay
        assert breaches(Sample(cpu_frac=1.0, rss_mb=4096.0), wd.limits)[0].startswith("rss ")
        assert "CPU limit is not applied" in caplog.text
