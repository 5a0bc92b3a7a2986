"""``adaptive-agent backtest | signals | config``: the offline commands.

None of them loads an exchange client: heavy modules are imported inside the commands.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from .exit_codes import EXIT_FAIL, EXIT_OK
from .inputs import check_nav0, check_out, optional_time, run_inputs_from_args
from .progress import Progress


def run_id(parts: list[str]) -> str:
    """``<UTC now>-<hash of the inputs>``: the default report folder name."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:8]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest}"


def cmd_backtest(args: argparse.Namespace) -> int:
    from ..backtest.rebalance_backtester import run_backtest
    from ..config import load_config
    from ..reports.writer import format_summary, write_reports

    record = None
    if args.from_report is not None:  # the recorded options and configuration, inputs checked
        record, cfg = _from_report(args)
    check_nav0(args.nav0)
    check_out(args.out)
    if record is None:
        cfg = load_config(args.config)
    inputs = run_inputs_from_args(cfg, args)
    candles = inputs.candles
    progress = Progress()
    try:
        result = run_backtest(
            candles, inputs.signals, inputs.funding, inputs.perp, cfg, args.nav0, progress
        )
    finally:
        progress.close()
    parts = [
        str(candles.path),
        str(inputs.funding_path),
        inputs.signals_desc,
        str(args.perp_candles),
        str(args.config),
        str(args.nav0),
        str(optional_time(args.start, "--start")),  # (valid: the inputs were read with it)
        str(optional_time(args.end, "--end")),
    ]
    out = Path(args.out) if args.out else Path("reports") / run_id(parts)  # (checked above)
    title = f"adaptive_agent backtest — {Path(candles.path).name}"
    write_reports(result, out, html=not args.no_html, title=title)
    from ..reports.run_record import write_run_record

    options = {k: getattr(args, k) for k in vars(args)}
    rec = write_run_record(out, cfg, getattr(args, "argv", []), options, inputs.files())
    if not args.quiet:
        constant = "constant " + str(cfg.backtest.funding_rate_default)
        print(f"candles : {candles.path}")
        print(f"funding : {inputs.funding_path or constant}")
        print(f"signals : {inputs.signals_desc}")
        if args.perp_candles:
            print(f"perp    : {args.perp_candles}")
        print(format_summary(result))
    print(f"reports : {out}")
    if record is not None:
        if rec.trades_sha256 != record.trades_sha256:
            print(
                f"error: not reproduced: trades.csv SHA-256 {rec.trades_sha256[:16]}... differs"
                f" from {record.trades_sha256[:16]}... recorded in {args.from_report}",
                file=sys.stderr,
            )
            return EXIT_FAIL
        print(f"reproduced: trades.csv SHA-256 {rec.trades_sha256} as in {args.from_report}")
    return EXIT_OK


def _from_report(args: argparse.Namespace):
    """``--from-report DIR``: the run's options into ``args``, and its configuration."""
    from ..config import load_config
    from ..reports.run_record import CONFIG_FILE, OPTIONS, read_run_record

    given = [f"--{k.replace('_', '-')}" for k in (*OPTIONS, "config") if getattr(args, k)]
    if given:
        raise argparse.ArgumentTypeError(
            f"--from-report: reruns the recorded run; {', '.join(given)} cannot change it"
        )
    folder = Path(args.from_report)
    record = read_run_record(folder)
    for k, v in record.options.items():
        setattr(args, k, v)
    # environment overrides were folded into the snapshot: none are applied on top
    return record, load_config(folder / CONFIG_FILE, env={})


def cmd_signals(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..data import SPOT_5M
    from ..io.loaders import load_candles
    from ..strategies.baseline_signals import ema_crossover_signals, write_signals

    cfg = load_config(args.config)
    candles = load_candles(args.candles or SPOT_5M)
    series = ema_crossover_signals(candles, cfg.signals.ema_fast_hours, cfg.signals.ema_slow_hours)
    out = Path(args.out)
    if out.parent != Path():
        out.parent.mkdir(parents=True, exist_ok=True)
    write_signals(series, out)
    print(f"{len(series.ts_ms)} signals written to {out}")
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from ..config import load_config, render_config

    sys.stdout.write(render_config(load_config(args.config)))
    return EXIT_OK
