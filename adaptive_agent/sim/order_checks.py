"""What the simulated Gate refuses before an order exists: market, side, size and price rules.

Rules and labels are Gate's (``exchange.gate_constants``). With ``exact`` sizes (the
backtest fill model) amounts are not rounded to Gate's lots, as the backtester's fill split is
not, and the size minimums are left to the core, which checked them.
"""

from __future__ import annotations

from ..exchange.gate_constants import QUOTE_EPS, Label
from .markets import FUTURES_MIN_SIZE, PRICE_DEVIATE, SPOT_LOT, SPOT_MIN_BASE, SPOT_MIN_QUOTE
from .orders import FUTURES, MARKETS, SimError

_EPS = 1e-12
TIFS = ("gtc", "ioc", "poc")


def multiple(x: float, step: float) -> bool:
    n = x / step
    return abs(n - round(n)) <= 1e-6


def check_market(market: str) -> None:
    if market not in MARKETS:
        raise SimError(Label.INVALID_PARAM_VALUE, f"market must be 'spot' or 'futures': {market!r}")


def order_side(market: str, side: str | None, amount: float) -> str:
    """The side of an order: futures by the sign of ``size`` (``side`` must agree)."""
    if market == FUTURES:
        signed = "buy" if amount > 0 else "sell"
        if side is not None and side != signed and amount != 0:
            raise SimError(Label.INVALID_PARAM_VALUE, f"size {amount:g} disagrees with {side}")
        return signed if amount != 0 else (side or "buy")
    if side not in ("buy", "sell"):
        raise SimError(Label.INVALID_PARAM_VALUE, f"side must be buy or sell: {side!r}")
    return side


def check_tif(tif: str, price: float | None) -> None:
    if tif not in TIFS:
        raise SimError(Label.INVALID_PARAM_VALUE, f"time in force {tif!r} is not simulated")
    if price is None and tif != "ioc":
        raise SimError(Label.INVALID_PARAM_VALUE, "a market order must be ioc")


def check_auto_size(market: str, amount: float, auto_size: str) -> None:
    if market != FUTURES or auto_size not in ("close_long", "close_short") or amount != 0:
        raise SimError(Label.INVALID_PARAM_VALUE, "auto_size needs a futures order of size 0")


def check_spot(
    side: str,
    amount: float,
    price: float | None,
    reduce_only: bool,
    *,
    tick: float,
    exact: bool,
    bid: float,
) -> None:
    """Spot rules; ``bid`` prices a market sell against the quote minimum."""
    if reduce_only:
        raise SimError(Label.INVALID_PARAM_VALUE, "reduce_only is for futures orders")
    if not amount > 0:
        raise SimError(Label.INVALID_PARAM_VALUE, f"amount must be positive: {amount:g}")
    if price is not None and (price < 0 or not multiple(price, tick)):
        raise SimError(Label.INVALID_PRECISION, f"price {price:g} is not a multiple of {tick}")
    if exact:
        return  # the backtester's fill split is not rounded; the core checked the minimums
    if price is None and side == "buy":
        cost = amount
    else:
        if not multiple(amount, SPOT_LOT):
            raise SimError(Label.INVALID_PRECISION, f"amount {amount:g} has more than 6 decimals")
        if amount < SPOT_MIN_BASE - _EPS:
            raise SimError(
                Label.INVALID_PARAM_VALUE,
                f"Your order size {amount:g} BTC is too small. The minimum is"
                f" {SPOT_MIN_BASE:g} BTC",
            )
        cost = amount * (price if price is not None else bid)
    if cost < SPOT_MIN_QUOTE - QUOTE_EPS:
        raise SimError(
            Label.INVALID_PARAM_VALUE,
            f"Your order size {cost:.8g} USDT is too small. The minimum is {SPOT_MIN_QUOTE:g} USDT",
        )


def check_futures(
    amount: float, price: float | None, *, tick: float, exact: bool, mark: float
) -> None:
    """Futures size and price rules (reduce-only room is the account's check)."""
    size = abs(amount)
    if not exact and abs(size - round(size)) > 1e-9:
        raise SimError(Label.INVALID_PARAM_VALUE, f"size {amount:g} is not a whole contract count")
    if not exact and size < FUTURES_MIN_SIZE:
        raise SimError(Label.SIZE_TOO_SMALL, f"size {amount:g} below minimum {FUTURES_MIN_SIZE}")
    if price is None:
        return
    if price < 0 or not multiple(price, tick):
        raise SimError(Label.INVALID_PARAM_VALUE, f"price {price:g} is not a multiple of {tick}")
    if abs(price - mark) > mark * PRICE_DEVIATE:
        raise SimError(
            Label.PRICE_TOO_DEVIATED,
            f"order price {price:g} deviates more than {PRICE_DEVIATE:g} from mark {mark:g}",
        )
