"""Bundled real market data (see bundled/PROVENANCE.md)."""

from pathlib import Path

BUNDLED = Path(__file__).with_name("bundled")
SPOT_5M = BUNDLED / "binance_spot_BTCUSDT_5m.csv.gz"
PERP_5M = BUNDLED / "binance_usdm_BTCUSDT_perp_5m.csv.gz"
FUNDING_8H = BUNDLED / "binance_usdm_BTCUSDT_funding_8h.csv.gz"
GATE_FUNDING_8H = BUNDLED / "gate_usdt_perp_BTC_USDT_funding_8h.csv.gz"
