"""The vendored uPlot is the release its README names, byte for byte, and ships with the
package."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import pytest

from adaptive_agent.reports.equity_html import VENDOR

SHA256 = {
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    "LICENSE": "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_vendored_file_is_the_recorded_release(name):
    data = (VENDOR / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256[name]
    assert SHA256[name] in (VENDOR / "README.md").read_text()


def test_version_and_licence_agree():
    readme = (VENDOR / "README.md").read_text()
    version = re.search(r"\| version \| (\S+) \|", readme).group(1)
    assert f"(v{version})" in (VENDOR / "uPlot.iife.min.js").read_text()[:200]
    assert "MIT License" in (VENDOR / "LICENSE").read_text()


def test_the_page_files_are_package_resources():
    pkg = resources.files("adaptive_agent.reports")
    assert pkg.joinpath("equity_page.js").is_file()
    assert pkg.joinpath("vendor", "uplot", "uPlot.iife.min.js").is_file()
