"""Command line: ``adaptive-agent backtest | signals | config``.

Exit codes: 0 success, 2 bad input or configuration (one line naming the file/field and line),
1 anything unexpected. Heavy modules are imported inside the commands that need them, so the
backtest never loads an exchange client.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FAIL, EXIT_INPUT = 0, 1, 2


class _Progress:
    """A progress bar on stderr that appears only when a run lasts longer than a second."""

    def __init__(self, stream=sys.stderr, delay: float = 1.0) -> None:
        self.stream, self.delay = stream, delay
        self.t0 = time.monotonic()
        self.shown = False
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, frac: float) -> None:
        if not self.tty or time.monotonic() - self.t0 < self.delay:
            return
        filled = int(frac * 30)
        self.stream.write(f"\rbacktest [{'#' * filled}{'.' * (30 - filled)}] {frac * 100:5.1f}%")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _parse_time(text: str, what: str) -> int:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what}: expected an ISO date, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="adaptive-agent",
        description="BTC-neutral rebalancing agent for Gate.io: backtest, signals, configuration.",
    )
    p.add_argument("--version", action="version", version=f"adaptive-agent {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser(
        "backtest",
        help="replay 5-minute candles through the decision core and write reports",
        description=(
            "Backtest on a candle CSV (SPEC 6 fill model). With no --candles it runs on the bundled"
            " real Binance BTC/USDT data with the bundled funding history and the baseline signals."
        ),
    )
    b.add_argument(
        "--candles", help="5-minute P_ref candles: CSV or CSV.gz (header or Binance klines)"
    )
    b.add_argument("--signals", help="signals CSV: timestamp,signal (BUY|SELL|NONE)")
    b.add_argument("--funding", help="funding CSV: timestamp,funding_rate (or rate)")
    b.add_argument(
        "--perp-candles", help="perpetual 5-minute candles for P_contract (default: P_ref)"
    )
    b.add_argument("--config", help="TOML configuration file (default: built-in defaults)")
    b.add_argument("--nav0", type=float, help="starting NAV in USDT (default: backtest.nav0)")
    b.add_argument("--start", help="first bar to use (ISO date/time, UTC)")
    b.add_argument("--end", help="end of the run, exclusive (ISO date/time, UTC)")
    b.add_argument("--out", help="report folder (default: reports/<run-id>/)")
    b.add_argument("--no-html", action="store_true", help="skip equity.html")
    b.add_argument("--quiet", action="store_true", help="do not print the summary table")

    s = sub.add_parser(
        "signals",
        help="write baseline signals (EMA crossover on hourly closes) for a candle file",
        description=(
            "Baseline signal rule: BUY when the fast EMA of hourly closes crosses above the slow"
            " one, SELL when it crosses below (spans in signals.ema_fast_hours/ema_slow_hours)."
        ),
    )
    s.add_argument("--candles", help="5-minute candles (default: bundled Binance BTC/USDT)")
    s.add_argument("--out", required=True, help="signals CSV to write")
    s.add_argument("--config", help="TOML configuration file")

    c = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    c.add_argument("--config", help="TOML configuration file")
    return p


def _run_id(parts: list[str]) -> str:
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest}"


def _cmd_backtest(args: argparse.Namespace) -> int:
    import numpy as np

    from .backtest.rebalance_backtester import run_backtest
    from .config import load_config
    from .data import FUNDING_8H, SPOT_5M
    from .io.loaders import InputError, load_candles, load_funding, load_signals
    from .reports.writer import format_summary, write_reports
    from .strategies.baseline_signals import ema_crossover_signals

    cfg = load_config(args.config)
    bundled = args.candles is None
    candles = load_candles(SPOT_5M if bundled else args.candles)
    start = _parse_time(args.start, "--start") if args.start else None
    end = _parse_time(args.end, "--end") if args.end else None
    if start is not None or end is not None:
        lo = 0 if start is None else int(np.searchsorted(candles.ts, start, "left"))
        hi = len(candles) if end is None else int(np.searchsorted(candles.ts, end, "left"))
        candles = candles.slice(lo, hi)
        if len(candles) < 2:
            raise InputError(f"{candles.path}: fewer than 2 candles between --start and --end")
    funding_path = args.funding or (FUNDING_8H if bundled else None)
    funding = load_funding(funding_path) if funding_path else None
    perp = load_candles(args.perp_candles) if args.perp_candles else None
    if args.signals:
        signals, sig_desc = load_signals(args.signals), args.signals
    elif bundled:
        sc = cfg.signals
        signals = ema_crossover_signals(candles, sc.ema_fast_hours, sc.ema_slow_hours)
        sig_desc = f"baseline EMA {sc.ema_fast_hours}h/{sc.ema_slow_hours}h crossover"
    else:
        signals, sig_desc = None, "none (all NONE)"

    progress = _Progress()
    try:
        result = run_backtest(candles, signals, funding, perp, cfg, args.nav0, progress)
    finally:
        progress.close()
    inputs = [
        str(candles.path),
        str(funding_path),
        sig_desc,
        str(args.perp_candles),
        str(args.config),
        str(args.nav0),
        str(start),
        str(end),
    ]
    out = Path(args.out) if args.out else Path("reports") / _run_id(inputs)
    title = f"adaptive_agent backtest — {Path(candles.path).name}"
    write_reports(result, out, html=not args.no_html, title=title)
    if not args.quiet:
        print(f"candles : {candles.path}")
        print(f"funding : {funding_path or 'constant ' + str(cfg.backtest.funding_rate_default)}")
        print(f"signals : {sig_desc}")
        if args.perp_candles:
            print(f"perp    : {args.perp_candles}")
        print(format_summary(result))
    print(f"reports : {out}")
    return EXIT_OK


def _cmd_signals(args: argparse.Namespace) -> int:
    from .config import load_config
    from .data import SPOT_5M
    from .io.loaders import load_candles
    from .strategies.baseline_signals import ema_crossover_signals, write_signals

    cfg = load_config(args.config)
    candles = load_candles(args.candles or SPOT_5M)
    series = ema_crossover_signals(candles, cfg.signals.ema_fast_hours, cfg.signals.ema_slow_hours)
    out = Path(args.out)
    if out.parent != Path():
        out.parent.mkdir(parents=True, exist_ok=True)
    write_signals(series, out)
    print(f"{len(series.ts_ms)} signals written to {out}")
    return EXIT_OK


def _cmd_config(args: argparse.Namespace) -> int:
    from .config import load_config, render_config

    sys.stdout.write(render_config(load_config(args.config)))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `adaptive-agent` console script."""
    args = _parser().parse_args(argv)
    from .config import ConfigError
    from .io.loaders import InputError

    handlers = {"backtest": _cmd_backtest, "signals": _cmd_signals, "config": _cmd_config}
    try:
        return handlers[args.command](args)
    except (InputError, ConfigError) as exc:
        print(f"error: {exc}" if isinstance(exc, InputError) else str(exc), file=sys.stderr)
        return EXIT_INPUT
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
