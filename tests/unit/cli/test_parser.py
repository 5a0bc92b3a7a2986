"""The argument parser: every subcommand's --help, and the documents it cites."""

from __future__ import annotations

import argparse

import pytest

from adaptive_agent.cli.parser import build_parser

COMMANDS = ("backtest", "signals", "config", "paper", "live", "safe-mode", "gate-sim")
COMMANDS += ("digest", "audit", "health", "status", "sweep", "calibrate")


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_is_there_and_cites_only_shipped_documents():
    subs = subparsers(build_parser())
    assert sorted(subs) == sorted(COMMANDS)
    for name, sub in subs.items():
        text = sub.format_help()
        assert "SPEC" not in text and "road-map" not in text, name
    assert "docs/rules.md" in subs["backtest"].format_help()


def test_paper_defaults():
    args = build_parser().parse_args(["paper"])
    assert args.speed == "max" and args.fill_model == "backtest"
    # the state default depends on --live (cli/commands_trade.py, cli/paper_live_args.py)
    assert args.state is None and args.bars is None and not args.live


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_help_names_the_defaults_and_a_bad_log_level_is_a_usage_error(capsys):
    subs = subparsers(build_parser())
    paper = " ".join(subs["paper"].format_help().split())
    assert "(default: state/paper.sqlite; with --live state/paper-live.sqlite)" in paper
    gs = subs["gate-sim"].format_help()
    assert "(default: 8080)" in gs and "(default: 0.0)" in gs
    assert "(default: None)" not in subs["backtest"].format_help()
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["--log-level", "foo", "config"])
    assert err.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert build_parser().parse_args(["--log-level", "debug", "config"]).log_level == "DEBUG"


@pytest.mark.parametrize(
    ("argv", "level", "json_logs"),
    [
        (["status"], "INFO", False),
        (["--log-level", "debug", "status"], "DEBUG", False),
        (["status", "--log-level", "warning", "--log-json"], "WARNING", True),
        (["--log-level", "error", "--log-json", "status"], "ERROR", True),
        (["--log-level", "error", "status", "--log-level", "debug"], "DEBUG", False),
        (["paper"], "WARNING", False),  # a replay: a progress bar, the rebalances in its report
        (["paper", "--log-level", "info"], "INFO", False),
        (["live"], "INFO", False),
    ],
)
def test_global_options_work_before_and_after_the_subcommand(argv, level, json_logs):
    from adaptive_agent.cli import log_level

    args = build_parser().parse_args(argv)
    assert (log_level(args), args.log_json) == (level, json_logs)
