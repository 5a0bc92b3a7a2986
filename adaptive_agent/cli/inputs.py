"""A run's inputs, built in one place for the backtest and the paper driver alike.

``build_run_inputs`` turns what the operator named (files, a time window, a bar count) into the
loaded candles, perpetual candles, signals and funding, with the bundled-data defaults: with no
candle file the run uses the bundled Binance BTC/USDT 5-minute candles, the bundled funding
history and the baseline EMA-crossover signals computed on the run's own candles. The checks of
the drivers' numeric options (``--nav0``, ``--bars``, ``--speed``) are here too, so that a bad
value stops the command before anything is loaded or written.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import MAX_NAV0, AppConfig
from ..core.signals import SignalSeries
from ..io.loaders import Candles, FundingSeries, InputError, load_candles, load_funding
from ..io.timestamps import TimestampError, parse_timestamp

NO_SIGNALS = "none (all NONE)"


@dataclass(frozen=True)
class RunInputs:
    """What a backtest or paper run replays, and where each part came from."""

    candles: Candles  # P_ref, cut to the time window and bar count
    signals: SignalSeries | None  # None: NONE throughout
    funding: FundingSeries | None  # None: the configured constant rate
    perp: Candles | None  # P_contract; None: P_ref
    funding_path: str | None
    signals_desc: str  # the file, the baseline rule, or NO_SIGNALS
    signals_path: str | None = None  # the signals file, when one was read

    def files(self) -> dict[str, str | None]:
        """The input files by role, as a run record hashes them (``reports/run_record.py``)."""
        return {
            "candles": str(self.candles.path),
            "signals": self.signals_path,
            "funding": self.funding_path,
            "perp_candles": None if self.perp is None else str(self.perp.path),
        }


def parse_time(text: str, what: str) -> int:
    """``--start``/``--end`` by the one timestamp rule (``io/timestamps.py``): an ISO date or
    date-time (UTC unless it says otherwise) or epoch time, as epoch milliseconds."""
    try:
        return parse_timestamp(text)
    except TimestampError as exc:
        raise argparse.ArgumentTypeError(f"{what}: {exc.problem}") from None


def optional_time(text: str | None, what: str) -> int | None:
    return None if text is None else parse_time(text, what)


def build_run_inputs(
    cfg: AppConfig,
    *,
    candles: str | None = None,
    signals: str | None = None,
    funding: str | None = None,
    perp_candles: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    bars: int | None = None,
) -> RunInputs:
    """Load a run's inputs; ``candles=None`` selects the bundled data and its defaults.

    The window is ``[start_ms, end_ms)`` by bar open time and must hold at least 2 candles;
    ``bars`` then keeps the first ``bars + 1`` of them (``bars`` closes, plus the bar whose open
    fills the last decision). Baseline signals are computed on the cut candles (they look back
    only, so the cut does not change them).
    """
    from ..data import FUNDING_8H, SPOT_5M
    from ..io.loaders import load_signals
    from ..strategies.baseline_signals import ema_crossover_signals

    bundled = candles is None
    ref = load_candles(SPOT_5M if bundled else candles)
    if start_ms is not None or end_ms is not None:
        lo = 0 if start_ms is None else int(np.searchsorted(ref.ts, start_ms, "left"))
        hi = len(ref) if end_ms is None else int(np.searchsorted(ref.ts, end_ms, "left"))
        ref = ref.slice(lo, hi)
        if len(ref) < 2:
            raise InputError(f"{ref.path}: fewer than 2 candles between --start and --end")
    if bars is not None:
        ref = ref.slice(0, bars + 1)
    funding_path = funding or (str(FUNDING_8H) if bundled else None)
    if signals:
        series, desc = load_signals(signals), signals
    elif bundled:
        sc = cfg.signals
        series = ema_crossover_signals(ref, sc.ema_fast_hours, sc.ema_slow_hours)
        desc = f"baseline EMA {sc.ema_fast_hours}h/{sc.ema_slow_hours}h crossover"
    else:
        series, desc = None, NO_SIGNALS
    return RunInputs(
        candles=ref,
        signals=series,
        funding=load_funding(funding_path) if funding_path else None,
        perp=load_candles(perp_candles) if perp_candles else None,
        funding_path=funding_path,
        signals_desc=desc,
        signals_path=signals or None,
    )


def run_inputs_from_args(cfg: AppConfig, args: argparse.Namespace) -> RunInputs:
    """``build_run_inputs`` from the options ``parser.add_run_inputs`` declares (backtest,
    sweep)."""
    return build_run_inputs(
        cfg,
        candles=args.candles,
        signals=args.signals,
        funding=args.funding,
        perp_candles=args.perp_candles,
        start_ms=optional_time(args.start, "--start"),
        end_ms=optional_time(args.end, "--end"),
    )


def check_nav0(value: float | None) -> None:
    """``--nav0``, when given, is a finite amount of USDT above 0, at most ``MAX_NAV0``
    (the bound of ``backtest.nav0`` in the configuration)."""
    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_NAV0):
        raise argparse.ArgumentTypeError(
            f"--nav0: expected a finite number > 0 and <= {MAX_NAV0:g}, got {value}"
        )


def check_out(value: str | None) -> Path | None:
    """``--out``, when given, is a report folder: it may exist, but not as a file."""
    if value is None:
        return None
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise argparse.ArgumentTypeError(f"--out: {value} is a file, not a folder")
    return out


def check_bars(value: int | None) -> None:
    """``--bars``, when given, is a count of closes: 0 or more."""
    if value is not None and value < 0:
        raise argparse.ArgumentTypeError(f"--bars: expected a whole number >= 0, got {value}")


def replay_speed(text: str) -> float | None:
    """``--speed``: bars per second (a finite number > 0), or ``max`` (None) for no pause."""
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0):
        raise argparse.ArgumentTypeError(
            f"--speed: expected 'max' or a finite number > 0, got {text!r}"
        )
    return speed
