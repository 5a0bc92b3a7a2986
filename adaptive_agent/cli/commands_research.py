"""``adaptive-agent sweep``: a grid of settings over one dataset, locally or on a Dask cluster,
optionally walked forward (``adaptive_agent/research``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .commands_backtest import run_id
from .exit_codes import EXIT_OK
from .inputs import check_nav0, check_out, run_inputs_from_args
from .progress import Progress


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..backtest.dataset import BacktestData
    from ..config import load_config
    from ..research.grid import configure, grid_points, parse_grid
    from ..research.sweep import best, objective_value, run_sweep
    from ..research.sweep_report import write_sweep_csv, write_sweep_html

    check_nav0(args.nav0)
    out = check_out(args.out)
    if args.sample is not None and args.sample < 1:
        raise argparse.ArgumentTypeError(f"--sample: expected a count >= 1, got {args.sample}")
    if args.workers is not None and args.workers < 1:
        raise argparse.ArgumentTypeError(f"--workers: expected a count >= 1, got {args.workers}")
    if not args.grid:
        raise argparse.ArgumentTypeError("--grid: at least one KEY=VALUES is needed")
    grids = [parse_grid(g) for g in args.grid]
    wf = None
    if args.walk_forward:
        from ..research.walk_forward import parse_walk_forward

        wf = parse_walk_forward(args.walk_forward)
    base = load_config(args.config)
    points = grid_points(grids, args.sample, args.seed)
    configs = [configure(base, p) for p in points]  # every one valid before anything runs
    keys = [k for k, _ in grids]
    inputs = run_inputs_from_args(base, args)
    data = BacktestData(inputs.candles, inputs.signals, inputs.funding, inputs.perp)
    out = out or Path("reports") / f"sweep-{run_id([*args.grid, str(args.candles)])}"
    progress = Progress(label="sweep")
    try:
        rows = run_sweep(data, configs, args.nav0, args.scheduler, args.workers, progress)
    finally:
        progress.close()
    out.mkdir(parents=True, exist_ok=True)
    write_sweep_csv(out / "sweep.csv", keys, points, rows)
    write_sweep_html(out / "sweep.html", keys, points, rows, args.objective)
    print(f"sweep: {len(rows):,} configurations on {len(data):,} bars; best by {args.objective}:")
    for i in best(rows, args.objective, args.max_dd, args.top):
        shown = " ".join(f"{k}={points[i][k]}" for k in keys)
        r = rows[i]
        print(
            f"  {shown}: {args.objective} {objective_value(r, args.objective, args.max_dd):.4g},"
            f" ROI {float(r['roi']):.4%}, Sharpe {float(r['sharpe']):.3f},"
            f" max DD {float(r['max_dd']):.3%}, fees {float(r['fees_usdt']):,.2f} USDT"
        )
    if wf is not None:
        from ..research.sweep_report import write_walk_forward_csv
        from ..research.walk_forward import walk_forward

        wrows, totals = walk_forward(
            data, points, configs, wf, args.objective, args.max_dd, args.nav0, args.scheduler,
            args.workers,
        )  # fmt: skip
        write_walk_forward_csv(out / "walk_forward.csv", wrows)
        print(f"walk-forward: {len(wrows)} windows (in-sample -> out-of-sample):")
        for r in wrows:
            shown = " ".join(f"{k}={r[k]}" for k in keys)
            print(
                f"  #{r['window']}: {shown}: ROI {r['is_roi']:+.3%} -> {r['oos_roi']:+.3%},"
                f" Sharpe {r['is_sharpe']:.2f} -> {r['oos_sharpe']:.2f}"
            )
        print(
            f"  out-of-sample compounded ROI {totals['oos_roi_compounded']:+.3%};"
            f" mean ROI in-sample {totals['is_roi_mean']:+.3%}, out {totals['oos_roi_mean']:+.3%}"
        )
    print(f"reports : {out}")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..research.calibrate import calibrate, calibration_text, config_snippet
    from ..state.store import StateStore

    cfg = load_config(args.config)
    store = StateStore(args.state, create=False)  # an existing state database, never a new one
    try:
        c = calibrate(store, cfg)
    finally:
        store.close()
    if c.fills == 0:
        raise argparse.ArgumentTypeError(f"--state: {args.state} has no fills to calibrate from")
    print(calibration_text(c))
    snippet = config_snippet(c)
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise argparse.ArgumentTypeError(f"--out: {out} is a folder, not a file")
        out.write_text(snippet, encoding="utf-8")
        print(f"config snippet: {out}")
    else:
        print(snippet, end="")
    return EXIT_OK
