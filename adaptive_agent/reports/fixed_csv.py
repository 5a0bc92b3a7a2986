"""CSV rows of fixed-decimal numbers built by numpy, byte for byte what ``str.format`` writes.

``f"{v:.{d}f}"`` is the correctly rounded decimal of the binary value ``v``. For almost every
cell that is ``rint(v x 10^d)`` written out digit by digit, which numpy does for a whole column
at once; the cells where it may not be (the exact product within a few ulps of a half, values
too large for exact integers, nan and inf) are formatted by Python, row by row. The rows are
assembled as a byte matrix (one column per character position, 0 where a field is shorter
than its width) whose zeros are then dropped.
"""

from __future__ import annotations

import numpy as np

_EXACT = 2.0**52  # below this, rint() of a float64 is an exact integer


def _field(x: np.ndarray, d: int, out: np.ndarray) -> np.ndarray:
    """Write ``f"{v:.{d}f}"`` of each ``v`` right-aligned into ``out`` (width, n), returning
    the positions whose text numpy cannot vouch for."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = x * 10.0**d
        ok = np.isfinite(scaled) & (np.abs(scaled) < _EXACT)
    s = np.abs(np.where(ok, scaled, 0.0))
    ok &= np.abs(s - np.floor(s) - 0.5) > 4 * np.spacing(s)  # not near a tie
    q = np.rint(s).astype(np.int64)
    w = out.shape[0]
    out[0] = np.where(np.signbit(x), ord("-"), 0)
    for k in range(w - 1):  # from the last character back
        row = w - 1 - k
        if k == d:
            out[row] = ord(".")
            continue
        q, digit = np.divmod(q, 10)
        if k <= d + 1:  # the decimals and the units digit are always written
            out[row] = digit + 48
        else:
            out[row] = np.where((q > 0) | (digit > 0), digit + 48, 0)
    return np.flatnonzero(~ok)


def _width(x: np.ndarray, d: int) -> int:
    """Characters of the widest cell numpy writes: sign, integer digits, point, decimals."""
    finite = np.abs(x[np.isfinite(x)])
    top = min(float(finite.max()) if len(finite) else 0.0, _EXACT)
    return 1 + len(str(int(top) + 1)) + 1 + d


def fixed_rows(lead: np.ndarray, columns: list[np.ndarray], decimals, fmt: str) -> bytes:
    """Rows ``fmt.format(lead_text, *values)`` for ``lead`` (fixed-width bytes, ``S<k>``) and
    float ``columns`` with ``decimals``; ``fmt`` must be ``"{}<sep>,{:.d1f},...\\n"``-shaped:
    the lead, ``fmt``'s text between the lead and the first comma, then the cells."""
    n = len(lead)
    k = lead.dtype.itemsize
    tail = fmt[2 : fmt.index(",")].encode()  # what follows the lead ("Z" for times)
    widths = [_width(x, d) for x, d in zip(columns, decimals, strict=True)]
    mat = np.zeros((k + len(tail) + sum(w + 1 for w in widths) + 1, n), dtype=np.uint8)
    mat[:k] = np.frombuffer(lead.tobytes(), dtype=np.uint8).reshape(n, k).T
    for i, b in enumerate(tail):
        mat[k + i] = b
    at, slow = k + len(tail), []
    for x, d, w in zip(columns, decimals, widths, strict=True):
        mat[at] = ord(",")
        slow.append(_field(x, d, mat[at + 1 : at + 1 + w]))
        at += 1 + w
    mat[at] = ord("\n")
    rows = np.ascontiguousarray(mat.T)
    keep = rows != 0
    redo = np.unique(np.concatenate(slow)) if slow else np.empty(0, dtype=np.int64)
    keep[redo] = False
    body = rows[keep].tobytes()
    if not len(redo):
        return body
    ends = np.cumsum(keep.sum(axis=1))  # where each row's bytes end in body
    pieces, start = [], 0
    for i in redo.tolist():
        pieces.append(body[start : int(ends[i])])
        pieces.append(fmt.format(lead[i].decode(), *(float(x[i]) for x in columns)).encode())
        start = int(ends[i])
    pieces.append(body[start:])
    return b"".join(pieces)
