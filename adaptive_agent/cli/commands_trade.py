"""``adaptive-agent paper | live``: the agent trading, on the in-process simulator or on Gate.io."""

from __future__ import annotations

import argparse
from pathlib import Path

from .commands_backtest import run_id
from .exit_codes import EXIT_OK
from .inputs import check_bars, check_out, optional_time, replay_speed
from .progress import Progress


def cmd_paper(args: argparse.Namespace) -> int:
    import asyncio

    from ..config import load_config
    from ..runner.paper import PaperOptions, run_paper

    check_bars(args.bars)
    live_only = (args.gate_url, args.binance_url, args.signals_file, args.webhook_port)
    if args.live or any(v is not None for v in live_only):  # paper --live: runner/paper_live.py
        from .paper_live_args import run_paper_live_command

        return run_paper_live_command(args)
    speed = replay_speed(args.speed)
    out = check_out(args.out)
    cfg = load_config(args.config)
    start_ms = optional_time(args.start, "--start")
    if out is None:  # reports/<run-id>/, named as a backtest's
        parts = ["paper", str(args.candles), str(args.signals), str(args.funding)]
        parts += [str(args.config), str(start_ms), str(args.bars), args.fill_model]
        out = Path("reports") / run_id(parts)
    progress = Progress(label="paper")

    def record(report: Path, files: dict[str, str | None]) -> None:  # reports/run_record.py
        from ..reports.run_record import write_run_record

        options = {k: getattr(args, k) for k in vars(args)}
        write_run_record(report, cfg, getattr(args, "argv", []), options, files)

    opts = PaperOptions(
        candles=args.candles,
        signals=args.signals,
        funding=args.funding,
        start_ms=start_ms,
        bars=args.bars,
        speed=speed,
        fill_model=args.fill_model,
        state_path=Path(args.state or "state/paper.sqlite"),
        report_dir=out,
        progress=progress,
        run_record=record,
    )
    try:
        summary = asyncio.run(run_paper(cfg, opts))
    finally:
        progress.close()
    print(summary)
    return EXIT_OK


def cmd_live(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from ..config import load_config
    from ..runner.live import LiveOptions, run_live

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg = load_config(args.config)
    opts = LiveOptions(
        state_path=Path(args.state),
        gate_url=args.gate_url,
        binance_url=args.binance_url,
        signals_file=Path(args.signals_file) if args.signals_file else None,
        webhook_port=args.webhook_port,
        max_bars=args.bars,
        set_dual_mode=args.set_dual_mode,
        adopt_venue_state=args.adopt_venue_state,
    )
    return asyncio.run(run_live(cfg, opts))
