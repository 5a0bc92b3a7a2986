"""The argument parser: every subcommand's --help, and the documents it cites."""

from __future__ import annotations

import argparse

import pytest

from adaptive_agent.cli.parser import build_parser

COMMANDS = ("backtest", "signals", "config", "paper", "live", "safe-mode", "gate-sim")
COMMANDS += ("digest", "audit", "health", "status")


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
    assert args.state == "state/paper.sqlite" and args.bars is None


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
