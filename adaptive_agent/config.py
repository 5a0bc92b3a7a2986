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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from .core.model import Params, VenueRules
from .core.time_rules import MINUTE_MS
from .policy.redaction import MASK

ENV_PREFIX = "ADAPTIVE_AGENT__"


class ConfigError(Exception):
    """Invalid configuration; the message names the field and the source."""


class _Section(BaseModel):
    # Fail closed: unknown keys, inf/nan and a boolean where a number belongs are all errors
    # (``leverage = true`` must not become 1.0; ``post_only_timeout_s = inf`` must not pass).
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if field is None or not isinstance(value, bool):
                    continue
                if field.annotation in (int, float, int | None, float | None):
                    raise ValueError(f"{name}: a number is expected, got the boolean {value}")
        return data


class Targets(_Section):
    BTC_SPOT: float = Field(0.5, ge=0.0, le=1.0)
    BTC_PERP_LONG: float = Field(0.0, ge=0.0, le=1.0)
    BTC_PERP_SHORT: float = Field(0.5, ge=0.0, le=1.0)


class StrategyConfig(_Section):
    targets: Targets = Targets()
    leverage: float = Field(3.0, gt=0.0, le=200.0)
    threshold_floor: float = Field(0.005, gt=0.0, lt=1.0)
    atr_multiplier: float = Field(0.2, ge=0.0, le=10.0)
    atr_period: int = Field(14, ge=1, le=365)
    min_rebalance_interval_minutes: float = Field(60.0, ge=0.0, le=10_080.0)
    apply_signal_logic: bool = True
    signal_ttl_minutes: float | None = Field(None, gt=0.0, le=525_600.0)

    @model_validator(mode="after")
    def _fits_in_nav(self) -> StrategyConfig:
        t = self.targets
        need = t.BTC_SPOT + (t.BTC_PERP_LONG + t.BTC_PERP_SHORT) / self.leverage
        if need > 1.0 + 1e-12:
            raise ValueError(
                "strategy.targets: BTC_SPOT + (BTC_PERP_LONG + BTC_PERP_SHORT) / leverage must be"
                f" <= 1 (cash plus initial margin must fit in NAV), got {need:.6g}"
            )
        return self


class VenueConfig(_Section):
    """Gate market rules (from Gate's market metadata)."""

    spot_lot_btc: float = Field(0.000001, gt=0.0, le=1.0)
    spot_min_notional_usdt: float = Field(3.0, ge=0.0, le=1e6)
    perp_contract_btc: float = Field(0.0001, gt=0.0, le=1.0)
    perp_min_contracts: int = Field(1, ge=1, le=1_000_000)
    spot_price_tick: float = Field(0.1, gt=0.0, le=10_000.0)
    perp_price_tick: float = Field(0.1, gt=0.0, le=10_000.0)


class FeesConfig(_Section):
    """Fee rates on fill notional. Gate VIP0 spot is 0.002; the default 0.001 assumes the GT
    discount."""

    spot_maker: float = Field(0.001, ge=-0.01, le=0.01)
    spot_taker: float = Field(0.001, ge=-0.01, le=0.01)
    perp_maker: float = Field(0.0002, ge=-0.01, le=0.01)
    perp_taker: float = Field(0.0005, ge=-0.01, le=0.01)


class BacktestConfig(_Section):
    nav0: float = Field(100_000.0, gt=0.0, le=1e12)
    maker_fill_ratio: float = Field(0.5, ge=0.0, le=1.0)
    slippage: float = Field(0.0002, ge=0.0, lt=0.1)
    funding_rate_default: float = Field(0.0001, ge=-0.1, le=0.1)
    funding_hours_utc: tuple[int, ...] = (0, 8, 16)

    @model_validator(mode="after")
    def _hours(self) -> BacktestConfig:
        hours = self.funding_hours_utc
        if not hours or any(h < 0 or h > 23 for h in hours) or len(set(hours)) != len(hours):
            raise ValueError(
                "backtest.funding_hours_utc: one or more distinct whole hours in 0..23 expected"
            )
        return self


class ExecutionConfig(_Section):
    post_only_timeout_s: float = Field(5.0, ge=0.0, le=300.0)
    batch_limit: int = Field(10, ge=1, le=10)
    market_style: str = Field("ioc_limit", pattern="^(ioc_limit|market)$")
    ioc_protection: float = Field(0.005, gt=0.0, lt=0.1)


class SafeModeConfig(_Section):
    max_ref_age_minutes: float = Field(10.0, gt=0.0, le=1_440.0)
    max_abs_basis: float = Field(0.01, gt=0.0, le=0.5)
    max_error_streak: int = Field(5, ge=1, le=1_000)
    max_margin_frac: float = Field(0.70, gt=0.0, le=1.0)
    max_drawdown: float = Field(0.20, gt=0.0, lt=1.0)
    clear_minutes: float = Field(30.0, gt=0.0, le=1_440.0)


class WalletsConfig(_Section):
    """Classic-account wallet manager (docs/rules.md, Wallets): how much margin the futures
    wallet keeps and when USDT moves between spot and futures."""

    adverse_move: float = Field(0.25, ge=0.0, le=1.0)  # survive this move without liquidation
    hysteresis: float = Field(0.25, ge=0.0, le=5.0)
    min_transfer_usdt: float = Field(10.0, ge=0.0, le=1e6)
    spot_buffer: float = Field(0.01, ge=0.0, le=0.1)  # on spot buys: fees, IOC protection
    # the contract's maintenance_rate as loaded from Gate's markets; this is the check value
    maintenance_rate: float = Field(0.003, gt=0.0, lt=1.0)


class PolicyConfig(_Section):
    max_cpu_frac: float = Field(0.5, gt=0.0, le=64.0)
    max_rss_mb: float = Field(2048.0, gt=0.0, le=1_048_576.0)
    network_allow: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")


class AlertsConfig(_Section):
    funding_bps_per_8h: float = Field(5.0, ge=0.0, le=10_000.0)
    margin_frac: float = Field(0.70, gt=0.0, le=1.0)


class AuditConfig(_Section):
    target_sharpe: float = Field(1.34, ge=-100.0, le=100.0)
    target_max_dd: float = Field(0.137, ge=0.0, le=1.0)
    target_fees_nav_per_day: float = Field(0.0028, ge=0.0, le=1.0)
    max_deviation: float = Field(0.05, ge=0.0, le=100.0)


class SignalsConfig(_Section):
    """Baseline signal rule: EMA crossover on hourly closes (see strategies/baseline_signals.py)."""

    ema_fast_hours: int = Field(12, ge=1, le=8_760)
    ema_slow_hours: int = Field(48, ge=2, le=8_760)

    @model_validator(mode="after")
    def _order(self) -> SignalsConfig:
        if self.ema_fast_hours >= self.ema_slow_hours:
            raise ValueError("signals.ema_fast_hours must be < signals.ema_slow_hours")
        return self


class MonitoringConfig(_Section):
    influx_enabled: bool = False
    influx_url: str = "http://127.0.0.1:8086"
    influx_db: str = "adaptive_agent"
    influx_user: str | None = None
    influx_password: SecretStr | None = None
    influx_spool_dir: str = "state/influx_spool"


class TelegramConfig(_Section):
    """Alerts and commands; off while ``chat_id`` is unset. The token: TELEGRAM_BOT_TOKEN."""

    chat_id: int | str | None = None  # numeric for users and groups, "@name" for channels
    base_url: str = "https://api.telegram.org/bot"
    repeat_interval_minutes: float = Field(30.0, gt=0.0, le=10_080.0)
    event_clear_minutes: float = Field(15.0, gt=0.0, le=10_080.0)
    poll_commands: bool = True
    max_command_age_s: float = Field(300.0, gt=0.0, le=86_400.0)
    # Who may command the agent. Empty: in a private chat its owner (chat id = user id) only;
    # in a group nobody, until the members allowed to /stop and /safemode are listed here.
    allowed_user_ids: tuple[int, ...] = ()
    offset_path: str = "state/telegram_offset.json"


class ReportsConfig(_Section):
    daily_dir: str = "reports/daily"
    audit_dir: str = "reports/audit"


class AppConfig(_Section):
    strategy: StrategyConfig = StrategyConfig()
    venue: VenueConfig = VenueConfig()
    fees: FeesConfig = FeesConfig()
    backtest: BacktestConfig = BacktestConfig()
    execution: ExecutionConfig = ExecutionConfig()
    safe_mode: SafeModeConfig = SafeModeConfig()
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
