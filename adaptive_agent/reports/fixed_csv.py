"""CSV rows of fixed-decimal numbers built by numpy, byte for byte what ``str.format`` writes.

``f"{v:.{d}f}"`` is the correctly rounded decimal of the binary value ``v``. For almost every
cell that is ``q = rint(|v| x 10^d)`` written out, which numpy does for a whole column at once;
the cells where it may not be (a product that is exactly a half-integer, products of 2^52 and
more, nan and inf: ``_cells`` says why these) are formatted by Python, row by row.

Digits come four at a time from tables of the 10,000 groups "0000".."9999": the ``d``
decimals are ``q mod 10^d`` cut into groups and written zero-padded; the integer part
``q div 10^d`` is cut into groups too, the highest non-zero one written with its leading
zeros blanked ("  42", and "   0" for a zero integer part), the ones below it zero-padded,
the ones above it blank. A column gets as many integer positions as its largest cell needs
and a sign position only if a cell has the sign bit (``-0.0``, and ``-0.004`` at two decimals,
are ``"-0.00"``); "blank" is a zero byte.

The rows are put together in a row-major byte matrix, one row per line and each field at a
fixed offset, from the end of the row to its start: the table groups and constant characters
(point, comma, sign, the text after the lead, the newline) are packed into 8-byte
little-endian words by shifts and ors (a word's constants go into a cached, shifted copy of
the table its first group is gathered from), and each word is stored through a strided view
of the matrix whose end is the word's last byte. A word shorter than 8 bytes writes zeros over the
bytes to its left, which the words after it (and the lead, written last) overwrite; rows start
with zero padding when the lead is shorter than a word. Dropping the matrix's zero bytes
(``bytes.replace``, far faster than a boolean mask) leaves the rows one after the other.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_EXACT = 2.0**52  # below this, rint() of a float64 is an exact integer


def _tables() -> dict[str, np.ndarray]:
    """Every group 0..9999 as 4 characters in the low bytes of a uint64: padded ("0042"),
    blanked ("  42", "   0"), and blanked with 0 blank too; "under" tables are for a group
    below the highest one, blanked at index g and padded at 10^4 + g (a higher group > 0)."""
    v = np.arange(10_000)
    digits = np.stack([v // 1000, v // 100 % 10, v // 10 % 10, v % 10], axis=1)
    chars = (digits + ord("0")).astype(np.uint8)
    lead = np.cumsum(digits, axis=1) == 0  # the leading zeros ...
    lead[:, 3] = False  # ... but not the units digit
    as64 = lambda c: np.ascontiguousarray(c).view("<u4").ravel().astype(np.uint64)  # noqa: E731
    padded, blanked = as64(chars), as64(np.where(lead, 0, chars).astype(np.uint8))
    blank0 = blanked.copy()
    blank0[0] = 0
    under0 = np.concatenate((blanked, padded))  # the units group
    under = np.concatenate((blank0, padded))
    return {
        "padded": padded,
        "blanked": blanked,
        "blank0": blank0,
        "under0": under0,
        "under": under,
    }


_TABLES = _tables()


@lru_cache(maxsize=256)
def _table(name: str, length: int, shift: int, const: int) -> np.ndarray:
    """Table ``name`` for groups of ``length`` <= 4 characters (its last ones), shifted left by
    ``shift`` bits and ored with ``const``: gathering from it gives a word's bits at once."""
    t = _TABLES[name]
    if length < 4:
        t = t[: 10**length] >> np.uint64(8 * (4 - length))
    return (t << np.uint64(shift)) | np.uint64(const)


class _Words:
    """Packs a row's text from its end into 8-byte words stored end-aligned into ``mat`` (a
    flat uint8 buffer of ``n`` rows of ``stride`` bytes). Pieces: int constants, (table name,
    indices) pairs and sign masks (bool arrays, True for "-")."""

    def __init__(self, mat: np.ndarray, n: int, stride: int) -> None:
        self.mat, self.n, self.stride = mat, n, stride
        self.end = stride  # the row offset just past the bytes not written yet
        self.parts: list = []
        self.const = 0
        self.fill = 0  # bytes of the word in use, from its top

    def put(self, piece, length: int) -> None:
        if self.fill + length > 8:
            self.flush()
        shift = 8 * (8 - self.fill - length)
        self.fill += length
        if isinstance(piece, int):
            self.const |= piece << shift
        else:
            self.parts.append((piece, length, shift))

    def text(self, b: bytes) -> None:
        for c in reversed(b):
            self.put(c, 1)

    def flush(self) -> None:
        if not self.fill:
            return
        view = np.ndarray((self.n,), "<u8", self.mat, offset=self.end - 8, strides=(self.stride,))
        const, arrays = self.const, []
        for piece, length, shift in self.parts:
            if isinstance(piece, tuple):
                name, index = piece
                table = _table(name, length, shift, const)
                arrays.append(np.take(table, index, mode="clip"))  # in range: no bounds check
            else:
                dash = np.uint64(ord("-") << shift | const)
                arrays.append(np.where(piece, dash, np.uint64(const)))
            const = 0  # in the first array
        if not arrays:
            view[...] = const
        elif len(arrays) == 1:
            view[...] = arrays[0]
        else:
            word = arrays[0]
            for a in arrays[1:-1]:
                word |= a
            np.bitwise_or(word, arrays[-1], out=view)
        self.end -= self.fill
        self.parts, self.const, self.fill = [], 0, 0


def _cells(x: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``q = rint(|x| 10^d)`` (0 where not ok; int32 when it and ``10^d`` fit), the sign bits,
    ok (the cells whose ``q`` is ``str.format``'s, see below) and ``max(q)``.

    For ``d <= 22``, ``10^d`` is exact and ``s = |x| * 10^d`` is the exact product ``p``
    rounded. Below 2^52 every ``k + 1/2`` is a float, and rounding is monotonic: when ``s`` is
    not a half-integer, ``p`` lies strictly between the same two half-integers as ``s`` and
    ``rint(s)`` is ``p``'s correct rounding, which ``str.format`` writes. ``s`` exactly
    ``k + 1/2`` (a tie, or ``p`` rounded onto one: 2.675 -> 267.5), 2^52 and above, nan, inf
    and ``d > 22`` are not ok."""
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.multiply(x, 10.0**d)
        np.abs(s, out=s)
        ok = (s < _EXACT) if d <= 22 else np.zeros(len(x), dtype=bool)  # false for nan, inf
    if not ok.all():
        s[~ok] = 0.0
    r = np.rint(s)
    np.subtract(s, r, out=s)
    ok &= np.abs(s, out=s) < 0.5
    top = int(r.max())
    small = top < 2**31 and d <= 9  # int32 arithmetic is 2-3x faster
    return r.astype(np.int32 if small else np.int64), np.signbit(x), ok, top


def _groups(v: np.ndarray, count: int) -> list[np.ndarray]:
    """``v``'s ``count`` 4-digit groups from the units; the last one is all that is left."""
    out = []
    for _ in range(count - 1):
        rest = v // 10_000
        out.append(v - rest * 10_000)
        v = rest
    return [*out, v]


def _field(words: _Words, q: np.ndarray, neg: np.ndarray, d: int, ints: int, sign: bool) -> None:
    """Put ``f"{v:.{d}f}"`` of the cells (``q``, ``neg``) into ``words``, right-aligned in a
    sign position (if ``sign``), ``ints`` integer positions, the point and ``d`` decimals."""
    whole = q
    if d:
        whole = q // 10**d
        for i, g in enumerate(_groups(q - whole * 10**d, -(-d // 4))):
            words.put(("padded", g), min(4, d - 4 * i))
        words.put(ord("."), 1)
    count = -(-ints // 4)
    for i, g in enumerate(_groups(whole, count)):
        if i < count - 1:  # padded under a non-zero higher part
            above = (whole >= 10 ** (4 * i + 4)) * 10_000
            words.put(("under0" if i == 0 else "under", g + above), 4)
        else:
            words.put(("blanked" if i == 0 else "blank0", g), ints - 4 * i)
    if sign:
        words.put(neg, 1)


def fixed_rows(lead: np.ndarray, columns: list[np.ndarray], decimals, fmt: str) -> bytes:
    """Rows ``fmt.format(lead_text, *values)`` for ``lead`` (fixed-width bytes, ``S<k>``) and
    float ``columns`` with ``decimals``; ``fmt`` must be ``"{}<sep>,{:.d1f},...\\n"``-shaped:
    the lead, ``fmt``'s text between the lead and the first comma, then the cells."""
    n = len(lead)
    if not n:
        return b""
    k = lead.dtype.itemsize
    tail = fmt[2 : fmt.index(",")].encode()  # what follows the lead ("Z" for times)
    cells = [_cells(x, d) for x, d in zip(columns, decimals, strict=True)]
    pad = max(0, 8 - k)  # so that a row's first word stays in the row
    stride = pad + k + len(tail) + 1
    layout = []
    for (_, neg, _, top), d in zip(cells, decimals, strict=True):
        layout.append((len(str(top // 10**d)), bool(neg.any())))
        stride += 1 + layout[-1][1] + layout[-1][0] + (1 + d if d else 0)
    # without a pad, the words and the lead write every byte
    mat = (np.zeros if pad else np.empty)(n * stride, dtype=np.uint8)
    words = _Words(mat, n, stride)
    words.put(ord("\n"), 1)
    for i in reversed(range(len(cells))):
        _field(words, cells[i][0], cells[i][1], decimals[i], *layout[i])
        words.put(ord(","), 1)
    words.text(tail)
    words.flush()
    np.ndarray((n,), lead.dtype, mat, offset=pad, strides=(stride,))[...] = lead
    ok = np.ones(n, dtype=bool)
    for c in cells:
        ok &= c[2]
    redo = [] if ok.all() else np.flatnonzero(~ok)
    rows = mat.reshape(n, stride)
    if len(redo):
        rows[redo] = 0
    body = rows.tobytes().replace(b"\0", b"")
    if not len(redo):
        return body
    ends = np.cumsum(np.count_nonzero(rows, axis=1))  # where each row's bytes end in body
    pieces, start = [], 0
    for i in redo.tolist():
        pieces.append(body[start : int(ends[i])])
        pieces.append(fmt.format(lead[i].decode(), *(float(x[i]) for x in columns)).encode())
        start = int(ends[i])
    pieces.append(body[start:])
    return b"".join(pieces)
