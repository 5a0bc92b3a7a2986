"""The one redactor: secrets are read from the environment only, registered, and masked in
every text and log record that could leave the process (docs/rules.md, Policy).

:class:`Secret` prints as a mask and cannot be pickled; every secret value read is registered,
and :func:`redact` / :class:`SecretFilter` mask registered values (and, defensively, the values
of environment variables named ``*_KEY``, ``*_SECRET``, ``*_TOKEN``, ``*_PASSWORD``, ...).
Everything that masks (logs, Telegram, InfluxDB errors, the printed configuration) uses
:func:`redact` and :data:`MASK` from here.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("adaptive_agent.policy")

MASK = "**********"
# Shorter registered values are not masked: masking "1" or "abc" everywhere would wreck every log
# line, and no real credential is that short. Environment values found by name alone must be
# longer still, since the name is only a guess.
MIN_SECRET_LEN = 4
MIN_ENV_SECRET_LEN = 8
SECRET_ENV_NAME = re.compile(
    r"(?:^|_)(?:KEY|APIKEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE)$", re.IGNORECASE
)


class MissingSecret(Exception):
    """A required secret is not set; the message names the variable, never a value."""


class Secret:
    """A secret value that prints as a mask: logs, reprs and tracebacks never show it."""

    __slots__ = ("_value", "name")

    def __init__(self, name: str, value: str) -> None:
        self.name, self._value = name, value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.name}={MASK})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError(f"Secret({self.name}) cannot be pickled or copied")


def get_secret(name: str, env: Mapping[str, str] | None = None) -> Secret:
    """``get_secret("GATE_API_KEY")``: read from the environment or fail clearly."""
    value = (os.environ if env is None else env).get(name, "")
    if not value.strip():
        raise MissingSecret(f"missing secret: set the environment variable {name}")
    return Secret(name, value)


# --- the registry and redaction ----------------------------------------------------------------

_registry_lock = threading.Lock()
_registry: set[str] = set()


def register_secret(value: str) -> None:
    """Mask ``value`` (and its stripped and URL-quoted forms) in every later :func:`redact`."""
    if not isinstance(value, str):
        return
    forms = {value, value.strip(), urllib.parse.quote(value.strip(), safe="")}
    with _registry_lock:
        _registry.update(f for f in forms if len(f) >= MIN_SECRET_LEN)


def _env_secret_values() -> set[str]:
    for _ in range(5):
        try:
            items = list(os.environ.items())
            break
        except RuntimeError:  # the environment changed size under us (another thread)
            continue
    else:
        items = []
    out = set()
    for name, value in items:
        if SECRET_ENV_NAME.search(name):
            value = value.strip()
            if len(value) >= MIN_ENV_SECRET_LEN:
                out.add(value)
    return out


@functools.lru_cache(maxsize=16)
def _pattern(values: frozenset[str]) -> re.Pattern[str]:
    # Longest first, so that a secret containing another one is masked whole.
    return re.compile("|".join(re.escape(v) for v in sorted(values, key=lambda v: (-len(v), v))))


def _redactor() -> Callable[[str], str]:
    """A masking function for the secrets known now (registry + secret-looking env vars)."""
    with _registry_lock:
        values = set(_registry)
    values |= _env_secret_values()
    if not values:
        return str
    return functools.partial(_pattern(frozenset(values)).sub, MASK)


def redact(text: str) -> str:
    """``text`` with every known secret value replaced by ``**********``."""
    if not isinstance(text, str):
        text = str(text)
    return _redactor()(text) if text else text


# --- logging -----------------------------------------------------------------------------------

_STANDARD_RECORD_ATTRS = frozenset(
    logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__
) | {"message", "asctime"}
_traceback_formatter = logging.Formatter()


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message, args, exception text, stack and string extras.

    The message is formatted (``msg % args``), masked and stored back with ``args = None``. An
    exception is rendered to ``exc_text`` and masked; if the rendering held a secret, ``exc_info``
    is dropped so that no formatter can render the raw exception again. The filter never rejects
    a record and never raises.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            _redact_record(record)
        except Exception:  # never break a logging call, and never let the raw text through
            record.msg = "[log record withheld: secret redaction failed]"
            record.args = None
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def _redact_record(record: logging.LogRecord) -> None:
    mask = _redactor()  # one look at the registry and the environment per record
    if record.args:
        try:
            message = record.getMessage()
        except Exception:  # the handler would print msg and args raw in its error report
            message = f"{record.msg} (bad logging arguments: {record.args!r})"
        record.msg, record.args = mask(message), None
    elif isinstance(record.msg, str):
        record.msg = mask(record.msg)
    else:
        text = str(record.msg)
        masked = mask(text)
        if masked != text:
            record.msg = masked
    if record.exc_info:
        if not record.exc_text:
            record.exc_text = _traceback_formatter.formatException(record.exc_info)
        masked = mask(record.exc_text)
        if masked != record.exc_text:
            record.exc_text, record.exc_info = masked, None
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    for key, value in list(record.__dict__.items()):
        if key not in _STANDARD_RECORD_ATTRS and isinstance(value, str):
            setattr(record, key, mask(value))


_SECRET_FILTER = SecretFilter()
_filter_lock = threading.RLock()
_filter_state: dict[str, Any] = {
    "installed": False,
    "targets": [],
    "factory": None,
    "previous": None,
}


def _redacting_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., Any]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _filter_state["installed"]:
            _SECRET_FILTER.filter(record)
        return record

    return factory


def install_secret_filter() -> SecretFilter:
    """Install :class:`SecretFilter` on the root logger and its handlers (idempotent).

    It is also applied by a log-record factory at record creation, so records that reach
    handlers added later (``logging.basicConfig`` after this call, pytest's caplog, a library's
    own handler) are masked too.
    """
    with _filter_lock:
        root = logging.getLogger()
        targets: list[logging.Filterer] = _filter_state["targets"]
        for target in [root, *root.handlers]:
            if _SECRET_FILTER not in target.filters:
                target.addFilter(_SECRET_FILTER)
                targets.append(target)
        if not _filter_state["installed"]:
            previous = logging.getLogRecordFactory()
            factory = _redacting_factory(previous)
            logging.setLogRecordFactory(factory)
            _filter_state["factory"], _filter_state["previous"] = factory, previous
            _filter_state["installed"] = True
        return _SECRET_FILTER


def uninstall_secret_filter() -> None:
    """Undo :func:`install_secret_filter` (idempotent)."""
    with _filter_lock:
        for target in _filter_state["targets"]:
            target.removeFilter(_SECRET_FILTER)
        _filter_state["targets"] = []
        _filter_state["installed"] = False
        factory = _filter_state["factory"]
        if factory is not None and logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(_filter_state["previous"])
        # (a factory that someone else wrapped around ours stays in place, inert)
        _filter_state["factory"] = _filter_state["previous"] = None


def secret_filter_installed() -> bool:
    return bool(_filter_state["installed"])
