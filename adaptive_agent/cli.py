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
        description="BTC-neutral rebalancing agent for Gate.io: backtest, paper and live trading.",
    )
    p.add_argument("--version", action="version", version=f"adaptive-agent {__version__}")
    p.add_argument("--log-json", action="store_true", help="logs as one JSON object per line")
    p.add_argument("--log-level", default="INFO", help="DEBUG shows per-bar detail (default INFO)")
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

    pp = sub.add_parser(
        "paper",
        help="paper trading on the built-in simulated exchange (no secrets needed)",
        description=(
            "Replays candles through the same decision core and execution as live trading,"
            " against the in-process simulated exchange. Default: the bundled real data with"
            " the baseline signals and the backtest's fill model."
        ),
    )
    pp.add_argument("--candles", help="5-minute candles to replay (default: bundled)")
    pp.add_argument("--signals", help="signals CSV (default with bundled data: baseline signals)")
    pp.add_argument("--funding", help="funding CSV (default with bundled data: bundled funding)")
    pp.add_argument("--config", help="TOML configuration file")
    pp.add_argument("--start", help="first bar to replay (ISO date/time, UTC)")
    pp.add_argument("--bars", type=int, help="stop after this many bars")
    pp.add_argument(
        "--speed",
        default="max",
        help="bars per second, or 'max' (default) to replay as fast as possible",
    )
    pp.add_argument(
        "--fill-model",
        choices=("backtest", "realistic"),
        default="backtest",
        help="simulated fills: the backtest's model (default) or a book with spread",
    )
    pp.add_argument("--state", default="state/paper.sqlite", help="state database")

    lv = sub.add_parser(
        "live",
        help="trade on Gate.io (secrets from GATE_API_KEY / GATE_API_SECRET)",
        description=(
            "Live trading: Gate.io spot + USDT perpetual through ccxt, P_ref from Binance."
            " Use --gate-url/--binance-url to rehearse against `adaptive-agent gate-sim`."
            " Set GATE_UID (the account's user id) to follow futures fills over the websocket"
            " too; without it futures fills are polled."
        ),
    )
    lv.add_argument("--config", help="TOML configuration file")
    lv.add_argument("--state", default="state/live.sqlite", help="state database")
    lv.add_argument("--gate-url", help="Gate REST base, e.g. http://127.0.0.1:8080 (gate-sim)")
    lv.add_argument("--binance-url", help="Binance REST base; the stream is at <url>/ws")
    lv.add_argument("--signals-file", help="signals CSV to follow as it grows")
    lv.add_argument(
        "--webhook-port",
        type=int,
        help="serve POST /signal on 127.0.0.1:PORT (token: ADAPTIVE_AGENT_WEBHOOK_TOKEN)",
    )
    lv.add_argument("--bars", type=int, help="stop after this many closes")
    lv.add_argument(
        "--set-dual-mode",
        action="store_true",
        help="switch the futures account to dual position mode if it is not",
    )

    sm = sub.add_parser("safe-mode", help="kill switch: hold every exposure-raising order")
    sm.add_argument("switch", choices=("on", "off", "status"))
    sm.add_argument("--state", default="state/live.sqlite", help="state database of the agent")

    gs = sub.add_parser(
        "gate-sim",
        help="serve a Gate-protocol exchange simulator on 127.0.0.1",
        description="Gate API v4 REST + websockets and Binance klines, replaying a candle file.",
    )
    for name, what in (
        ("digest", "rebuild the daily digest of one UTC day"),
        ("audit", "daily KPI audit of one UTC day against the targets"),
    ):
        d = sub.add_parser(name, help=what)
        d.add_argument("--date", required=True, help="the UTC day, YYYY-MM-DD")
        d.add_argument("--state", default="state/live.sqlite", help="state database")
        d.add_argument("--out", help="output folder (default: reports.daily_dir / audit_dir)")
        d.add_argument("--config", help="TOML configuration file")

    h = sub.add_parser("health", help="exit 0 if the agent processed a bar recently")
    h.add_argument("--state", default="state/live.sqlite", help="state database")
    h.add_argument("--max-age", type=float, default=900.0, help="seconds (default 900)")

    gs.add_argument("--candles", help="5-minute candles to replay (default: bundled)")
    gs.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free one)")
    gs.add_argument("--usdt", type=float, default=100_000.0, help="USDT in each account")
    gs.add_argument("--funding", help="funding CSV for settlements (default: constant rate)")
    gs.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="bars per real second (0: advance only via POST /sim/advance)",
    )
    gs.add_argument("--fill-model", choices=("realistic", "backtest"), default="realistic")
    gs.add_argument("--latency-ms", type=float, default=0.0, help="added to every REST reply")
    gs.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="fraction of private calls answered with a server error",
    )
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


def _cmd_paper(args: argparse.Namespace) -> int:
    import asyncio

    from .config import load_config
    from .runner.paper import PaperOptions, run_paper

    cfg = load_config(args.config)
    speed = None if args.speed == "max" else float(args.speed)
    opts = PaperOptions(
        candles=args.candles,
        signals=args.signals,
        funding=args.funding,
        start_ms=_parse_time(args.start, "--start") if args.start else None,
        bars=args.bars,
        speed=speed,
        fill_model=args.fill_model,
        state_path=Path(args.state),
    )
    summary = asyncio.run(run_paper(cfg, opts))
    print(summary)
    return EXIT_OK


def _cmd_live(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .config import load_config
    from .runner.live import LiveOptions, run_live

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
    )
    return asyncio.run(run_live(cfg, opts))


def _cmd_safe_mode(args: argparse.Namespace) -> int:
    from .state.store import StateStore

    store = StateStore(args.state)
    try:
        if args.switch != "status":
            store.set_manual_safe_mode(args.switch == "on", int(time.time() * 1000))
        print(f"safe mode (manual kill switch): {'on' if store.manual_safe_mode else 'off'}")
    finally:
        store.close()
    return EXIT_OK


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def _open_state(path: str):
    from .state.store import StateStore

    if not Path(path).exists():
        raise argparse.ArgumentTypeError(f"--state: {path}: no such state database")
    return StateStore(path)


def _cmd_digest(args: argparse.Namespace) -> int:
    from .config import load_config
    from .reports.digest import build_digest, format_digest, write_digest

    cfg = load_config(args.config)
    day = _day(args.date)
    store = _open_state(args.state)
    try:
        digest = build_digest(
            store, day, cfg.backtest.nav0, funding_hours_utc=cfg.backtest.funding_hours_utc
        )
    finally:
        store.close()
    md, _ = write_digest(digest, Path(args.out or cfg.reports.daily_dir))
    print(format_digest(digest))
    print(f"written: {md}")
    return EXIT_OK


def _cmd_audit(args: argparse.Namespace) -> int:
    from .config import load_config
    from .reports.audit import run_audit

    cfg = load_config(args.config)
    day = _day(args.date)
    store = _open_state(args.state)
    try:
        result = run_audit(store, cfg, day, Path(args.out or cfg.reports.audit_dir))
    finally:
        store.close()
    for kpi, value in result.kpis.items():
        dev = result.deviations.get(kpi)
        flag = "  <-- deviates" if kpi in result.flagged else ""
        dev_txt = "n/a" if dev is None else f"{dev:+.1%}"
        print(f"{kpi:18} {value!s:>24}  target {result.targets.get(kpi)!s:>8}  dev {dev_txt}{flag}")
    for prop in result.proposals:
        print(f"proposal: {prop}")
    if result.proposal_path:
        print(f"proposal written: {result.proposal_path}")
    if result.log_error:
        print(f"warning: {result.log_error}", file=sys.stderr)
    if result.log_path:
        print(f"logged to: {result.log_path}")
    return EXIT_OK


def _cmd_health(args: argparse.Namespace) -> int:
    from .policy.health import check_health

    ok, message = check_health(args.state, args.max_age)
    print(message)
    return EXIT_OK if ok else EXIT_FAIL


def _cmd_gate_sim(args: argparse.Namespace) -> int:
    from .sim import cli as sim_cli

    return sim_cli.main(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `adaptive-agent` console script."""
    args = _parser().parse_args(argv)
    from .config import ConfigError
    from .exchange.exchange_gate import ExchangeError
    from .io.loaders import InputError
    from .policy.policy_layer import MissingSecret

    handlers = {
        "backtest": _cmd_backtest,
        "signals": _cmd_signals,
        "config": _cmd_config,
        "paper": _cmd_paper,
        "live": _cmd_live,
        "safe-mode": _cmd_safe_mode,
        "gate-sim": _cmd_gate_sim,
        "digest": _cmd_digest,
        "audit": _cmd_audit,
        "health": _cmd_health,
    }
    if args.command in ("paper", "live", "gate-sim"):
        from .logging_setup import setup_logging
        from .policy.policy_layer import install_secret_filter

        setup_logging(
            args.log_level.upper(), json_logs=args.log_json, filters=(install_secret_filter(),)
        )
    try:
        return handlers[args.command](args)
    except (InputError, ConfigError) as exc:
        print(f"error: {exc}" if isinstance(exc, InputError) else str(exc), file=sys.stderr)
        return EXIT_INPUT
    except (argparse.ArgumentTypeError, MissingSecret) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ExchangeError as exc:
        print(f"exchange error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
