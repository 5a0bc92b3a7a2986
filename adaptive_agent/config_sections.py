"""The sections of the configuration (``config.py`` loads and validates them as one model).

Each is strict: unknown keys are rejected, numbers are finite and bounded, no bool stands for a
number. Every number of the rules is a default here (docs/rules.md names them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


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


MAX_NAV0 = 1e12  # USDT: far above any account, and sizes derived from it stay exact


class BacktestConfig(_Section):
    nav0: float = Field(100_000.0, gt=0.0, le=MAX_NAV0)
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
    # A batch refused with HTTP 429 (Gate TOO_MANY_REQUESTS: nothing was done) is sent again
    # at most this often, after a pause that starts here and doubles.
    rate_limit_retries: int = Field(3, ge=0, le=10)
    rate_limit_backoff_s: float = Field(1.0, gt=0.0, le=60.0)


class SafeModeConfig(_Section):
    max_ref_age_minutes: float = Field(10.0, gt=0.0, le=1_440.0)
    max_abs_basis: float = Field(0.01, gt=0.0, le=0.5)
    max_error_streak: int = Field(5, ge=1, le=1_000)
    max_margin_frac: float = Field(0.70, gt=0.0, le=1.0)
    max_drawdown: float = Field(0.20, gt=0.0, lt=1.0)
    clear_minutes: float = Field(30.0, gt=0.0, le=1_440.0)
    # margin slice (docs/rules.md, Liquidation watch): safe mode while a side's liquidation
    # price is nearer than this fraction of the mark; a cross account is topped up (when a
    # top-up is wired) until its liquidation price is ``liquidation_top_up_distance`` away.
    min_liquidation_distance: float = Field(0.15, gt=0.0, lt=1.0)
    liquidation_top_up_distance: float = Field(0.30, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _top_up_beyond_alarm(self) -> SafeModeConfig:
        if self.liquidation_top_up_distance <= self.min_liquidation_distance:
            raise ValueError(
                "safe_mode.liquidation_top_up_distance must be above"
                " safe_mode.min_liquidation_distance"
            )
        return self


class ExchangeConfig(_Section):
    """Gate account settings the agent sets at start (margin slice; docs/rules.md, Leverage
    and margin mode, Pre-flight). The leverage is ``strategy.leverage``."""

    margin_mode: str = Field("cross", pattern="^(cross|isolated)$")
    set_margin: bool = True  # false: only check that Gate's settings equal the configured
    max_clock_offset_ms: float = Field(5_000.0, ge=0.0, le=60_000.0)


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
    # The watchdog samples every interval; a breach is this many samples in a row above a limit
    # (12 x 5 s = one minute: a sustained load, not a start-up burst), cleared by as many clean.
    watchdog_interval_s: float = Field(5.0, gt=0.0, le=300.0)
    watchdog_trip_samples: int = Field(12, ge=1, le=1_000)
    watchdog_clear_samples: int = Field(3, ge=1, le=1_000)
    network_allow: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")


class AlertsConfig(_Section):
    funding_bps_per_8h: float = Field(5.0, ge=0.0, le=10_000.0)
    margin_frac: float = Field(0.70, gt=0.0, le=1.0)


class AuditConfig(_Section):
    target_sharpe: float = Field(1.34, ge=-100.0, le=100.0)
    target_max_dd: float = Field(0.137, ge=0.0, le=1.0)
    target_fees_nav_per_day: float = Field(0.0028, ge=0.0, le=1.0)
    max_deviation: float = Field(0.05, ge=0.0, le=100.0)
    # fill-model drift (research/calibrate.py): observed vs backtest.maker_fill_ratio and
    # backtest.slippage over the trailing window, absolute
    window_days: int = Field(30, ge=1, le=366)
    max_maker_share_drift: float = Field(0.2, ge=0.0, le=1.0)
    max_slippage_drift: float = Field(0.0005, ge=0.0, le=0.1)
    min_fills_for_drift: int = Field(20, ge=1, le=1_000_000)
    # the evidence sweep around the current settings (reports/audit_evidence.py): factors of
    # strategy.threshold_floor, steps added to strategy.atr_multiplier, factors of
    # strategy.min_rebalance_interval_minutes (every combination the configuration accepts)
    evidence_floor_factors: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
    evidence_atr_steps: tuple[float, ...] = (-0.1, 0.0, 0.1)
    evidence_interval_factors: tuple[float, ...] = (0.5, 1.0, 2.0)

    @model_validator(mode="after")
    def _evidence(self) -> AuditConfig:
        for name, lo, hi in (
            ("evidence_floor_factors", 0.0, 100.0),
            ("evidence_atr_steps", -10.0, 10.0),
            ("evidence_interval_factors", 0.0, 100.0),
        ):
            xs = getattr(self, name)
            if not 1 <= len(xs) <= 10 or any(not (lo < x <= hi) for x in xs):
                raise ValueError(f"audit.{name}: 1 to 10 numbers in ({lo:g}, {hi:g}] expected")
        return self


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
