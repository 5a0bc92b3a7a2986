"""Runtime policies (docs/rules.md, Policy): secrets, resources, side effects.

* Secrets come from environment variables only (:func:`get_secret`) and never leave as text:
  :mod:`.redaction` is the one redactor (re-exported here).
* Resources: :mod:`.watchdog` (CPU and RSS of this process, psutil, on a daemon thread).
* Side effects: :mod:`.netguard` (test mode: outbound traffic only to the allow-list).

:func:`enforce` is the single entry point that switches all of them on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .redaction import (
    MASK,
    MissingSecret,
    Secret,
    SecretFilter,
    get_secret,
    install_secret_filter,
    redact,
    register_secret,
    secret_filter_installed,
    uninstall_secret_filter,
)

if TYPE_CHECKING:
    from ..config import AppConfig
    from .netguard import Guard
    from .watchdog import Watchdog

__all__ = [
    "MASK",
    "MissingSecret",
    "PolicyHandle",
    "Secret",
    "SecretFilter",
    "enforce",
    "get_secret",
    "install_secret_filter",
    "redact",
    "register_secret",
    "uninstall_secret_filter",
]

log = logging.getLogger("adaptive_agent.policy")


def _register_config_secrets(model: Any) -> None:
    """Register every pydantic ``SecretStr`` value of the configuration (e.g. influx_password)."""
    from pydantic import BaseModel, SecretStr

    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, BaseModel):
            _register_config_secrets(value)


# --- the entry point ---------------------------------------------------------------------------


REPLAY_OFFSET_MS = 3_600_000  # a feed clock this far from the wall clock is a replay


def is_replay(feed_offset_ms: int) -> bool:
    """The feed's clock runs more than an hour away from the wall clock: a rehearsal against a
    replay (gate-sim), where bars come faster than real time."""
    return abs(feed_offset_ms) > REPLAY_OFFSET_MS


@dataclass
class PolicyHandle:
    """What :func:`enforce` started; ``stop()`` undoes it (idempotent)."""

    watchdog: Watchdog | None = None
    guard: Guard | None = None
    secrets: dict[str, Secret] = field(default_factory=dict)
    installed_secret_filter: bool = False

    def for_replay(self) -> None:
        """A replay packs many bars' work into each second, so the CPU limit means nothing
        there: it is lifted (with a warning); the RSS limit stays."""
        if self.watchdog is not None:
            self.watchdog.limits = replace(self.watchdog.limits, max_cpu_frac=math.inf)
            log.warning(
                "rehearsing a replay (the feed's clock is not the wall clock): the watchdog's"
                " CPU limit is not applied; RSS <= %.0f MB still is",
                self.watchdog.limits.max_rss_mb,
            )

    @property
    def breached(self) -> bool:
        """True while the resource watchdog is in the breach state (a safe-mode condition)."""
        return self.watchdog is not None and self.watchdog.breached

    def stop(self, *, keep_secret_filter: bool = False) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.guard is not None:
            self.guard.uninstall()
        if self.installed_secret_filter and not keep_secret_filter:
            uninstall_secret_filter()
            self.installed_secret_filter = False

    def __enter__(self) -> PolicyHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def enforce(
    cfg: AppConfig,
    *,
    test_mode: bool = False,
    on_breach: Callable[[str], object] | None = None,
    on_clear: Callable[[str], object] | None = None,
    require: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    interval_s: float | None = None,
) -> PolicyHandle:
    """Switch the policy layer on: secret masking, the resource watchdog, the network guard.

    1. ``require``: each named secret is read first (:class:`MissingSecret` before anything
       starts); the secrets are returned in ``handle.secrets``.
    2. The secret filter is installed on the root logger (see :func:`install_secret_filter`)
       and the configuration's ``SecretStr`` values are registered for masking.
    3. The watchdog starts with ``cfg.policy`` limits; ``on_breach(reason)`` and
       ``on_clear(message)`` are called on its thread (see ``watchdog.in_loop``).
    4. In test mode, the network guard is installed with ``cfg.policy.network_allow``.
    """
    from . import netguard
    from .watchdog import Limits, Watchdog

    secrets = {name: get_secret(name, env) for name in require}
    handle = PolicyHandle(secrets=secrets)
    try:
        handle.installed_secret_filter = not secret_filter_installed()
        install_secret_filter()
        _register_config_secrets(cfg)
        limits = Limits.from_policy(cfg.policy)
        if interval_s is None:
            interval_s = cfg.policy.watchdog_interval_s
        handle.watchdog = Watchdog(
            limits,
            on_breach=on_breach,
            on_clear=on_clear,
            interval_s=interval_s,
            trip_after=cfg.policy.watchdog_trip_samples,
            clear_after=cfg.policy.watchdog_clear_samples,
        ).start()
        if test_mode:
            handle.guard = netguard.install(cfg.policy.network_allow)
    except BaseException:
        handle.stop()
        raise
    log.info(
        "policy: secrets masked in logs; watchdog cpu <= %.0f%% of one core, rss <= %.0f MB"
        " for %d samples every %gs; network guard %s",
        limits.max_cpu_frac * 100,
        limits.max_rss_mb,
        cfg.policy.watchdog_trip_samples,
        interval_s,
        f"on (allow: {', '.join(cfg.policy.network_allow)})" if test_mode else "off",
    )
    return handle
