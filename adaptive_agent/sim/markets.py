"""Static facts about the two simulated Gate markets: spot BTC_USDT and the USDT perpetual.

The raw objects in ``gate_markets.json`` are Gate's own ``GET /spot/currency_pairs`` and
``GET /futures/usdt/contracts`` entries, extracted from ccxt's MIT-licensed test fixtures
(see README.md). Every trading rule of the simulator (tick, lot, minimums) is read from them,
so the REST answers and the matching rules cannot disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_RAW = json.loads(Path(__file__).with_name("gate_markets.json").read_text(encoding="utf-8"))

SPOT_PAIR: dict[str, Any] = _RAW["spot_pair"]
FUTURES_CONTRACT: dict[str, Any] = _RAW["futures_contract"]

PAIR = SPOT_PAIR["id"]  # "BTC_USDT": spot currency pair and futures contract name alike
CONTRACT = FUTURES_CONTRACT["name"]
SETTLE = "usdt"

SPOT_TICK = 10.0 ** -int(SPOT_PAIR["precision"])  # 0.1
SPOT_LOT = 10.0 ** -int(SPOT_PAIR["amount_precision"])  # 1e-6 BTC
SPOT_MIN_BASE = float(SPOT_PAIR["min_base_amount"])  # 1e-6 BTC
SPOT_MIN_QUOTE = float(SPOT_PAIR["min_quote_amount"])  # 3 USDT

FUTURES_TICK = float(FUTURES_CONTRACT["order_price_round"])  # 0.1
CONTRACT_BTC = float(FUTURES_CONTRACT["quanto_multiplier"])  # 0.0001 BTC per contract
FUTURES_MIN_SIZE = int(FUTURES_CONTRACT["order_size_min"])  # 1 contract
PRICE_DEVIATE = float(FUTURES_CONTRACT["order_price_deviate"])  # |price/mark - 1| limit
FUNDING_INTERVAL_S = int(FUTURES_CONTRACT["funding_interval"])  # 28800
MAINTENANCE_RATE = float(FUTURES_CONTRACT["maintenance_rate"])
