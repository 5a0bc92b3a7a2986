"""``adaptive-agent safe-mode | digest | audit | health | gate-sim``: operating the agent."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .exit_codes import EXIT_FAIL, EXIT_OK


def cmd_safe_mode(args: argparse.Namespace) -> int:
    store = _open_state(args.state)
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
    """An existing state database of this program, never a new one: a typo in ``--state``
    must not switch a kill switch nobody reads (fail closed)."""
    from ..state.store import StateError, StateStore

    try:
        return StateStore(path, create=False)
    except StateError as exc:
        raise argparse.ArgumentTypeError(
            f"--state: {exc}; the agent's database is the --state it was started with"
            " (default state/live.sqlite)"
        ) from None


def cmd_digest(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..reports.digest import build_digest, format_digest, write_digest

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


def cmd_audit(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..reports.audit import run_audit

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
    if result.evidence is not None:
        print(result.evidence.summary())
    if result.proposal_path:
        print(f"proposal written: {result.proposal_path}")
    if result.log_error:
        print(f"warning: {result.log_error}", file=sys.stderr)
    if result.log_path:
        print(f"logged to: {result.log_path}")
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    from ..policy.health import check_health

    ok, message = check_health(args.state, args.max_age)
    print(message)
    return EXIT_OK if ok else EXIT_FAIL


def cmd_gate_sim(args: argparse.Namespace) -> int:
    from ..sim import cli as sim_cli

    return sim_cli.main(args)
