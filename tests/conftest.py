"""Shared fixtures: the network guard and the bundled real data (loaded once)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import pytest

from adaptive_agent.data import FUNDING_8H, SPOT_5M
from adaptive_agent.io.loaders import Candles, load_candles, load_funding
from adaptive_agent.io.parsed_cache import CACHE_ENV
from adaptive_agent.logging_setup import DEFAULT_LIBRARY_LEVELS
from adaptive_agent.policy import netguard
from adaptive_agent.policy.redaction import secret_filter_installed, uninstall_secret_filter


def pytest_configure(config):
    """docs/rules.md, Policy: in test mode no connection may leave the machine (loopback only)."""
    config._netguard = netguard.install()
    # Parsed input files are cached (io/parsed_cache.py): in a folder of the session's own,
    # never the user's ~/.cache, for the tests and the commands they start.
    config._parsed_cache = tempfile.mkdtemp(prefix="adaptive-agent-parsed-")
    config._parsed_cache_env = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = config._parsed_cache


def pytest_unconfigure(config):
    config._netguard.uninstall()
    if config._parsed_cache_env is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = config._parsed_cache_env
    shutil.rmtree(config._parsed_cache, ignore_errors=True)


@pytest.fixture(scope="session")
def spot() -> Candles:
    return load_candles(SPOT_5M)


@pytest.fixture(scope="session")
def funding():
    return load_funding(FUNDING_8H)


@pytest.fixture(autouse=True)
def restore_logging():
    """``paper``/``live``/``gate-sim`` install the agent's root log handler and the secret
    filter: undo both after each test, so no test depends on the order tests run in."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in DEFAULT_LIBRARY_LEVELS}
    had_filter = secret_filter_installed()
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(lvl)
    if not had_filter:
        uninstall_secret_filter()
