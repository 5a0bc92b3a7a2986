"""Comparing our summaries with the independent reference's."""

from __future__ import annotations

import math

from adaptive_agent.reports.writer import SUMMARY_COLUMNS


def assert_summaries_agree(ours: dict, ref: dict, rel: float = 1e-9) -> None:
    shared = [k for k in SUMMARY_COLUMNS if k in ref]  # the reference predates issue 10's
    assert len(shared) >= 20, shared
    for k in shared:
        a, b = ours[k], ref[k]
        if isinstance(a, float) and math.isnan(a):
            assert math.isnan(b), k
            continue
        assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-12), (k, a, b)
