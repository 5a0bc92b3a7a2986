"""Gate-protocol exchange simulator: matching core, REST/websocket server, CLI (gate-sim)."""

from .faults import Faults
from .matching import SimMarket
from .orders import SimError, SimFees, SimOrder

__all__ = ["Faults", "SimError", "SimFees", "SimMarket", "SimOrder"]
