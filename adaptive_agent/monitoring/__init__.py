"""Monitoring: what the agent reports (events.py) and the sinks that carry it."""
