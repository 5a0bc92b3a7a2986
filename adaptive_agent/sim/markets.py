"""Static facts about the two simulated Gate markets: spot BTC_USDT and the USDT perpetual.

The trading rules (tick, lot, minimums, contract size) are Gate's, from
``adaptive_agent.exchange.gate_constants``. The raw objects in ``gate_markets.json`` are Gate's
own ``GET /spot/currency_pairs`` and ``GET /futures/usdt/contracts`` entries, extracted from
ccxt's MIT-licensed test fixtures (see README.md), served as they are; at import they are
checked against the constants, so the REST answers and the matching rules cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..exchange.gate_constants import (
    CONTRACT,
    FUTURES_MIN_SIZE,
    FUTURES_PRICE_TICK,
    LEVERAGE_MAX,
    LEVERAGE_MIN,
    PAIR,
    PRICE_DEVIATE,
    QUANTO_MULTIPLIER,
    SETTLE,
    SPOT_AMOUNT_LOT,
    SPOT_MIN_BASE,
    SPOT_MIN_QUOTE,
    SPOT_PRICE_TICK,
)
from ..exchange.gate_constants import MAINTENANCE_RATE as _MAINTENANCE_RATE

_RAW = json.loads(Path(__file__).with_name("gate_markets.json").read_text(encoding="utf-8"))

SPOT_PAIR: dict[str, Any] = _RAW["spot_pair"]
FUTURES_CONTRACT: dict[str, Any] = _RAW["futures_contract"]

SPOT_TICK = SPOT_PRICE_TICK  # 0.1
SPOT_LOT = SPOT_AMOUNT_LOT  # 1e-6 BTC
FUTURES_TICK = FUTURES_PRICE_TICK  # 0.1
CONTRACT_BTC = QUANTO_MULTIPLIER  # 0.0001 BTC per contract
MAINTENANCE_RATE = float(FUTURES_CONTRACT["maintenance_rate"])

__all__ = [
    "CONTRACT",
    "CONTRACT_BTC",
    "FUTURES_CONTRACT",
    "FUTURES_MIN_SIZE",
    "FUTURES_TICK",
    "MAINTENANCE_RATE",
    "PAIR",
    "PRICE_DEVIATE",
    "SETTLE",
    "SPOT_LOT",
    "SPOT_MIN_BASE",
    "SPOT_MIN_QUOTE",
    "SPOT_PAIR",
    "SPOT_TICK",
]


def fixture_disagreements(spot: dict[str, Any], contract: dict[str, Any]) -> list[str]:
    """Fields of Gate's market objects that differ from ``gate_constants``."""
    pairs = [
        ("spot id", spot["id"], PAIR),
        ("spot precision", 10.0 ** -int(spot["precision"]), SPOT_TICK),
        ("spot amount_precision", 10.0 ** -int(spot["amount_precision"]), SPOT_LOT),
        ("spot min_base_amount", float(spot["min_base_amount"]), SPOT_MIN_BASE),
        ("spot min_quote_amount", float(spot["min_quote_amount"]), SPOT_MIN_QUOTE),
        ("contract name", contract["name"], CONTRACT),
        ("order_price_round", float(contract["order_price_round"]), FUTURES_TICK),
        ("quanto_multiplier", float(contract["quanto_multiplier"]), CONTRACT_BTC),
        ("order_size_min", int(contract["order_size_min"]), FUTURES_MIN_SIZE),
        ("order_price_deviate", float(contract["order_price_deviate"]), PRICE_DEVIATE),
        ("leverage_min", float(contract["leverage_min"]), LEVERAGE_MIN),  # margin slice
        ("leverage_max", float(contract["leverage_max"]), LEVERAGE_MAX),
        ("maintenance_rate", float(contract["maintenance_rate"]), _MAINTENANCE_RATE),
    ]
    return [f"{name}: {got!r} != {want!r}" for name, got, want in pairs if got != want]


_WRONG = fixture_disagreements(SPOT_PAIR, FUTURES_CONTRACT)
if _WRONG:  # pragma: no cover - a data error, caught by the unit test of this function
    raise RuntimeError("gate_markets.json disagrees with gate_constants: " + "; ".join(_WRONG))
