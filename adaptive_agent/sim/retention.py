"""How much finished history the simulator keeps, so that a long replay's memory stays flat.

Gate answers finished orders and our fills for a long time: "Historical orders, by default,
only data within the past 6 months is supported" (gateapi-python docs/FuturesApi.md,
``list_futures_orders`` and ``get_futures_order``; ``get_my_trades``: "By default, only data
within the past 6 months is supported. If you need to query data for a longer period, please
use ``GET /futures/{settle}/my_trades_timerange``"), and the spot trade history can be read in
30-day ranges anywhere in the past (docs/SpotApi.md ``list_my_trades``; ``gate_constants``
``SPOT_TRADES_RANGE_MAX_MS``). Six months are 52,560 five-minute bars: a simulator that kept
all Gate returns would grow for that long (~4 KB a bar when the agent rebalances at every
close; issue 9).

So the simulator keeps the newest ``HISTORY_MAX`` of each kind of finished record, per market:
finished orders (with their client ``text``), fills, futures account-book lines and wallet
transfers. Open orders are always kept. What the agent asks the venue for is minutes old: an
order of the rebalance in progress, the fills and funding lines since its last ledger sync,
the transfers of its current wallet plan, the orders a reconcile looks up. ``HISTORY_MAX``
records are hours of trading at one rebalance (a few orders and fills) per 5-minute close, far
more than those reads need. Older records are gone: the simulator answers ``ORDER_NOT_FOUND``
for an evicted order, as Gate does for one past its window. ``SimMarket(history_max=...)`` and
``gate-sim --history-max`` change the limit.
"""

from __future__ import annotations

HISTORY_MAX = 5_000


def check_history_max(value: object) -> int:
    """A whole number of records >= 1 (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"history_max must be a whole number >= 1, got {value!r}")
    return value
