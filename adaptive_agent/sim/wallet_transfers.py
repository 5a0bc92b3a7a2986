"""The simulator's ``POST /wallet/transfers``: USDT between the spot and the USDT-futures wallet.

Gate facts modelled here (Gate API v4 / gateapi-python docs):

* ``WalletApi.md`` ``transfer`` (POST /wallet/transfers, "Transfer between trading accounts"):
  body ``Transfer.md`` = ``currency``, ``from``, ``to``, ``amount`` ("up to 8 decimal places,
  must be greater than 0"), ``settle`` ("Required when transferring to or from contract
  account"); the reply is ``TransactionID`` = ``{"tx_id": ...}``. The ``Transfer`` model of
  gate-api 7.2.161 has NO ``client_order_id`` (that field is on ``SubAccountTransfer`` only),
  so a main-account transfer cannot be looked up by a client id; the sim accepts an extra
  ``client_order_id`` (newer API versions list one) and remembers it, but the agent does not
  rely on it.
* ``GET /wallet/order_status`` (``get_transfer_order_status``: ``client_order_id`` or
  ``tx_id``) is documented as the *main-sub account* transfer status query; the sim answers it
  for its own transfers by ``tx_id`` or a remembered ``client_order_id``.
* Transfers in and out of the futures wallet appear in the futures account book as type
  ``dnw`` ("Deposit and withdrawal", ``FuturesAccountBook.md``): that line is the agent's
  documented way to find out after a crash whether a transfer happened.
* Classic account: USDT moves between wallets only by such a transfer. Out of futures no
  more than ``available`` may leave (the docs are silent on the exact limit: the stricter
  choice). A unified account shares one USDT balance between spot and futures; the sim refuses
  a spot<->futures transfer there (docs silent; stricter than letting it through).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..exchange.gate_constants import Label
from .futures_account import FuturesAccount
from .markets import SETTLE
from .orders import SimError
from .retention import HISTORY_MAX, check_history_max
from .spot_wallet import SpotWallet

ACCOUNTS = ("spot", "futures")
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class SimTransfer:
    tx_id: str
    time_ms: int
    from_account: str
    to_account: str
    amount: float
    client_order_id: str | None = None
    status: str = "success"


class WalletTransfers:
    """Transfers between the spot wallet and the futures wallet, and their records."""

    def __init__(
        self,
        spot: SpotWallet,
        futures: FuturesAccount,
        ids: Iterator[int],
        futures_account: Callable[[], dict[str, Any]],
        unified: bool,
        history_max: int = HISTORY_MAX,
    ) -> None:
        self._spot, self._futures, self._ids = spot, futures, ids
        self._account = futures_account  # its margin in use cannot leave
        self.unified = unified
        self.records: deque[SimTransfer] = deque(maxlen=check_history_max(history_max))
        # crash-trial fault: a transfer request waits on this before it is applied; False
        # drops it unapplied (the venue never saw it), True applies it (the client may be gone)
        self.hold: Callable[[], Awaitable[bool]] | None = None

    def transfer(
        self,
        currency: str,
        from_account: str,
        to_account: str,
        amount: float,
        settle: str | None,
        now_ms: int,
        client_order_id: str | None = None,
    ) -> SimTransfer:
        if currency != "USDT":
            raise SimError(Label.INVALID_PARAM_VALUE, "only USDT transfers are simulated")
        if from_account not in ACCOUNTS or to_account not in ACCOUNTS:
            raise SimError(Label.INVALID_PARAM_VALUE, "from/to must be spot or futures")
        if from_account == to_account:
            raise SimError(Label.INVALID_PARAM_VALUE, "from and to must differ")
        if settle is None:
            raise SimError(Label.MISSING_REQUIRED_PARAM, "settle is required for futures")
        if settle.lower() != SETTLE:
            raise SimError(Label.INVALID_PARAM_VALUE, "only the usdt settle currency")
        if not amount > 0 or round(amount, 8) != amount:
            raise SimError(Label.INVALID_PARAM_VALUE, "amount: > 0, at most 8 decimal places")
        if self.unified:
            raise SimError(
                Label.INVALID_PARAM_VALUE,
                "unified account: spot and futures share one USDT balance",
            )
        if client_order_id is not None and self.find(client_order_id=client_order_id):
            raise SimError(Label.INVALID_PARAM_VALUE, "duplicate client_order_id")
        spot = from_account == "spot"
        free = self._spot.free["USDT"] if spot else float(self._account()["available"])
        if amount > free + _EPS:
            raise SimError(
                Label.BALANCE_NOT_ENOUGH,
                f"{amount:.8g} USDT to transfer, {max(free, 0.0):.8g} USDT available",
            )
        sign = 1.0 if to_account == "futures" else -1.0
        self._spot.free["USDT"] -= sign * amount
        self._futures.cash += sign * amount
        self._futures.book_line("dnw", sign * amount, "", now_ms)
        rec = SimTransfer(
            str(next(self._ids)), now_ms, from_account, to_account, amount, client_order_id
        )
        self.records.append(rec)
        return rec

    def find(
        self, tx_id: str | None = None, client_order_id: str | None = None
    ) -> SimTransfer | None:
        for rec in self.records:
            if (tx_id is not None and rec.tx_id == tx_id) or (
                client_order_id is not None and rec.client_order_id == client_order_id
            ):
                return rec
        return None
