"""Gate-protocol exchange simulator: matching core, REST/websocket server, CLI (gate-sim).

The names below are imported when first asked for (PEP 562), so that reading the simulator's
command-line options (``sim.options``, which the main parser uses) loads no matching core.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "Faults": ".faults",
    "SimMarket": ".matching",
    "SimError": ".orders",
    "SimFees": ".orders",
    "SimOrder": ".orders",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
