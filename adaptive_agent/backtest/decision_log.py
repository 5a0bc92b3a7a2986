"""What the compiled loop (``kernel.py``) hands back, as the records the reports read.

``Rebalances`` is the run's rebalances as a sequence of ``Rebalance(id, plan)``. The loop
keeps, for each close at which the core triggered, the book and the core's memory it decided
from, and what ``decide()`` found there (each leg's target and outcome, the safe-mode figures);
a ``Plan`` is rebuilt from them by ``build_orders()`` — the core itself, with its orders, held
orders and texts — only when someone reads it (the equity page, a test). A backtest that only
needs its summary (a sweep, the audit's evidence) never builds one. The counts the summary
needs come from the loop's own figures, and the held-order report files from ``held()``, which
dresses the record with the functions ``build_orders()`` dresses a plan with;
``tests/unit/backtest`` checks both against the rebuilt plans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..core import decision as dn
from ..core.model import (
    LEGS,
    Book,
    EngineState,
    HeldOrder,
    HoldGate,
    Params,
    Prices,
    RiskInputs,
    Signal,
)
from ..core.rebalance_engine import (
    ORDER_TYPES,
    build_orders,
    leg_orders,
    safe_mode_findings,
)
from ..core.signals import SIGNAL_OF
from . import loop as K
from .fill_model import Fill
from .run_summary import FillColumns, Rebalance

_GATE_OF = {  # decide()'s leg outcomes that hold an order, and the gate each stands for
    dn.HELD_SIGNAL: HoldGate.SIGNAL,
    dn.HELD_SAFE_MODE: HoldGate.SAFE_MODE,
    dn.HELD_MINIMUM: HoldGate.MINIMUM,
}


_ORDER_TYPE_TEXT = tuple((down.value, up.value) for down, up in ORDER_TYPES)
_SIDE = ("sell", "buy")
_LIQ = ("taker", "maker")


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

    def marks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``run_summary.rebalance_marks`` from the loop's record: decision time, orders sent,
        an order blocked by the signal gate or safe mode."""
        rows = self._rows
        outcome = rows[:, K.D_GATES : K.D_GATES + 3]
        blocked = np.isin(outcome, (dn.HELD_SIGNAL, dn.HELD_SAFE_MODE)).any(axis=1)
        return self._bars[0][rows[:, K.D_BAR].astype(np.int64)], rows[:, K.D_ORDERS] > 0, blocked

    def held(self, gates: frozenset[HoldGate]) -> Iterator[tuple[int, int, Signal, HeldOrder]]:
        """(rebalance id, decision time, signal, held order) for each order held by one of
        ``gates``, in plan order, from the loop's record of what ``decide()`` found: the
        orders and reasons ``build_orders()`` lists (``rebalance_engine.leg_orders`` and
        ``safe_mode_findings``: the same functions), without building plans."""
        dec, _, spot_c, perp_c, _, sig = self._bars
        params, risk = self._params, RiskInputs()
        wanted = [c for c, g in _GATE_OF.items() if g in gates]
        rows = self._rows
        if not len(rows):
            return
        outcome = rows[:, K.D_GATES : K.D_GATES + 3].astype(np.int64)
        hit = np.flatnonzero(np.isin(outcome, wanted).any(axis=1))
        sub = rows[hit]
        bar = sub[:, K.D_BAR].astype(np.int64)
        delta = sub[:, K.D_TARGETS : K.D_TARGETS + 3].astype(np.int64) - sub[
            :, [K.D_SPOT, K.D_LONG, K.D_SHORT]
        ].astype(np.int64)
        cols = zip(
            (hit + 1).tolist(),
            dec[bar].tolist(),
            sig[bar].tolist(),
            spot_c[bar].tolist(),
            perp_c[bar].tolist(),
            outcome[hit].tolist(),
            delta.tolist(),
            sub[:, [K.D_SAFE, K.D_BITS, K.D_BASIS, K.D_MARGIN_FRAC, K.D_DRAWDOWN]].tolist(),
            strict=True,
        )
        for rid, time_ms, code, p_spot, p_perp, legs, deltas, safety in cols:
            signal = SIGNAL_OF[code]
            reasons: tuple[str, ...] = ()
            if safety[0]:
                found = safe_mode_findings(int(safety[1]), True, *safety[2:], risk, params)
                reasons = tuple(t for _, t in found)
            _, blocked, skipped = leg_orders(deltas, legs, p_spot, p_perp, signal, reasons, params)
            for h in (*blocked, *skipped):
                if h.gate in gates:
                    yield rid, time_ms, signal, h

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
        t = self._rows
        return [
            Fill(time, rid, LEGS[k], _ORDER_TYPE_TEXT[k][up], _SIDE[buy], size, price, _LIQ[m], fee)
            for time, rid, k, up, buy, size, price, m, fee in zip(
                *(t[:, c].astype(np.int64).tolist() for c in (K.F_TIME, K.F_RID, K.F_LEG)),
                *((t[:, c] != 0).tolist() for c in (K.F_UP, K.F_BUY)),
                t[:, K.F_SIZE].tolist(),
                t[:, K.F_PRICE].tolist(),
                (t[:, K.F_MAKER] != 0).tolist(),
                t[:, K.F_FEE].tolist(),
                strict=True,
            )
        ]
