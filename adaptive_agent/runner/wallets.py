"""The wallet manager: keeps a classic account's futures wallet funded for the perpetual legs
and the spot wallet's USDT for spot buys (docs/rules.md, Wallets).

Around each rebalance: ``before()`` moves what the orders need into the wallet that needs it,
``after()`` returns the futures surplus to spot; ``top_up()`` is the liquidation watch's hook.
How much is the pure rule of ``core/wallet_plan.py``; this module does the I/O with the one
rule that keeps transfers from doubling: each is recorded in the state store, committed, with a
deterministic client id, *before* it is sent. A transfer whose answer was lost (crash, timeout)
is looked up in the futures account book (``dnw`` lines; Gate keeps no client id for these
transfers) and never re-sent: the next plan starts from the wallets as they then are.

A unified account shares one USDT balance: the manager then moves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..core.model import Book, Params, Plan, Prices
from ..core.wallet_plan import (
    UNSETTLED_TRANSFERS,
    BookMove,
    Needs,
    PlannedTransfer,
    Shortfall,
    TransferKey,
    TransferReason,
    TransferStatus,
    Wallet,
    WalletParams,
    WalletView,
    futures_need,
    match_moves,
    needs_for_plan,
    plan_transfers,
    target_needs,
    top_up_amount,
)
from ..exchange.exchange_gate import (
    AccountMode,
    AmbiguousOrderError,
    Balances,
    DualPositions,
    ExchangeError,
    ExchangeGate,
)
from ..state.store import StateStore
from ..state.transfer_store import StoredTransfer

log = logging.getLogger("adaptive_agent.wallets")

#: A venue's account-book line may carry a time a little before our record of the transfer
#: (clocks differ; Gate books in seconds): lines this much older still count as a match.
LOOKUP_SLACK_MS = 120_000


@dataclass
class WalletReport:
    """What one phase did: transfers done / failed, and wallets left short."""

    done: list[str]
    failed: list[str]
    shortfalls: list[Shortfall]


def wallet_view(bal: Balances, pos: DualPositions, contract_btc: float) -> WalletView:
    """The wallets as the venue reports them; spot USDT counted whole (the agent keeps no
    spot order open between rebalances)."""
    upnl = contract_btc * (
        pos.long_contracts * (pos.mark_price - pos.long_entry)
        - pos.short_contracts * (pos.mark_price - pos.short_entry)
    )
    return WalletView(bal.spot_usdt, bal.futures_usdt, bal.futures_available, upnl)


def shortfall_text(s: Shortfall) -> str:
    """One line for people: which wallet, how much is missing, of what need."""
    return (
        f"{s.wallet} wallet: {s.missing:,.2f} USDT short of the {s.need:,.2f} USDT it needs"
        " after the planned transfers"
    )


def key_of(t: StoredTransfer) -> TransferKey:
    return TransferKey(
        t.client_id, t.created_ms, t.amount if t.to_wallet == "futures" else -t.amount
    )


class WalletManager:
    """Transfers for one agent; ``alert(kind, text)`` raises the alarm (the agent's)."""

    def __init__(
        self,
        gate: ExchangeGate,
        store: StateStore,
        params: WalletParams,
        now_ms: Callable[[], int],
        alert: Callable[[str, str], None],
        mode: AccountMode = AccountMode.CLASSIC,
    ) -> None:
        self.gate, self.store, self.params = gate, store, params
        self.now_ms, self.alert, self.mode = now_ms, alert, mode

    @property
    def active(self) -> bool:
        return self.mode is AccountMode.CLASSIC

    async def read_view(self) -> WalletView:
        bal, pos = await self.gate.get_balances(), await self.gate.get_positions()
        return wallet_view(bal, pos, self.params.contract_btc)

    # --- around a rebalance ----------------------------------------------------------------

    async def before(self, plan: Plan, book: Book, prices: Prices) -> WalletReport:
        """Fund each wallet for the plan's orders; a wallet still short is a WARNING + alert.
        Never raises: a venue failure is logged and alerted, and the orders go as planned."""
        if not self.active or not plan.orders:
            return WalletReport([], [], [])
        return await self._phase(f"{plan.time_ms}-pre", self._needs_before(plan, book, prices))

    async def after(self, decision_ms: int) -> WalletReport:
        """Top the futures wallet up to what the legs now need, or return its surplus."""
        if not self.active:
            return WalletReport([], [], [])
        return await self._phase(f"{decision_ms}-post", self._needs_now(), return_surplus=True)

    async def _needs_before(self, plan: Plan, book: Book, prices: Prices):
        view = await self.read_view()
        return view, needs_for_plan(book, plan.orders, prices.perp, view.unrealised, self.params)

    async def _needs_now(self):
        bal, pos = await self.gate.get_balances(), await self.gate.get_positions()
        view = wallet_view(bal, pos, self.params.contract_btc)
        legs, entries = (pos.long_contracts, pos.short_contracts), (pos.long_entry, pos.short_entry)
        need = futures_need(*legs, pos.mark_price, view.unrealised, self.params, entries)
        return view, Needs(0.0, need)

    async def _phase(self, tag: str, reading, return_surplus: bool = False) -> WalletReport:
        try:
            await self.reconcile()  # an earlier transfer without an answer: settle it first
            view, needs = await reading
            wp = plan_transfers(view, needs, self.params, return_surplus=return_surplus)
            report = await self._carry_out(wp, tag)
        except ExchangeError as exc:
            reading.close()  # never awaited when the reconcile failed: no warning about it
            text = f"wallets {tag}: the venue failed ({exc}); no transfer made"
            log.warning("%s", text)
            self.alert("transfer_failed", text)
            return WalletReport([], [], [])
        for s in report.shortfalls:
            log.warning("wallets %s: %s", tag, shortfall_text(s))
            self.alert("wallet_shortfall", shortfall_text(s))
        return report

    async def top_up(self, usdt: float) -> float:
        """The liquidation watch's hook: move up to ``usdt`` from spot to futures now; returns
        the USDT actually moved (0 in a unified account or with no spot USDT free)."""
        if not self.active or usdt <= 0:
            return 0.0
        amount = top_up_amount(await self.read_view(), usdt)
        if amount <= 0:
            return 0.0
        t = PlannedTransfer(Wallet.FUTURES, amount, TransferReason.TOP_UP)
        ok = await self._send(f"tr-{self.now_ms()}-top-0", t)
        return amount if ok else 0.0

    # --- sending and settling ---------------------------------------------------------------

    async def _carry_out(self, wp, tag: str) -> WalletReport:
        report = WalletReport([], [], list(wp.shortfalls))
        for i, t in enumerate(wp.transfers):
            cid = f"tr-{tag}-{i}"
            (report.done if await self._send(cid, t) else report.failed).append(cid)
        return report

    async def _send(self, cid: str, t: PlannedTransfer) -> bool:
        """Record, send, confirm. True when the venue moved it."""
        if self.store.transfer(cid) is not None:  # decided before (a restart): never twice
            log.warning("transfer %s was recorded before; not sent again", cid)
            return False
        self.store.add_transfer(cid, self.now_ms(), str(t.to), t.amount, str(t.reason))
        try:
            tx_id = await self.gate.transfer(t.to, t.amount, cid)
        except AmbiguousOrderError as exc:
            log.warning("transfer %s: no answer (%s); looking it up", cid, exc)
            self.store.update_transfer(cid, self.now_ms(), status=TransferStatus.UNKNOWN)
            await self.reconcile(final=False)
            found = self.store.transfer(cid)
            return found is not None and found.status is TransferStatus.DONE
        except ExchangeError as exc:
            self.store.update_transfer(
                cid, self.now_ms(), status=TransferStatus.FAILED, error=exc.label or str(exc)
            )
            text = f"transfer of {t.amount:,.2f} USDT to {t.to} refused: {exc}"
            log.warning("%s", text)
            self.alert("transfer_failed", text)
            return False
        self.store.update_transfer(cid, self.now_ms(), status=TransferStatus.DONE, tx_id=tx_id)
        log.info("transferred %.2f USDT to %s (%s, %s)", t.amount, t.to, t.reason, cid)
        return True

    async def reconcile(self, final: bool = True) -> list[str]:
        """Settle every recorded transfer without a definite answer by the futures account
        book: found -> done, not found -> failed (``final``; else it stays ``unknown`` for the
        next try). Returns the client ids settled. Raises ``ExchangeError`` if the venue
        cannot be asked (nothing is changed then)."""
        open_ = self.store.transfers(statuses=UNSETTLED_TRANSFERS)
        if not open_:
            return []
        since = min(t.created_ms for t in open_) - LOOKUP_SLACK_MS
        moves = [
            BookMove(m.book_id, m.time_ms, m.change) for m in await self.gate.transfer_moves(since)
        ]
        # every transfer the venue may have booked since then claims its line, oldest first
        known = [
            t
            for t in self.store.transfers(since_ms=since - LOOKUP_SLACK_MS)
            if t.status is not TransferStatus.FAILED
        ]
        found = match_moves([key_of(t) for t in known], moves, LOOKUP_SLACK_MS)
        now, settled = self.now_ms(), []
        for t in open_:
            if t.client_id in found:
                self.store.update_transfer(
                    t.client_id, now, status=TransferStatus.DONE, book_id=found[t.client_id]
                )
            elif final or t.status is TransferStatus.INTENT:
                # never booked: it was not sent, or the venue refused it
                self.store.update_transfer(
                    t.client_id, now, status=TransferStatus.FAILED, error="not at venue"
                )
            else:
                continue
            settled.append(t.client_id)
        if settled:
            self.store.add_event(now, "transfers_reconciled", ", ".join(settled))
            log.warning("transfers reconciled with the account book: %s", settled)
        return settled


async def balance_problems(
    gate: ExchangeGate, book: Book, prices: Prices, params: Params, wp: WalletParams, mode
) -> list[Shortfall]:
    """Pre-flight: is each wallet sufficient for the targets after the planned transfers?
    (A unified account has one balance: only the spot side, which holds it all, is checked.)
    An empty list: yes. Each ``Shortfall`` reads as one line through ``shortfall_text``."""
    bal, pos = await gate.get_balances(), await gate.get_positions()
    view = wallet_view(bal, pos, wp.contract_btc)
    needs = target_needs(book, prices, params, wp)
    if mode is AccountMode.UNIFIED:
        view = WalletView(view.spot_free, view.spot_free, view.futures_available, view.unrealised)
        total = Needs(needs.spot + needs.futures, 0.0)
        missing = total.spot - view.spot_free
        return [Shortfall(Wallet.SPOT, missing, total.spot)] if missing > 1e-9 else []
    return list(plan_transfers(view, needs, wp).shortfalls)


def manager_for(agent, mode: AccountMode, maintenance_rate: float | None = None) -> WalletManager:
    """The agent's wallet manager (classic: transfers; unified: none), on the agent's clock."""
    return WalletManager(
        agent.gate,
        agent.store,
        agent.cfg.wallet_params(maintenance_rate),
        lambda: agent.now_ms(),
        agent.alert,
        mode,
    )


async def balance_lines(agent, mode: AccountMode) -> list[str]:
    """The live start's pre-flight of the wallets (a check of ``runner/preflight.py``): one line
    per wallet that cannot cover the targets, even after the transfers the manager would make."""
    book, venue = await agent.read_book()
    prices = Prices(venue.spot, venue.spot, venue.perp)
    wp = agent.wallets.params if agent.wallets is not None else agent.cfg.wallet_params()
    problems = await balance_problems(agent.gate, book, prices, agent.params, wp, mode)
    return [shortfall_text(s) for s in problems]
