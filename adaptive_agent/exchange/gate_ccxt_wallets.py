"""Account mode, unified balances and spot<->futures transfers of ``GateCcxtExchange``.

Gate sources: ``GET /account/detail`` ``key.mode`` (``AccountDetailKey.md``: 1 classic, 2
legacy unified); ``GET /unified/unified_mode`` (``UnifiedApi.md``: classic, single_currency,
multi_currency, portfolio); ``GET /unified/accounts`` (``UnifiedAccount.md``,
``UnifiedBalance.md``: per currency ``available``/``freeze``/``equity``, ``mm``);
``POST /wallet/transfers`` (``WalletApi.md``: ``Transfer.md`` body, reply ``tx_id``; no client
id for main-account transfers) through ccxt's unified ``transfer()``; transfers are then found
in the futures account book, type ``dnw`` (``FuturesAccountBook.md``).
"""

from __future__ import annotations

from typing import Any

from .exchange_gate import (
    AccountMode,
    AccountModeError,
    Balances,
    ExchangeError,
    UnifiedAccount,
    Wallet,
    WalletMove,
)
from .gate_constants import (
    BOOK_TYPE_TRANSFER,
    KEY_MODE_LEGACY_UNIFIED,
    SETTLE,
    TRANSFER_DECIMALS,
    UNIFIED_MODE_CLASSIC,
    UNIFIED_MODES_USDT_MARGIN,
)

CCXT_ACCOUNT = {Wallet.SPOT: "spot", Wallet.FUTURES: "swap"}  # ccxt's account names


def _f(x: Any) -> float:
    try:
        return 0.0 if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return 0.0


def account_mode_of(key_mode: Any, unified_mode: str | None) -> AccountMode:
    """The account mode from Gate's two answers; a portfolio-margin account is refused."""
    if unified_mode is not None and unified_mode != UNIFIED_MODE_CLASSIC:
        if unified_mode not in UNIFIED_MODES_USDT_MARGIN:
            raise AccountModeError(
                f"the Gate account is in unified mode {unified_mode!r}; this agent trades a"
                " classic account or a unified single-/multi-currency margin account",
                "ACCOUNT_MODE",
            )
        return AccountMode.UNIFIED
    try:
        legacy = int(key_mode) == KEY_MODE_LEGACY_UNIFIED
    except (TypeError, ValueError):
        legacy = False
    return AccountMode.UNIFIED if legacy else AccountMode.CLASSIC


class GateWalletsMixin:
    """Needs ``self.ex`` (ccxt gate) and ``self._call`` (ccxt errors -> ours)."""

    ex: Any
    account_mode: AccountMode = AccountMode.CLASSIC

    async def _call(self, fn, *args, **kwargs): ...  # pragma: no cover - GateCcxtExchange's

    async def get_account_mode(self) -> AccountMode:
        """Read the mode (once at start). A unified account makes ccxt send spot orders and
        balance reads for ``account=unified``, as ccxt does after ``load_unified_status``."""
        detail = await self._call(self.ex.privateAccountGetDetail)
        key_mode = (detail.get("key") or {}).get("mode") if isinstance(detail, dict) else None
        try:
            raw = await self._call(self.ex.privateUnifiedGetUnifiedMode)
            unified_mode = raw.get("mode") if isinstance(raw, dict) else None
        except ExchangeError as exc:
            if isinstance(exc, AccountModeError):  # pragma: no cover - never raised by _call
                raise
            unified_mode = None  # a key without the unified permission: key.mode decides
        self.account_mode = account_mode_of(key_mode, unified_mode)
        self.ex.options["unifiedAccount"] = self.account_mode is AccountMode.UNIFIED
        return self.account_mode

    async def get_unified_account(self) -> UnifiedAccount:
        raw = await self._call(self.ex.privateUnifiedGetAccounts)
        usdt = (raw.get("balances") or {}).get("USDT") or {}
        return UnifiedAccount(
            equity=_f(usdt.get("equity")),
            available=_f(usdt.get("available")),
            initial_margin=_f(raw.get("total_initial_margin")),
            maintenance_margin=_f(raw.get("total_maintenance_margin")),
        )

    async def unified_balances(self) -> Balances:
        """A unified account's book: one USDT balance (``available + freeze``, no unrealised
        PnL), the futures wallet empty by construction, ``available`` what orders may use."""
        raw = await self._call(self.ex.privateUnifiedGetAccounts)
        bal = raw.get("balances") or {}
        usdt, btc = bal.get("USDT") or {}, bal.get("BTC") or {}
        return Balances(
            spot_usdt=_f(usdt.get("available")) + _f(usdt.get("freeze")),
            spot_btc=_f(btc.get("available")) + _f(btc.get("freeze")),
            futures_usdt=0.0,
            futures_available=_f(usdt.get("available")),
        )

    async def transfer(self, to: Wallet, amount_usdt: float, client_id: str) -> str:
        if self.account_mode is AccountMode.UNIFIED:
            raise ExchangeError("a unified account does not transfer spot<->futures", "UNIFIED")
        src = Wallet.SPOT if to is Wallet.FUTURES else Wallet.FUTURES
        amount = round(float(amount_usdt), TRANSFER_DECIMALS)
        # Gate's Transfer has no client id for main-account transfers (WalletApi.md): ours
        # stays in the state store, and the lookup after a crash goes through the account book.
        raw = await self._call(
            self.ex.transfer, "USDT", amount, CCXT_ACCOUNT[src], CCXT_ACCOUNT[to]
        )
        return str((raw or {}).get("id") or ((raw or {}).get("info") or {}).get("tx_id") or "")

    async def transfer_moves(self, since_ms: int) -> list[WalletMove]:
        rows = await self._call(
            self.ex.privateFuturesGetSettleAccountBook,
            {"settle": SETTLE, "type": BOOK_TYPE_TRANSFER, "from": since_ms // 1000, "limit": 100},
        )
        moves = [
            WalletMove(str(r.get("id", "")), int(_f(r.get("time")) * 1000), _f(r.get("change")))
            for r in rows or []
        ]
        return sorted(moves, key=lambda m: (m.time_ms, m.book_id))

    def maintenance_rate(self) -> float | None:
        """The perpetual's ``maintenance_rate`` from the loaded markets (Gate futures contract,
        ``Contract.md``), None before ``load_markets`` or when Gate does not say."""
        market = (getattr(self.ex, "markets", None) or {}).get("BTC/USDT:USDT") or {}
        rate = _f((market.get("info") or {}).get("maintenance_rate"))
        return rate if rate > 0 else None
