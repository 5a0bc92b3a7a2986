"""The one timestamp parser: every time that enters the program (candle, signal and funding
files, the signal-file follower, the webhook, operator commands) is read by these rules.

- A number is epoch time, whole and non-negative: below 1e11 it is seconds, from 1e14 on
  microseconds, otherwise milliseconds (docs/rules.md, Time).
- Text that is not a number is ISO-8601; without a zone it is UTC.
The result is epoch milliseconds (int64).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

EPOCH_SECONDS_BELOW = 100_000_000_000  # 1e11: 5138-11-16 in ms, 1973-03-03 in s
EPOCH_MICROS_FROM = 100_000_000_000_000  # 1e14


class TimestampError(ValueError):
    """One value that is not a time; ``index`` is its position in the input."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index, self.problem = index, problem


SHOWN_CHARS = 40


def shown(value: object) -> str:
    """A value quoted for an error message, cut to ``SHOWN_CHARS`` characters."""
    text = str(value)
    if len(text) > SHOWN_CHARS:
        return repr(text[:SHOWN_CHARS]) + f"... ({len(text):,} characters)"
    return repr(text)


def epoch_to_ms(values: np.ndarray) -> np.ndarray:
    """Whole epoch seconds / milliseconds / microseconds -> milliseconds."""
    ints = values.astype(np.int64)
    return np.where(
        ints < EPOCH_SECONDS_BELOW,
        ints * 1000,
        np.where(ints >= EPOCH_MICROS_FROM, ints // 1000, ints),
    )


def parse_timestamps(values: pd.Series | Sequence) -> np.ndarray:
    """Epoch ms for each value; raises ``TimestampError`` naming the first bad one."""
    import pandas as pd  # here, not at import: a run whose files are cached never needs it

    raw = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    is_num = np.isfinite(numeric)
    out = np.zeros(len(raw), dtype=np.int64)
    if is_num.any():
        nums = numeric[is_num]
        bad = (nums != np.floor(nums)) | (nums < 0) | (nums >= 2.0**62)
        if bad.any():
            i = int(np.flatnonzero(is_num)[np.argmax(bad)])
            raise TimestampError(
                i,
                f"{float(numeric[i])!r} is not a whole, non-negative number of epoch"
                " seconds/milliseconds",
            )
        out[is_num] = epoch_to_ms(nums)
    if not is_num.all():
        rest = np.flatnonzero(~is_num)
        text = raw.iloc[rest].astype("string").str.strip()
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = int(rest[np.argmax(bad)])
            value = raw.iloc[i]
            blank = pd.isna(value) or not str(value).strip()
            problem = "missing value" if blank else f"cannot parse {shown(value)} as a time"
            raise TimestampError(i, problem)
        out[rest] = parsed.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return out


def parse_timestamp(value: str | int | float) -> int:
    """One time (a webhook field, a follower's cell, a command's argument) -> epoch ms."""
    if isinstance(value, bool):
        raise TimestampError(0, f"{value!r} is not a time")
    return int(parse_timestamps([value])[0])
