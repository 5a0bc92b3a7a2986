"""numpy's fixed-decimal rows are str.format's, byte for byte: ties, signs, zeros, huge and
non-finite cells included."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.reports.fixed_csv import fixed_rows
from adaptive_agent.reports.writer import EQUITY_DECIMALS, EQUITY_FORMAT

DECIMALS = (2, 8, 4)
FMT = "{}Z," + ",".join(f"{{:.{d}f}}" for d in DECIMALS) + "\n"
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e7, 1e7),
    st.floats(-1.0, 1.0),
    st.integers(-(10**9), 10**9).map(lambda k: k / 8.0),  # exact binary ties: 0.125, 2.5 ...
    st.integers(-(10**6), 10**6).map(lambda k: k / 1000 + 0.005),  # decimal "ties" like 2.675
    st.sampled_from([0.0, -0.0, 0.5, -0.5, 9.995, 99.99999999, 1e15, 4.5e15, 1e300, -1e-300]),
)


def _python(lead, columns, fmt):
    return "".join(
        fmt.format(t.decode(), *(float(c[i]) for c in columns)) for i, t in enumerate(lead)
    ).encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CELLS, CELLS, CELLS), min_size=1, max_size=40))
def test_rows_equal_str_format(rows):
    lead = np.array([b"2024-01-01T00:%02d:00" % (i % 60) for i in range(len(rows))], dtype="S19")
    columns = [np.array(c, dtype=np.float64) for c in zip(*rows, strict=True)]
    assert fixed_rows(lead, columns, DECIMALS, FMT) == _python(lead, columns, FMT)


def test_the_equity_format_is_its_decimals():
    cells = [math.pi * 10**k for k in range(len(EQUITY_DECIMALS))]
    lead = np.array([b"2024-01-01T00:05:00"], dtype="S19")
    columns = [np.array([v]) for v in cells]
    out = fixed_rows(lead, columns, EQUITY_DECIMALS, EQUITY_FORMAT)
    assert out == EQUITY_FORMAT.format("2024-01-01T00:05:00", *cells).encode()
