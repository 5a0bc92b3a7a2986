"""Shared fixtures: the network guard and the bundled real data (loaded once)."""

from __future__ import annotations

import pytest

from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import Candles, load_candles, load_funding
from adaptive_agent.policy import netguard


def pytest_configure(config):
    """docs/rules.md, Policy: in test mode no connection may leave the machine (loopback only)."""
    config._netguard = netguard.install()


def pytest_unconfigure(config):
    config._netguard.uninstall()


@pytest.fixture(scope="session")
def spot() -> Candles:
    return load_candles(SPOT_5M)


@pytest.fixture(scope="session")
def funding():
    return load_funding(FUNDING_8H)
