"""One typed configuration: a TOML file, then ``ADAPTIVE_AGENT__SECTION__KEY`` overrides.

Every number of the specification is a default here, so changing behaviour never means editing
code. Unknown keys are rejected (a typo must not silently fall back to a default) and every error
names the field, the rule it broke and where the value came from.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from .config_sections import (  # noqa: F401 - the sections are part of this module's API
    MAX_NAV0,
    AlertsConfig,
    AuditConfig,
    BacktestConfig,
    ExchangeConfig,
    ExecutionConfig,
    FeesConfig,
    MonitoringConfig,
    PolicyConfig,
    ReportsConfig,
    SafeModeConfig,
    SignalsConfig,
    StrategyConfig,
    Targets,
    TelegramConfig,
    VenueConfig,
    WalletsConfig,
    _Section,
)
from .core.model import Params, VenueRules
from .core.time_rules import MINUTE_MS
from .policy.redaction import MASK

ENV_PREFIX = "ADAPTIVE_AGENT__"


class ConfigError(Exception):
    """Invalid configuration; the message names the field and the source."""


class AppConfig(_Section):
    strategy: StrategyConfig = StrategyConfig()
    venue: VenueConfig = VenueConfig()
    fees: FeesConfig = FeesConfig()
    backtest: BacktestConfig = BacktestConfig()
    execution: ExecutionConfig = ExecutionConfig()
    safe_mode: SafeModeConfig = SafeModeConfig()
    exchange: ExchangeConfig = ExchangeConfig()  # margin slice
    wallets: WalletsConfig = WalletsConfig()
    policy: PolicyConfig = PolicyConfig()
    alerts: AlertsConfig = AlertsConfig()
    audit: AuditConfig = AuditConfig()
    signals: SignalsConfig = SignalsConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    telegram: TelegramConfig = TelegramConfig()
    reports: ReportsConfig = ReportsConfig()

    # The one place the configuration is flattened for the hot paths (the core and the
    # executor never read AppConfig themselves).

    def venue_rules(self) -> VenueRules:
        v = self.venue
        return VenueRules(
            spot_lot=v.spot_lot_btc,
            perp_contract=v.perp_contract_btc,
            spot_min_notional=v.spot_min_notional_usdt,
            perp_min_contracts=v.perp_min_contracts,
            spot_tick=v.spot_price_tick,
            perp_tick=v.perp_price_tick,
        )

    def core_params(self) -> Params:
        s, m = self.strategy, self.safe_mode
        t = s.targets
        ttl = s.signal_ttl_minutes
        return Params(
            targets=(t.BTC_SPOT, t.BTC_PERP_LONG, t.BTC_PERP_SHORT),
            leverage=s.leverage,
            threshold_floor=s.threshold_floor,
            atr_multiplier=s.atr_multiplier,
            atr_period=s.atr_period,
            min_interval_ms=round(s.min_rebalance_interval_minutes * MINUTE_MS),
            apply_signal_logic=s.apply_signal_logic,
            signal_ttl_ms=None if ttl is None else round(ttl * MINUTE_MS),
            venue=self.venue_rules(),
            max_ref_age_ms=round(m.max_ref_age_minutes * MINUTE_MS),
            max_abs_basis=m.max_abs_basis,
            max_error_streak=m.max_error_streak,
            max_margin_frac=m.max_margin_frac,
            max_drawdown=m.max_drawdown,
            safe_clear_ms=round(m.clear_minutes * MINUTE_MS),
            min_liq_distance=m.min_liquidation_distance,
        )

    def wallet_params(self, maintenance_rate: float | None = None):
        """The transfer rule's numbers; ``maintenance_rate`` from the loaded market if known."""
        from .core.wallet_plan import WalletParams

        w = self.wallets
        return WalletParams(
            leverage=self.strategy.leverage,
            contract_btc=self.venue.perp_contract_btc,
            maintenance_rate=maintenance_rate or w.maintenance_rate,
            adverse_move=w.adverse_move,
            hysteresis=w.hysteresis,
            min_transfer=w.min_transfer_usdt,
            spot_buffer=w.spot_buffer,
        )

    def exec_params(self):
        from .execution.executor import ExecParams  # the executor imports the store; keep lazy

        e = self.execution
        return ExecParams(
            post_only_timeout_s=e.post_only_timeout_s,
            market_style=e.market_style,
            ioc_protection=e.ioc_protection,
            batch_limit=e.batch_limit,
            rate_limit_retries=e.rate_limit_retries,
            rate_limit_backoff_s=e.rate_limit_backoff_s,
            venue=self.venue_rules(),
        )


def _parse_env_value(raw: str) -> Any:
    """Environment values are TOML literals when they parse as one (``0.6``, ``true``, ``[0]``)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Overlay ``ADAPTIVE_AGENT__A__B=value`` onto ``data``; returns field -> variable name."""
    origins: dict[str, str] = {}
    defaults = AppConfig().model_dump()
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p for p in name[len(ENV_PREFIX) :].split("__")]
        if not parts or any(not p for p in parts):
            raise ConfigError(f"config error: {name}: malformed variable name")
        node_defaults: Any = defaults
        node = data
        path: list[str] = []
        for i, part in enumerate(parts):
            match = None
            if isinstance(node_defaults, dict):
                match = next((k for k in node_defaults if k.lower() == part.lower()), None)
            if match is None:
                raise ConfigError(
                    f"config error: {name}: unknown setting "
                    f"'{'.'.join([*path, part.lower()])}' (no such field)"
                )
            path.append(match)
            if i == len(parts) - 1:
                node[match] = _parse_env_value(env[name])
            else:
                child = node.get(match)
                if not isinstance(child, dict):
                    child = {}
                    node[match] = child
                node = child
                node_defaults = node_defaults[match]
        origins[".".join(path)] = name
    return origins


def _format_validation_error(err: ValidationError, source: str, origins: dict[str, str]) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        where = origins.get(loc) or next(
            (v for k, v in origins.items() if k.startswith(loc + ".")), source
        )
        if e["type"] == "extra_forbidden":
            msg = "unknown setting (no such field)"
        if msg.startswith(loc + "."):  # a cross-field rule names its own fields
            lines.append(f"config error: {msg} (from {where})")
        else:
            lines.append(f"config error: {loc}: {msg} (from {where})")
    return "\n".join(lines)


def _refuse_file_secrets(data: dict[str, Any], source: str) -> None:
    """Secrets come from the environment only (docs/rules.md, Policy): a file that holds one
    is refused, naming the variable to use instead (and never echoing the value)."""
    for section, model in AppConfig.model_fields.items():
        sub = data.get(section)
        if not isinstance(sub, dict) or model.annotation is None:
            continue
        for name, field in model.annotation.model_fields.items():
            if name in sub and field.annotation in (SecretStr, SecretStr | None):
                var = f"{ENV_PREFIX}{section.upper()}__{name.upper()}"
                raise ConfigError(
                    f"config error: {section}.{name}: a secret cannot be set in a file"
                    f" (from {source}); set the environment variable {var} instead"
                )


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Load, overlay environment overrides, validate. Raises ConfigError with field-naming text."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            with p.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config error: {p}: file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"config error: {p}: is a folder, not a TOML file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config error: {p}: not valid TOML: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config error: {p}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"config error: {p}: cannot read: {exc.strerror}") from None
    _refuse_file_secrets(data, source)
    origins = _apply_env(data, env)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source, origins)) from None


def render_config(cfg: AppConfig) -> str:
    """TOML-like dump of the effective configuration; SecretStr values print masked."""
    out: list[str] = []

    def emit(prefix: str, model: BaseModel) -> None:
        scalars: list[str] = []
        subs: list[tuple[str, BaseModel]] = []
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                subs.append((name, value))
            elif value is None:
                scalars.append(f"# {name} = (unset)")
            else:
                scalars.append(f"{name} = {_toml_value(value)}")
        if scalars:
            out.append(f"[{prefix}]")
            out.extend(scalars)
            out.append("")
        for name, sub in subs:
            emit(f"{prefix}.{name}" if prefix else name, sub)

    emit("", cfg)
    return "\n".join(out).rstrip() + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return f'"{MASK}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
