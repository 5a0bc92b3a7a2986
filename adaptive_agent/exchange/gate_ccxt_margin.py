"""Leverage, margin mode, liquidation reads and pre-flight reads of the ccxt Gate adapter.

A mixin of ``GateCcxtExchange`` (it uses that class's ``ex`` and ``_call``). ccxt has no
unified call for Gate's dual-mode margin endpoints, so its implicit methods are used; the
paths and fields are Gate's (gateapi-python docs/FuturesApi.md, docs/Position.md):

* ``GET /futures/usdt/dual_comp/positions/BTC_USDT``: both sides with ``leverage`` (0 =
  cross), ``cross_leverage_limit``, ``margin``, ``liq_price``, ``maintenance_rate``.
* ``POST .../dual_comp/positions/BTC_USDT/leverage?leverage=L[&cross_leverage_limit=C]``:
  leverage and, through ``leverage=0``, the margin mode of both sides.
* ``GET /spot/time`` -> ``server_time`` (ms).

Gate has no endpoint that tells a key its own permissions (``ApiV4KeyPerm`` appears only
for sub-account keys, docs/SubAccountApi.md), so each scope is probed with a read of it:
spot ``GET /spot/accounts``, futures ``GET /futures/usdt/accounts``, wallet ``GET
/wallet/fee``. Write permission shows at the first order or transfer (FORBIDDEN/READ_ONLY,
ErrorKind.AUTH).
"""

from __future__ import annotations

from typing import Any

from ..core.model import VenueRules
from .exchange_gate import ExchangeError, MarginSide, is_transient
from .gate_constants import CONTRACT, SETTLE, MarginMode


def _f(x: Any, default: float = 0.0) -> float:
    try:
        return default if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return default


def margin_side(row: dict[str, Any]) -> MarginSide:
    """One Gate position row (docs/Position.md) as the port's ``MarginSide``."""
    size = _f(row.get("size"))
    rate = _f(row.get("maintenance_rate"))
    # Position.md lists ``maintenance_margin`` for portfolio-margin accounts only; otherwise
    # it is the maintenance rate of the position's value
    maintenance = _f(row.get("maintenance_margin")) or rate * abs(_f(row.get("value")))
    mode = str(row.get("mode", ""))
    side = "long" if mode == "dual_long" or (mode != "dual_short" and size > 0) else "short"
    return MarginSide(
        side=side,
        contracts=abs(round(size)),
        entry_price=_f(row.get("entry_price")),
        mark_price=_f(row.get("mark_price")),
        leverage=_f(row.get("leverage")),
        cross_leverage_limit=_f(row.get("cross_leverage_limit")),
        margin=_f(row.get("margin")),
        liq_price=_f(row.get("liq_price")),
        maintenance_rate=rate,
        maintenance_margin=maintenance,
    )


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class GateMarginMixin:
    """Port methods of the margin slice for ``GateCcxtExchange``."""

    ex: Any
    _call: Any  # GateCcxtExchange._call: ccxt errors -> ours

    async def get_margin_sides(self) -> tuple[MarginSide, ...]:
        rows = await self._call(
            self.ex.privateFuturesGetSettleDualCompPositionsContract,
            {"settle": SETTLE, "contract": CONTRACT},
        )
        return tuple(margin_side(r) for r in rows or ())

    async def set_margin(self, leverage: float, mode: str) -> tuple[MarginSide, ...]:
        # One call sets both: leverage 0 means cross with cross_leverage_limit as its leverage
        # (docs/Position.md; ccxt gate.py setLeverage does the same). ccxt sends futures POST
        # parameters of a "dual"/"positions" path in the query, as this endpoint takes them;
        # it would also put cross_mode's body fields there, so that endpoint is not used.
        wanted = MarginMode(str(mode).upper())
        params = {"settle": SETTLE, "contract": CONTRACT}
        if wanted is MarginMode.CROSS:
            params.update(leverage="0", cross_leverage_limit=_number(leverage))
        else:
            params.update(leverage=_number(leverage))
        rows = await self._call(
            self.ex.privateFuturesPostSettleDualCompPositionsContractLeverage, params
        )
        return tuple(margin_side(r) for r in rows or ())

    async def market_rules(self) -> VenueRules | None:
        markets = getattr(self.ex, "markets", None) or {}
        spot, perp = markets.get("BTC/USDT"), markets.get("BTC/USDT:USDT")
        if not spot or not perp:
            return None
        s, p = spot.get("info") or {}, perp.get("info") or {}
        return VenueRules(
            spot_lot=10.0 ** -int(s.get("amount_precision", 6)),
            perp_contract=_f(p.get("quanto_multiplier")),
            spot_min_notional=_f(s.get("min_quote_amount")),
            perp_min_contracts=int(_f(p.get("order_size_min"), 1)),
            spot_tick=10.0 ** -int(s.get("precision", 1)),
            perp_tick=_f(p.get("order_price_round")),
        )

    async def server_time_ms(self) -> int | None:
        reply = await self._call(self.ex.publicSpotGetTime)
        return int(_f(reply.get("server_time"))) if isinstance(reply, dict) else None

    async def in_dual_mode(self) -> bool:
        account = await self._call(self.ex.privateFuturesGetSettleAccounts, {"settle": SETTLE})
        return bool(account.get("in_dual_mode")) if isinstance(account, dict) else False

    async def probe_scopes(self) -> dict[str, str]:
        probes = {
            "spot": (self.ex.privateSpotGetAccounts, {}),
            "futures": (self.ex.privateFuturesGetSettleAccounts, {"settle": SETTLE}),
            "wallet": (self.ex.privateWalletGetFee, {}),
        }
        out: dict[str, str] = {}
        for scope, (fn, params) in probes.items():
            try:
                await self._call(fn, params)
                out[scope] = ""
            except ExchangeError as exc:
                if is_transient(exc):  # a server error says nothing of the key: ask again
                    raise
                out[scope] = exc.label or str(exc)
        return out
