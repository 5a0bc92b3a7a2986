"""Leverage and margin mode at start, and the venue's market rules against the config.

docs/rules.md, Leverage and margin mode: both dual-mode sides get ``exchange.margin_mode`` and
``strategy.leverage`` (cross: as the cross leverage limit) when ``exchange.set_margin`` allows
it and Gate accepts it; otherwise the venue's settings must equal the configured ones. Lot,
tick and minimums come from the venue's loaded markets; the config is a check on them. Every
mismatch is one line naming the setting; the caller refuses to start on any.
"""

from __future__ import annotations

import math

from ..config import AppConfig
from ..core.model import VenueRules
from ..exchange.exchange_gate import ExchangeError, ExchangeGate, MarginSide, is_transient

# VenueRules field -> (config setting, Gate field it comes from)
_RULE_SOURCES = {
    "spot_lot": ("venue.spot_lot_btc", "BTC_USDT amount_precision"),
    "perp_contract": ("venue.perp_contract_btc", "BTC_USDT quanto_multiplier"),
    "spot_min_notional": ("venue.spot_min_notional_usdt", "BTC_USDT min_quote_amount"),
    "perp_min_contracts": ("venue.perp_min_contracts", "BTC_USDT order_size_min"),
    "spot_tick": ("venue.spot_price_tick", "BTC_USDT precision"),
    "perp_tick": ("venue.perp_price_tick", "BTC_USDT order_price_round"),
}


def rule_mismatches(venue: VenueRules, configured: VenueRules) -> list[str]:
    """One line per market rule where the config differs from the venue's markets."""
    out = []
    for name, (setting, field) in _RULE_SOURCES.items():
        got, want = getattr(venue, name), getattr(configured, name)
        if not math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-12):
            out.append(f"{setting} = {want:g}, but Gate's {field} says {got:g}")
    return out


def margin_mismatches(sides: tuple[MarginSide, ...], leverage: float, mode: str) -> list[str]:
    """One line per configured setting the venue's sides do not have."""
    out = []
    wanted = mode.upper()
    for s in sides:
        if s.margin_mode != wanted:
            out.append(
                f"exchange.margin_mode = {mode}, but Gate's {s.side} side is {s.margin_mode}"
            )
        elif not math.isclose(s.effective_leverage, leverage, rel_tol=1e-9):
            what = "cross_leverage_limit" if wanted == "CROSS" else "leverage"
            out.append(
                f"strategy.leverage = {leverage:g}, but Gate's {s.side} side has"
                f" {what} {s.effective_leverage:g}"
            )
    return out


async def apply_margin(gate: ExchangeGate, cfg: AppConfig) -> list[str]:
    """Set (when allowed) and then check leverage and margin mode; failure lines."""
    leverage, mode = cfg.strategy.leverage, cfg.exchange.margin_mode
    refused = ""
    if cfg.exchange.set_margin:
        try:
            await gate.set_margin(leverage, mode)
        except ExchangeError as exc:
            if is_transient(exc):  # not a refusal: the pre-flight asks again
                raise
            refused = f" (Gate refused the change: {exc.label or exc})"
    sides = await gate.get_margin_sides()
    return [line + refused for line in margin_mismatches(sides, leverage, mode)]


async def check_rules(gate: ExchangeGate, cfg: AppConfig) -> list[str]:
    venue = await gate.market_rules()
    return [] if venue is None else rule_mismatches(venue, cfg.venue_rules())
