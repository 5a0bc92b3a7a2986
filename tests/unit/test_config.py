"""Configuration: defaults equal the shipped TOML, overrides, and errors that name the field."""

from __future__ import annotations

import pytest

from adaptive_agent.config import AppConfig, ConfigError, load_config, render_config
from tests.support.market_data import ROOT as REPO_ROOT

ROOT = REPO_ROOT


def test_shipped_default_toml_equals_built_in_defaults():
    assert load_config(ROOT / "config" / "default.toml", env={}) == AppConfig()


def test_spec_numbers_are_defaults():
    c = AppConfig()
    assert (
        c.strategy.targets.BTC_SPOT,
        c.strategy.targets.BTC_PERP_LONG,
        c.strategy.targets.BTC_PERP_SHORT,
    ) == (0.5, 0.0, 0.5)
    assert c.strategy.leverage == 3 and c.strategy.threshold_floor == 0.005
    assert c.strategy.atr_multiplier == 0.2 and c.strategy.min_rebalance_interval_minutes == 60
    assert c.backtest.maker_fill_ratio == 0.5 and c.backtest.slippage == 0.0002
    assert (c.fees.spot_maker, c.fees.spot_taker, c.fees.perp_maker, c.fees.perp_taker) == (
        0.001,
        0.001,
        0.0002,
        0.0005,
    )
    assert c.safe_mode.max_margin_frac == 0.7 and c.safe_mode.clear_minutes == 30
    assert c.audit.target_sharpe == 1.34 and c.audit.target_max_dd == 0.137
    assert c.policy.max_rss_mb == 2048 and c.policy.max_cpu_frac == 0.5


def test_env_overrides_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[strategy]\nleverage = 2.0\n[backtest]\nfunding_hours_utc = [0, 12]\n")
    cfg = load_config(
        f,
        env={
            "ADAPTIVE_AGENT__STRATEGY__LEVERAGE": "4",
            "adaptive_agent__strategy__apply_signal_logic": "false",
            "OTHER": "x",
        },
    )
    assert cfg.strategy.leverage == 4.0
    assert cfg.strategy.apply_signal_logic is False
    assert cfg.backtest.funding_hours_utc == (0, 12)


@pytest.mark.parametrize(
    ("toml", "env", "needles"),
    [
        ("[strategy]\nleverag = 2\n", {}, ["strategy.leverag", "unknown setting", "c.toml"]),
        (
            "[strategy.targets]\nBTC_SPOT = 1.5\n",
            {},
            ["strategy.targets.BTC_SPOT", "less than or equal"],
        ),
        (
            "",
            {"ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_SPOT": "0.9"},
            ["strategy.targets", "must be <= 1", "ADAPTIVE_AGENT__STRATEGY__TARGETS__BTC_SPOT"],
        ),
        (
            "",
            {"ADAPTIVE_AGENT__NOPE__X": "1"},
            ["ADAPTIVE_AGENT__NOPE__X", "unknown setting 'nope'"],
        ),
        ("", {"ADAPTIVE_AGENT__STRATEGY____X": "1"}, ["malformed"]),
        ("[backtest]\nfunding_hours_utc = [0, 25]\n", {}, ["funding_hours_utc"]),
        ("[signals]\nema_fast_hours = 50\n", {}, ["ema_fast_hours must be <"]),
        ("[fees]\nspot_maker = 'x'\n", {}, ["fees.spot_maker", "valid number"]),
    ],
)
def test_invalid_values_name_the_field(tmp_path, toml, env, needles):
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(f, env=env)
    for n in needles:
        assert n in str(err.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/x.toml", env={})


def test_render_round_trips_non_secret_values():
    import tomllib

    text = render_config(AppConfig())
    data = tomllib.loads(text)
    assert data["strategy"]["targets"]["BTC_SPOT"] == 0.5
    assert data["policy"]["network_allow"] == ["127.0.0.1", "::1", "localhost"]


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[execution]\npost_only_timeout_s = inf\n", "execution.post_only_timeout_s"),
        ("[safe_mode]\nmax_abs_basis = inf\n", "safe_mode.max_abs_basis"),
        ("[safe_mode]\nmax_margin_frac = nan\n", "safe_mode.max_margin_frac"),
        ("[strategy]\nmin_rebalance_interval_minutes = inf\n", "min_rebalance_interval"),
        ("[strategy]\nleverage = true\n", "leverage: a number is expected, got the boolean"),
        ("[safe_mode]\nmax_error_streak = false\n", "max_error_streak"),
        ("[safe_mode]\nclear_minutes = 0\n", "safe_mode.clear_minutes"),  # would disable it
        ("[execution]\npost_only_timeout_s = 1e9\n", "execution.post_only_timeout_s"),
        ("[telegram]\nmax_command_age_s = 1e12\n", "telegram.max_command_age_s"),
        ("[audit]\nevidence_floor_factors = []\n", "audit.evidence_floor_factors"),
        ("[audit]\nevidence_atr_steps = [inf]\n", "audit.evidence_atr_steps"),
        ("[audit]\nevidence_interval_factors = [0.0, 1.0]\n", "audit.evidence_interval_factors"),
    ],
)
def test_values_that_would_switch_safety_off_are_refused(tmp_path, toml, needle):
    f = tmp_path / "c.toml"
    f.write_text(toml)
    with pytest.raises(ConfigError, match="config error") as err:
        load_config(f, env={})
    assert needle in str(err.value) and "c.toml" in str(err.value)


def test_an_infinite_override_from_the_environment_is_refused():
    with pytest.raises(ConfigError, match="ADAPTIVE_AGENT__SAFE_MODE__MAX_DRAWDOWN"):
        load_config(None, env={"ADAPTIVE_AGENT__SAFE_MODE__MAX_DRAWDOWN": "inf"})


def test_a_secret_in_a_file_is_refused_without_echoing_it(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[monitoring]\ninflux_password = "hunter2-in-a-file"\n')
    with pytest.raises(ConfigError) as err:
        load_config(f, env={})
    text = str(err.value)
    assert "monitoring.influx_password" in text and "hunter2" not in text
    assert "ADAPTIVE_AGENT__MONITORING__INFLUX_PASSWORD" in text
    env = {"ADAPTIVE_AGENT__MONITORING__INFLUX_PASSWORD": "from-env-ok"}
    assert load_config(None, env=env).monitoring.influx_password.get_secret_value() == "from-env-ok"
