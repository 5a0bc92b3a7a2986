"""NAV, leg values, weights, delta and margin (docs/rules.md, Prices, NAV and weights).

The formulas are written once, as plain arithmetic, so they accept floats or numpy arrays: the
live drivers evaluate them for one instant, the backtester for a whole window of bars with the
positions held constant. Either way it is the same code.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from .model import LEGS, Book, Params, Prices

F = TypeVar("F", float, np.ndarray)


def leg_sizes_btc(book: Book, params: Params) -> tuple[float, float, float]:
    return (
        book.spot_lots * params.venue.spot_lot,
        book.long_contracts * params.venue.perp_contract,
        book.short_contracts * params.venue.perp_contract,
    )


def nav_usdt(
    cash: F,
    spot_btc: float,
    long_btc: float,
    short_btc: float,
    long_entry: float,
    short_entry: float,
    p_spot: F,
    p_perp: F,
) -> F:
    """Cash + spot value + unrealised PnL of both perpetual sides (margin does not reduce NAV)."""
    return (
        cash
        + spot_btc * p_spot
        + long_btc * (p_perp - long_entry)
        + short_btc * (short_entry - p_perp)
    )


def leg_values_usdt(
    spot_btc: float, long_btc: float, short_btc: float, p_spot: F, p_perp: F
) -> tuple[F, F, F]:
    """USDT value behind each leg's weight: abs(size) x P_contract."""
    return abs(spot_btc) * p_spot, abs(long_btc) * p_perp, abs(short_btc) * p_perp


def margin_used_usdt(long_btc: float, short_btc: float, p_perp: F, leverage: float) -> F:
    return (long_btc + short_btc) * p_perp / leverage


def book_nav(book: Book, prices: Prices, params: Params) -> float:
    s, lg, sh = leg_sizes_btc(book, params)
    return float(
        nav_usdt(book.cash, s, lg, sh, book.long_entry, book.short_entry, prices.spot, prices.perp)
    )


def get_value_distribution_usdt(book: Book, prices: Prices, params: Params) -> dict[str, float]:
    """The book as USDT values: each leg's USDT value, plus cash and NAV."""
    s, lg, sh = leg_sizes_btc(book, params)
    values = leg_values_usdt(s, lg, sh, prices.spot, prices.perp)
    out = {leg.value: float(v) for leg, v in zip(LEGS, values, strict=True)}
    out["USDT_CASH"] = float(book.cash)
    out["NAV"] = book_nav(book, prices, params)
    return out


def weights_of(spot_btc, long_btc, short_btc, p_spot, p_perp, nav):
    """Each leg's weight, its USDT value over NAV; a held leg's weight is infinite while NAV is
    not positive (scalars: the decision core compiles this too)."""
    if nav <= 0.0:
        return (
            math.inf if spot_btc != 0.0 else 0.0,
            math.inf if long_btc != 0.0 else 0.0,
            math.inf if short_btc != 0.0 else 0.0,
        )
    ws, wl, wsh = leg_values_usdt(spot_btc, long_btc, short_btc, p_spot, p_perp)
    return ws / nav, wl / nav, wsh / nav


def weights(
    book: Book, prices: Prices, params: Params, nav: float | None = None
) -> tuple[float, float, float]:
    nav = book_nav(book, prices, params) if nav is None else nav
    s, lg, sh = leg_sizes_btc(book, params)
    return weights_of(s, lg, sh, prices.spot, prices.perp, nav)


def net_delta_btc(book: Book, params: Params) -> float:
    s, lg, sh = leg_sizes_btc(book, params)
    return s + lg - sh


def basis(p_perp: F, p_ref: F) -> F:
    """Basis_Gate = P_contract(perp) / P_ref - 1."""
    return p_perp / p_ref - 1.0
