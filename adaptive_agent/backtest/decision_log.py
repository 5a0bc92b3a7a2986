"""What the compiled loop (``kernel.py``) hands back, as the records the reports read.

``Rebalances`` is the run's rebalances as a sequence of ``Rebalance(id, plan)``. The loop
keeps, for each close at which the core triggered, the book and the core's memory it decided
from; a ``Plan`` is rebuilt from them by ``build_orders()`` — the core itself, with its orders,
held orders and texts — only when someone reads it (a report, a test). A backtest that only
needs its summary (a sweep, the audit's evidence) never builds one. The counts the summary
needs come from the loop's own figures; ``tests/unit/backtest`` checks them against the plans.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core import decision as dn
from ..core.model import LEGS, Book, EngineState, Params, Prices
from ..core.rebalance_engine import ORDER_TYPES, build_orders
from ..core.signals import SIGNAL_OF
from . import kernel as K
from .fill_model import Fill
from .run_summary import FillColumns, Rebalance


def _time(x: float) -> int | None:
    return None if x == dn.NEVER else int(x)


class _Built(Sequence):
    """A sequence of records built from the loop's figures when first read (``_build``)."""

    _rows: np.ndarray

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):
        return self._all()[i]

    def __iter__(self):
        return iter(self._all())

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def _all(self) -> list:
        built = self.__dict__.get("_built")
        if built is None:
            built = self._built = self._build()
        return built

    def _build(self) -> list:
        raise NotImplementedError


class Rebalances(_Built):
    """The run's rebalances, each ``Rebalance(id, plan)``; plans built when first read."""

    def __init__(self, log: np.ndarray, bars: tuple, params: Params, rule: tuple) -> None:
        self._rows, self._bars, self._params, self._rule = log, bars, params, rule

    def order_counts(self) -> tuple[int, int]:
        """(orders sent, orders the signal gate held) over the run, from the loop's figures."""
        return int(self._rows[:, K.D_ORDERS].sum()), int(self._rows[:, K.D_SIGNAL_HELD].sum())

    def _build(self) -> list[Rebalance]:
        dec, ref_c, spot_c, perp_c, atr, sig = self._bars
        out = []
        for rid, row in enumerate(self._rows.tolist(), start=1):
            r = int(row[K.D_BAR])
            book = Book(
                row[K.D_CASH],
                int(row[K.D_SPOT]),
                int(row[K.D_LONG]),
                int(row[K.D_SHORT]),
                row[K.D_LONG_ENTRY],
                row[K.D_SHORT_ENTRY],
            )
            state = EngineState(
                _time(row[K.D_LAST_REBALANCE]), row[K.D_PEAK], _time(row[K.D_LAST_BREACH])
            )
            prices = Prices(float(ref_c[r]), float(spot_c[r]), float(perp_c[r]))
            plan = build_orders(
                book,
                prices,
                SIGNAL_OF[int(sig[r])],
                int(dec[r]),
                float(atr[r]),
                state,
                self._params,
                rule=self._rule,
            )
            out.append(Rebalance(rid, plan))
        return out


class Fills(_Built):
    """The run's fills as ``Fill`` records, built when first read; ``columns`` are the loop's
    own arrays (what the summary and the attribution read)."""

    def __init__(self, table: np.ndarray) -> None:
        t = table
        self.columns = FillColumns(
            t[:, K.F_TIME].astype(np.int64),
            t[:, K.F_RID].astype(np.int64),
            t[:, K.F_LEG].astype(np.int64),
            t[:, K.F_BUY] != 0,
            t[:, K.F_SIZE],
            t[:, K.F_PRICE],
            t[:, K.F_MAKER] != 0,
            t[:, K.F_FEE],
        )
        self._rows = table

    def _build(self) -> list[Fill]:
        out = []
        for t, rid, k, up, buy, size, price, maker, fee in self._rows.tolist():
            ki = int(k)
            out.append(
                Fill(
                    int(t),
                    int(rid),
                    LEGS[ki],
                    ORDER_TYPES[ki][int(up)].value,
                    "buy" if buy else "sell",
                    size,
                    price,
                    "maker" if maker else "taker",
                    fee,
                )
            )
        return out
