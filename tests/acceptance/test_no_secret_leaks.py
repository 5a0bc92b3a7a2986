"""No secret value anywhere: logs, reports, `adaptive-agent config`, failing live starts.

Canary secrets are put in the environment; every output stream and every file the commands
write is then searched for them (and for their base64 / URL-quoted forms).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

from adaptive_agent.sim.runner import running_sim

SECRETS = {
    "GATE_API_KEY": "gk-CANARY-7f3a9c1e5b",
    "GATE_API_SECRET": "gs-CANARY-0d8e2f6a4c9b1e7d",
    "TELEGRAM_BOT_TOKEN": "424242:CANARY-tg-5e1f9a",
    "ADAPTIVE_AGENT_WEBHOOK_TOKEN": "wh-CANARY-a1b2c3d4",
    "ADAPTIVE_AGENT__MONITORING__INFLUX_PASSWORD": "ip-CANARY-9f8e7d6c",
}
FORMS = [
    f
    for v in SECRETS.values()
    for f in (v, base64.b64encode(v.encode()).decode(), urllib.parse.quote(v, safe=""))
]


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections are refused


def _run(args, cwd: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        **SECRETS,
        **(extra_env or {}),
        "ADAPTIVE_AGENT__MONITORING__INFLUX_ENABLED": "true",
        "ADAPTIVE_AGENT__MONITORING__INFLUX_URL": f"http://127.0.0.1:{_dead_port()}",
        "ADAPTIVE_AGENT__TELEGRAM__CHAT_ID": "42",
        "ADAPTIVE_AGENT__TELEGRAM__BASE_URL": f"http://127.0.0.1:{_dead_port()}/bot",
    }
    return subprocess.run(
        [sys.executable, "-m", "adaptive_agent", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_clean(where: str, text: str) -> None:
    for form in FORMS:
        assert form not in text, f"a secret leaked into {where}"


def _assert_tree_clean(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            _assert_clean(str(p), p.read_bytes().decode("utf-8", errors="replace"))


def test_failing_live_start_against_a_dead_venue_leaks_nothing(tmp_path):
    port = _dead_port()
    proc = _run(
        [
            "--log-level",
            "DEBUG",
            "live",
            "--state",
            "state/live.sqlite",
            "--gate-url",
            f"http://127.0.0.1:{port}",
            "--binance-url",
            f"http://127.0.0.1:{port}",
            "--webhook-port",
            "0",
        ],
        tmp_path,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip(), "the failure must be reported"
    _assert_clean("stdout", proc.stdout)
    _assert_clean("stderr", proc.stderr)
    _assert_tree_clean(tmp_path)


def test_live_start_with_a_wrong_secret_leaks_nothing(spot, tmp_path):
    async def scenario():
        async with running_sim(
            spot.slice(0, 50), SECRETS["GATE_API_KEY"], "the-real-secret"
        ) as sim:
            return await asyncio.to_thread(
                _run,
                [
                    "--log-level",
                    "DEBUG",
                    "live",
                    "--state",
                    "state/live.sqlite",
                    "--gate-url",
                    sim.url,
                    "--binance-url",
                    sim.url,
                    "--set-dual-mode",
                ],
                tmp_path,
            )

    proc = asyncio.run(scenario())
    assert proc.returncode != 0
    assert "Authentication" in proc.stderr or "SIGNATURE" in proc.stderr
    _assert_clean("stdout", proc.stdout)
    _assert_clean("stderr", proc.stderr)
    _assert_tree_clean(tmp_path)


def test_config_output_and_backtest_reports_leak_nothing(tmp_path):
    cfg = _run(["config"], tmp_path)
    assert cfg.returncode == 0 and "influx_password" in cfg.stdout
    _assert_clean("config output", cfg.stdout + cfg.stderr)
    bt = _run(
        ["backtest", "--start", "2024-01-01", "--end", "2024-01-08", "--out", "rep"], tmp_path
    )
    assert bt.returncode == 0, bt.stderr
    _assert_clean("backtest output", bt.stdout + bt.stderr)
    _assert_tree_clean(tmp_path)
