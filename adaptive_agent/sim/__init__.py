"""Gate-protocol exchange simulator: matching core, REST/websocket server, CLI (gate-sim).

Nothing is imported here: reading the simulator's command-line options (``sim.options``, which
the main parser uses) must not load the matching core.
"""
