"""adaptive_agent: a BTC-neutral rebalancing agent for Gate.io (spot + dual-mode USDT perpetual)."""

__version__ = "0.1.0"
