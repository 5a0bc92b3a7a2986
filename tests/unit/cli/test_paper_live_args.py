"""``paper --live`` options: a combination that does not fit is one line, exit 2, nothing
written."""

from __future__ import annotations

import pytest

from adaptive_agent.cli import main
from tests.support.influxd_fixture import free_port


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--live", "--candles", "x.csv"], "--candles"),
        (["--live", "--signals", "s.csv"], "--signals"),
        (["--live", "--funding", "f.csv"], "--funding"),
        (["--live", "--start", "2022-01-01"], "--start"),
        (["--live", "--speed", "5"], "--speed"),
        (["--live", "--fill-model", "realistic"], "--fill-model"),
        (["--live", "--bars", "0"], "--bars"),
        (["--gate-url", "http://127.0.0.1:9"], "--gate-url"),
        (["--binance-url", "http://127.0.0.1:9"], "--binance-url"),
        (["--signals-file", "s.csv"], "--signals-file"),
        (["--webhook-port", "8088"], "--webhook-port"),
    ],
)
def test_a_combination_that_does_not_fit_is_refused_in_one_line(args, named, tmp_path, capsys):
    state = tmp_path / "paper-live.sqlite"
    assert main(["paper", *args, "--state", str(state)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert not state.exists()


def test_a_feed_that_does_not_answer_is_one_line_and_exit_2(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    state = tmp_path / "paper-live.sqlite"
    rc = main(["paper", "--live", "--gate-url", url, "--binance-url", url, "--state", str(state)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Binance feed" in err[0], err
    assert not state.exists()


def test_help_names_the_dry_run_and_its_state_default(capsys):
    with pytest.raises(SystemExit):
        main(["paper", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--live" in out and "state/paper-live.sqlite" in out and "--gate-url" in out


def test_signals_reach_the_dry_run_as_in_live(tmp_path, monkeypatch):
    """``--signals-file`` and ``--webhook-port`` are handed to the live agent's options."""
    from adaptive_agent.runner import paper_live

    seen = {}

    async def fake_run(cfg, opts, stop=None):
        seen["opts"] = opts
        return 0

    monkeypatch.setattr(paper_live, "run_paper_live", fake_run)
    sig = tmp_path / "s.csv"
    argv = ["paper", "--live", "--signals-file", str(sig), "--webhook-port", "8088"]
    assert main([*argv, "--state", str(tmp_path / "p.sqlite")]) == 0
    assert seen["opts"].signals_file == sig and seen["opts"].webhook_port == 8088


@pytest.mark.parametrize("port", ["0", "99999", "-1", "http"])
def test_a_webhook_port_outside_1_65535_is_refused(port, capsys):
    for command in (["paper", "--live"], ["live"]):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--webhook-port", port])
        assert exc.value.code == 2
        assert "--webhook-port" in capsys.readouterr().err
