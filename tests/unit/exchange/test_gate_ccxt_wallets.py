"""Reading Gate's account mode (gate_ccxt_wallets.account_mode_of)."""

from __future__ import annotations

import pytest

from adaptive_agent.exchange.exchange_gate import AccountMode, AccountModeError
from adaptive_agent.exchange.gate_ccxt_wallets import account_mode_of


@pytest.mark.parametrize(
    ("key_mode", "unified_mode", "want"),
    [
        (1, "classic", AccountMode.CLASSIC),
        (1, None, AccountMode.CLASSIC),  # no unified permission: key.mode decides
        (2, None, AccountMode.UNIFIED),  # legacy unified
        ("2", "classic", AccountMode.UNIFIED),
        (1, "single_currency", AccountMode.UNIFIED),
        (1, "multi_currency", AccountMode.UNIFIED),
        (None, None, AccountMode.CLASSIC),
        ("x", None, AccountMode.CLASSIC),
    ],
)
def test_account_mode(key_mode, unified_mode, want):
    assert account_mode_of(key_mode, unified_mode) is want


def test_portfolio_margin_is_refused_naming_the_mode():
    with pytest.raises(AccountModeError) as err:
        account_mode_of(1, "portfolio")
    assert "portfolio" in str(err.value) and err.value.label == "ACCOUNT_MODE"
