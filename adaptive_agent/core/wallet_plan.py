"""How much USDT to move between the spot and the futures wallet of a classic account, and
when (docs/rules.md, Wallets). Pure: wallets, positions, orders and prices in, transfers out.

On Gate a classic account has two wallets and USDT never moves between them by itself: spot
buys spend the spot wallet's USDT, the perpetual legs need margin in the futures wallet. The
futures wallet must hold what the legs need to open (initial margin) and to survive an adverse
move of ``adverse_move`` without liquidation (the loss on the net exposure plus the
maintenance margin at the moved price, plus any unrealised loss already there).

- Before the orders: a wallet short of what its orders need is funded from the other one's
  spare (what the other does not need itself); the futures wallet is filled to its need x
  (1 + ``hysteresis``) so that small moves do not bring it back at once. Nothing is moved out
  of a wallet that its own orders need.
- After the orders: a futures wallet holding more than its need x (1 + 2 x ``hysteresis``)
  returns the excess above need x (1 + ``hysteresis``) to spot (at least ``min_transfer``).
- Amounts are whole cents, never more than the source has free; a transfer smaller than
  ``min_transfer`` is made only when it is all that can cover a shortfall.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from .model import BOOK_CHANGE, Book, Order, OrderType, Params, Prices
from .portfolio_manager import book_nav
from .rebalance_engine import target_lots

CENT = 0.01
_EPS = 1e-9


class Wallet(StrEnum):
    """The two wallets of a classic Gate account that USDT moves between."""

    SPOT = "spot"
    FUTURES = "futures"


class TransferReason(StrEnum):
    FUND_FUTURES = "fund_futures"  # margin for the perpetual legs
    FUND_SPOT = "fund_spot"  # USDT for spot buys
    RETURN_SURPLUS = "return_surplus"  # futures holds more than its band
    TOP_UP = "top_up"  # the liquidation watch asked for more margin


class TransferStatus(StrEnum):
    """A recorded transfer: ``intent`` (recorded, maybe sent), ``unknown`` (sent, no answer),
    ``done`` (the venue moved it), ``failed`` (refused, or never arrived)."""

    INTENT = "intent"
    UNKNOWN = "unknown"
    DONE = "done"
    FAILED = "failed"


UNSETTLED_TRANSFERS = (TransferStatus.INTENT, TransferStatus.UNKNOWN)


class WalletParams(NamedTuple):
    leverage: float = 3.0
    contract_btc: float = 0.0001
    maintenance_rate: float = 0.003  # the contract's maintenance_rate (Gate futures contract)
    adverse_move: float = 0.25  # the futures wallet survives this price move against it
    hysteresis: float = 0.25
    min_transfer: float = 10.0  # USDT
    spot_buffer: float = 0.01  # spot buys need notional x (1 + this): fees, IOC protection


class WalletView(NamedTuple):
    """The wallets as the venue reports them (USDT)."""

    spot_free: float  # spot USDT not held by open orders
    futures_total: float  # futures wallet balance, unrealised PnL excluded
    futures_available: float  # what may leave the futures wallet now
    unrealised: float = 0.0  # futures unrealised PnL


class Needs(NamedTuple):
    spot: float  # USDT the spot orders will spend
    futures: float  # what the futures wallet must hold


class PlannedTransfer(NamedTuple):
    to: Wallet
    amount: float  # USDT, whole cents, > 0
    reason: TransferReason


class Shortfall(NamedTuple):
    """A wallet that cannot cover its need even after the transfers: ``missing`` USDT."""

    wallet: Wallet
    missing: float
    need: float


class WalletPlan(NamedTuple):
    transfers: tuple[PlannedTransfer, ...] = ()
    shortfalls: tuple[Shortfall, ...] = ()


def futures_need(
    long_contracts: float,
    short_contracts: float,
    price: float,
    unrealised: float,
    p: WalletParams,
    entries: tuple[float, float] = (0.0, 0.0),
) -> float:
    """USDT the futures wallet must hold for these legs at ``price``: the larger of the initial
    margin and (loss on the net exposure after ``adverse_move`` + maintenance margin at the
    moved price), plus the unrealised loss already carried. Gate holds position margin at the
    entry price, so each leg's margin counts at the higher of ``price`` and its entry."""
    long_usdt = abs(long_contracts) * p.contract_btc * price
    short_usdt = abs(short_contracts) * p.contract_btc * price
    at_entry = abs(long_contracts) * max(price, entries[0])
    at_entry += abs(short_contracts) * max(price, entries[1])
    initial = at_entry * p.contract_btc / p.leverage
    move_loss = abs(long_usdt - short_usdt) * p.adverse_move
    maintenance = (long_usdt + short_usdt) * (1.0 + p.adverse_move) * p.maintenance_rate
    return max(initial, move_loss + maintenance) + max(-unrealised, 0.0)


def legs_after(
    long_contracts: int, short_contracts: int, orders: Iterable[Order]
) -> tuple[int, int]:
    """Both perpetual legs once every order of the plan has filled."""
    lng, sht = long_contracts, short_contracts
    for o in orders:
        _, dl, ds = BOOK_CHANGE[o.order_type]
        lng, sht = lng + dl * o.lots, sht + ds * o.lots
    return max(lng, 0), max(sht, 0)


def needs_for_plan(
    book: Book, orders: Iterable[Order], perp_price: float, unrealised: float, p: WalletParams
) -> Needs:
    """What each wallet needs for a plan's orders: spot the USDT of its buys (with
    ``spot_buffer``), futures the larger need of the legs now and after the orders."""
    orders = tuple(orders)
    spot = sum(o.notional for o in orders if o.order_type is OrderType.BUY) * (1 + p.spot_buffer)
    legs, entries = (book.long_contracts, book.short_contracts), (book.long_entry, book.short_entry)
    after = legs_after(*legs, orders)
    now_need = futures_need(*legs, perp_price, unrealised, p, entries)
    after_need = futures_need(*after, perp_price, unrealised, p, entries)
    return Needs(spot, max(now_need, after_need))


def plan_transfers(
    view: WalletView, needs: Needs, p: WalletParams, return_surplus: bool = False
) -> WalletPlan:
    """The transfers that make each wallet cover its need (see the module text); with
    ``return_surplus`` (after the orders) also the futures excess back to spot."""
    spot_spare = view.spot_free - needs.spot
    futures_spare = min(view.futures_available, view.futures_total - needs.futures)
    transfers: list[PlannedTransfer] = []
    shortfalls: list[Shortfall] = []
    futures_gap = needs.futures - view.futures_total
    spot_gap = needs.spot - view.spot_free
    if futures_gap > _EPS:
        want = needs.futures * (1.0 + p.hysteresis) - view.futures_total
        amount = _capped(want, spot_spare, p.min_transfer)
        if amount > 0:
            transfers.append(PlannedTransfer(Wallet.FUTURES, amount, TransferReason.FUND_FUTURES))
        if futures_gap - amount > _EPS:
            shortfalls.append(Shortfall(Wallet.FUTURES, futures_gap - amount, needs.futures))
    to_spot = 0.0
    if spot_gap > _EPS:
        to_spot = _capped(spot_gap, futures_spare, p.min_transfer)
        if to_spot > 0:
            transfers.append(PlannedTransfer(Wallet.SPOT, to_spot, TransferReason.FUND_SPOT))
        if spot_gap - to_spot > _EPS:
            shortfalls.append(Shortfall(Wallet.SPOT, spot_gap - to_spot, needs.spot))
    total, available = view.futures_total - to_spot, view.futures_available - to_spot
    if return_surplus and futures_gap <= _EPS:
        band = needs.futures * (1.0 + 2.0 * p.hysteresis) + p.min_transfer
        if total > band:
            excess = total - needs.futures * (1.0 + p.hysteresis)
            amount = _floor_cents(min(excess, available))
            if amount > 0 and amount >= p.min_transfer:
                transfers.append(
                    PlannedTransfer(Wallet.SPOT, amount, TransferReason.RETURN_SURPLUS)
                )
    return WalletPlan(tuple(transfers), tuple(shortfalls))


def top_up_amount(view: WalletView, usdt: float) -> float:
    """What a top-up of ``usdt`` can move to futures now: never more than spot has free."""
    return _floor_cents(min(usdt, view.spot_free))


def apply_transfers(view: WalletView, transfers: Iterable[PlannedTransfer]) -> WalletView:
    """The wallets once these transfers are done."""
    spot, total, avail = view.spot_free, view.futures_total, view.futures_available
    for t in transfers:
        sign = 1.0 if t.to is Wallet.FUTURES else -1.0
        spot, total, avail = (
            spot - sign * t.amount,
            total + sign * t.amount,
            avail + sign * t.amount,
        )
    return WalletView(spot, total, avail, view.unrealised)


def _capped(want: float, spare: float, minimum: float) -> float:
    """``want`` (at least ``minimum``) rounded up to cents, capped at the cents of ``spare``."""
    if spare <= 0:
        return 0.0
    wanted = math.ceil(max(want, minimum) / CENT - _EPS) * CENT
    return round(min(wanted, _floor_cents(spare)), 2)


def _floor_cents(x: float) -> float:
    return round(math.floor(x / CENT + _EPS) * CENT, 2) if x > 0 else 0.0


class TransferKey(NamedTuple):
    """A recorded transfer as the lookup sees it: signed USDT into futures (+) or out (-)."""

    client_id: str
    created_ms: int
    change: float


class BookMove(NamedTuple):
    """A futures account-book ``dnw`` line."""

    book_id: str
    time_ms: int
    change: float


def match_moves(
    records: Iterable[TransferKey], moves: Iterable[BookMove], slack_ms: int
) -> dict[str, str]:
    """Which account-book line shows which recorded transfer (client id -> book id).

    Gate keeps no client id for a main-account transfer, so a transfer is recognised by its
    line in the futures account book: the same signed amount (to the cent), booked no earlier
    than ``slack_ms`` before it was recorded. Transfers are sent one at a time, so the
    records, oldest first, take the earliest unclaimed matching line each: a line is never
    given to two transfers. Lines of zero (the opening balance) never match.
    """
    free = sorted((m for m in moves if abs(m.change) >= CENT / 2), key=lambda m: m.time_ms)
    taken: set[str] = set()
    out: dict[str, str] = {}
    for rec in sorted(records, key=lambda r: (r.created_ms, r.client_id)):
        for m in free:
            if m.book_id in taken or m.time_ms < rec.created_ms - slack_ms:
                continue
            if abs(m.change - rec.change) < CENT / 2:
                taken.add(m.book_id)
                out[rec.client_id] = m.book_id
                break
    return out


def target_needs(book: Book, prices: Prices, params: Params, p: WalletParams) -> Needs:
    """What each wallet needs to reach the configured targets from ``book`` (the pre-flight
    check): spot the USDT to buy up to its target, futures the need of the target legs (or
    of the legs now, if larger)."""
    nav = book_nav(book, prices, params)
    v = params.venue
    spot_t, long_t, short_t = (
        target_lots(w, nav, px, lot)
        for w, px, lot in zip(
            params.targets,
            (prices.spot, prices.perp, prices.perp),
            (v.spot_lot, v.perp_contract, v.perp_contract),
            strict=True,
        )
    )
    buy = max(spot_t - book.spot_lots, 0) * v.spot_lot * prices.spot * (1.0 + p.spot_buffer)
    entries = book.long_entry, book.short_entry
    now = futures_need(book.long_contracts, book.short_contracts, prices.perp, 0.0, p, entries)
    return Needs(buy, max(now, futures_need(long_t, short_t, prices.perp, 0.0, p, entries)))
