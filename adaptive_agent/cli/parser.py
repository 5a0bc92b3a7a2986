"""The ``adaptive-agent`` argument parser: every subcommand, its options and --help texts."""

from __future__ import annotations

import argparse

from .. import __version__


def webhook_port(text: str) -> int:
    """The webhook's TCP port, 1..65535 (exit 2 otherwise, naming the value)."""
    from ..sim.options import port_number  # light: argparse rules only

    port = port_number(text)
    if port == 0:  # "any free port" would be a port nobody can be told
        raise argparse.ArgumentTypeError("port 0: the webhook needs a port to be told")
    return port


def add_run_inputs(p: argparse.ArgumentParser) -> None:
    """What a backtest or a sweep runs on (read by ``inputs.run_inputs_from_args``)."""
    p.add_argument(
        "--candles",
        help="5-minute P_ref candles: CSV or CSV.gz (header or Binance klines; default: bundled)",
    )
    p.add_argument("--signals", help="signals CSV: timestamp,signal (BUY|SELL|NONE)")
    p.add_argument("--funding", help="funding CSV: timestamp,funding_rate (or rate)")
    p.add_argument(
        "--perp-candles", help="perpetual 5-minute candles for P_contract (default: P_ref)"
    )
    p.add_argument("--nav0", type=float, help="starting NAV in USDT (default: backtest.nav0)")
    p.add_argument("--start", help="first bar to use (ISO date/time, UTC)")
    p.add_argument("--end", help="end of the run, exclusive (ISO date/time, UTC)")


class _DefaultsShown(argparse.HelpFormatter):
    """``--help`` names each option's default, unless its text already does or it has none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or action.option_strings == []
        ):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand with its options and --help texts."""
    p = argparse.ArgumentParser(
        prog="adaptive-agent",
        description="BTC-neutral rebalancing agent for Gate.io: backtest, paper and live trading.",
        formatter_class=_DefaultsShown,
    )
    p.add_argument("--version", action="version", version=f"adaptive-agent {__version__}")
    _add_global_options(p, suppress=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser(
        "backtest",
        help="replay 5-minute candles through the decision core and write reports",
        description=(
            "Backtest on a candle CSV (fill model: docs/rules.md, Backtest). With no --candles it"
            " runs on the bundled real Binance BTC/USDT data with the bundled funding history and"
            " the baseline signals."
        ),
    )
    add_run_inputs(b)
    b.add_argument("--config", help="TOML configuration file (default: built-in defaults)")
    b.add_argument("--out", help="report folder (default: reports/<run-id>/)")
    b.add_argument("--no-html", action="store_true", help="skip equity.html")
    b.add_argument("--quiet", action="store_true", help="do not print the summary table")
    b.add_argument(
        "--from-report",
        metavar="DIR",
        help="rerun the backtest recorded in a report folder (its run.json and config.toml;"
        " the input files must be unchanged) and check that trades.csv comes out the same",
    )

    sw = sub.add_parser(
        "sweep",
        help="backtest a grid of settings (locally or on a Dask cluster), optionally walk-forward",
        description=(
            "One backtest per configuration of the grid, on data loaded once (docs/rules.md,"
            " Sweeps). Writes sweep.csv (each configuration's settings and summary columns)"
            " and sweep.html, and prints the best rows."
        ),
    )
    sw.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="a setting and its values: start:stop:step or a comma list, e.g."
        " strategy.threshold_floor=0.003:0.012:0.001 (repeat for more settings)",
    )
    sw.add_argument(
        "--sample", type=int, help="run this many configurations of the grid, drawn at random"
    )
    sw.add_argument("--seed", type=int, default=0, help="seed of --sample")
    sw.add_argument(
        "--objective",
        choices=("sharpe", "roi", "roi_per_fee", "calmar", "sortino"),
        default="sharpe",
        help="what 'best' means",
    )
    sw.add_argument(
        "--max-dd", type=float, help="only rows with max drawdown at most this (0.05 = 5 %%)"
    )
    sw.add_argument("--top", type=int, default=5, help="best rows to print")
    sw.add_argument(
        "--walk-forward",
        metavar="WINDOWS",
        help="train=90d,test=30d[,step=30d]: pick the best on each training window, run it on"
        " the next test window, report in- and out-of-sample figures",
    )
    sw.add_argument(
        "--scheduler", help="a Dask scheduler, e.g. tcp://HOST:8786 (default: local processes)"
    )
    sw.add_argument("--workers", type=int, help="local worker processes (default: one per CPU)")
    add_run_inputs(sw)
    sw.add_argument("--config", help="TOML configuration file: the base the grid changes")
    sw.add_argument("--out", help="report folder (default: reports/sweep-<run-id>/)")

    cal = sub.add_parser(
        "calibrate",
        help="compare a live or paper run's fills with the backtest's fill model",
        description=(
            "Reads the fills of a run from its state database: observed maker share, slippage"
            " against the decision price and time to fill, beside the backtest model's"
            " assumptions (docs/rules.md, Calibration); prints a config snippet with the"
            " observed values, or writes it to --out."
        ),
    )
    cal.add_argument("--state", required=True, help="the run's state database")
    cal.add_argument("--config", help="TOML configuration file (the model's assumptions)")
    cal.add_argument("--out", help="write the config snippet to this file")

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
    pp.add_argument(
        "--state",
        help="state database (default: state/paper.sqlite; with --live state/paper-live.sqlite)",
    )
    pp.add_argument(
        "--out",
        help="report folder, written at the end of the run or when stopped (Ctrl-C), with the"
        " replay's daily digests and audits (default: reports/<run-id>/)",
    )
    # paper --live (issue 9): the dry run, runner/paper_live.py
    pp.add_argument(
        "--live",
        action="store_true",
        help="dry run: the live agent on Binance's live closes and Gate's public market data,"
        " the account simulated (no keys; docs/rules.md, Dry run); --bars stops after that"
        " many closes",
    )
    pp.add_argument("--signals-file", help="with --live: signals CSV to follow as it grows")
    pp.add_argument(
        "--webhook-port",
        type=webhook_port,
        help="with --live: serve POST /signal on 127.0.0.1:PORT (token:"
        " ADAPTIVE_AGENT_WEBHOOK_TOKEN)",
    )
    pp.add_argument("--gate-url", help="with --live: Gate REST base, e.g. gate-sim's URL")
    pp.add_argument("--binance-url", help="with --live: Binance REST base; the stream is <url>/ws")

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
        type=webhook_port,
        help="serve POST /signal on 127.0.0.1:PORT (token: ADAPTIVE_AGENT_WEBHOOK_TOKEN)",
    )
    lv.add_argument("--bars", type=int, help="stop after this many closes")
    lv.add_argument(
        "--set-dual-mode",
        action="store_true",
        help="switch the futures account to dual position mode if it is not",
    )
    lv.add_argument(
        "--adopt-venue-state",
        action="store_true",
        help="accept positions the state database does not know (after review): without it an"
        " empty or lost state with positions at the venue starts in safe mode",
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

    st = sub.add_parser(
        "status", help="the agent's book, safe mode, last rebalance, open orders, last problems"
    )
    st.add_argument("--state", default="state/live.sqlite", help="state database of the agent")
    st.add_argument("--config", help="TOML configuration file (for the targets)")

    h = sub.add_parser("health", help="exit 0 if the agent processed a bar recently")
    h.add_argument("--state", default="state/live.sqlite", help="state database")
    h.add_argument("--max-age", type=float, default=900.0, help="seconds (default 900)")

    from ..sim.options import add_arguments as add_gate_sim_arguments  # one definition of them

    add_gate_sim_arguments(gs)
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                sp.formatter_class = _DefaultsShown  # --help shows defaults
                _add_global_options(sp, suppress=True)
    return p


def _add_global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """``--log-json`` / ``--log-level``, before or after the subcommand. A subcommand's copy
    has no default of its own (SUPPRESS), so it only overrides what was given before it."""
    parser.add_argument(
        "--log-json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="logs as one JSON object per line",
    )
    parser.add_argument(
        "--log-level",
        default=argparse.SUPPRESS if suppress else None,
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="INFO shows each rebalance, DEBUG per-bar detail (default: INFO; WARNING for a"
        " paper replay, which shows a progress bar and writes every rebalance to its report)",
    )
