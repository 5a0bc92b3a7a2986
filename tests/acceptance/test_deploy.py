"""Deployment files: the compose file validates, the Dockerfile is pinned, slim, non-root, healthy.

There is no Docker engine here. ``docker-compose config`` (Debian's docker-compose 1.29.2)
validates without one; the Dockerfile is checked by parsing it, and its HEALTHCHECK command is run
for real against a state database.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adaptive_agent.policy.redaction import SECRET_ENV_NAME
from tests.support.market_data import ROOT as REPO_ROOT

ROOT = REPO_ROOT
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
INSTALL_HINT = (
    "docker-compose is not installed: `apt-get install -y --no-install-recommends"
    " docker-compose` (Debian's 1.29.2 validates compose files without a Docker engine)"
)


# --- helpers ----------------------------------------------------------------------------------


def compose_binary() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(INSTALL_HINT)
    return binary


def env_files(tmp_path: Path) -> dict[str, str]:
    """Empty stand-ins for the secrets files that compose requires (they are never committed)."""
    agent, grafana = tmp_path / "agent.env", tmp_path / "grafana.env"
    agent.write_text("")
    grafana.write_text("")
    return {"AGENT_ENV_FILE": str(agent), "GRAFANA_ENV_FILE": str(grafana)}


def run_compose(
    tmp_path: Path, *args: str, compose: Path = COMPOSE, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
    env.update(extra_env if extra_env is not None else env_files(tmp_path))
    return subprocess.run(
        [compose_binary(), "-f", compose.name, *args],
        cwd=compose.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def compose_data() -> dict:
    """docker-compose.yml as data, parsed by the YAML library docker-compose itself runs on."""
    first = Path(compose_binary()).read_bytes()[:200].split(b"\n", 1)[0].decode(errors="replace")
    interpreter = first[2:].strip().split() if first.startswith("#!") else []
    script = "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"
    try:
        out = subprocess.run(
            [*interpreter, "-c", script, str(COMPOSE)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, IndexError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot parse the compose file with docker-compose's python+yaml: {exc}")
    return json.loads(out.stdout)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            word, _, rest = full.partition(" ")
            out.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends with a continuation"
    return out


def instructions(name: str) -> list[str]:
    return [args for word, args in dockerfile_instructions() if word == name]


def healthcheck_command() -> list[str]:
    (spec,) = instructions("HEALTHCHECK")
    _, _, cmd = spec.partition("CMD ")
    assert cmd, f"HEALTHCHECK without CMD: {spec}"
    return json.loads(cmd) if cmd.lstrip().startswith("[") else ["sh", "-c", cmd]


# --- docker-compose ---------------------------------------------------------------------------


def test_compose_file_validates(tmp_path: Path) -> None:
    result = run_compose(tmp_path, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_a_broken_compose_file_fails_validation(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("restart: unless-stopped", "restartt: no", 1))
    result = run_compose(tmp_path, "config", "-q", compose=broken)
    assert result.returncode != 0
    assert "restartt" in result.stderr


def test_compose_refuses_to_run_without_the_secrets_file(tmp_path: Path) -> None:
    result = run_compose(tmp_path, "config", "-q", extra_env={})
    assert result.returncode != 0 and "env file" in result.stderr


def test_compose_services() -> None:
    data = compose_data()
    services = data["services"]
    assert set(services) == {"agent", "influxdb", "grafana"}

    agent = services["agent"]
    assert agent["build"] == "." and agent["image"].startswith("trading-ai-agent")
    assert agent["env_file"] and agent["restart"] in ("unless-stopped", "always", "on-failure")
    assert any(v.endswith(":/data") for v in agent["volumes"])
    # InfluxDB is switched on (else Grafana stays empty) and a configuration is mounted and used
    env = agent["environment"]
    assert env["ADAPTIVE_AGENT__MONITORING__INFLUX_ENABLED"] == "true"
    assert env["ADAPTIVE_AGENT__MONITORING__INFLUX_URL"] == "http://influxdb:8086"
    assert any(v.endswith(":/config:ro") for v in agent["volumes"])
    cmd = agent["command"]
    assert cmd[cmd.index("--config") + 1] == "/config/${AGENT_CONFIG_FILE:-default.toml}"

    influx = services["influxdb"]
    assert influx["image"] == "influxdb:1.8"
    assert influx["environment"]["INFLUXDB_DB"] == "adaptive_agent"
    assert any(v.endswith(":/var/lib/influxdb") for v in influx["volumes"])
    assert "ports" not in influx  # reachable on the compose network only

    grafana = services["grafana"]
    image, _, tag = grafana["image"].partition(":")
    assert image == "grafana/grafana-oss" and re.fullmatch(r"\d+\.\d+\.\d+", tag), tag
    assert grafana["ports"] and all(str(p).startswith("127.0.0.1:") for p in grafana["ports"])
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./deploy/grafana/dashboards"] == "/var/lib/grafana/dashboards"

    for name, service in services.items():
        assert not (service.get("ports") and name != "grafana"), f"{name} publishes ports"
        environment = service.get("environment") or {}
        secretish = [k for k in environment if SECRET_ENV_NAME.search(k)]
        assert secretish == [], f"{name}: inline secrets {secretish}: use its env_file"


# --- Dockerfile -------------------------------------------------------------------------------


def test_dockerfile_uses_a_slim_python_311_base() -> None:
    """FROM ${BASE} with ARG BASE=python:3.11-slim before it (scripts/build_image.sh passes a
    local base with --build-arg BASE=...), or the slim image itself."""
    everything = dockerfile_instructions()
    (base,) = instructions("FROM")
    if base in ("${BASE}", "$BASE"):
        before = everything[: everything.index(("FROM", base))]
        assert {word for word, _ in before} == {"ARG"}, before
        defaults = dict(arg.partition("=")[::2] for _, arg in before)
        assert list(defaults) == ["BASE"], defaults
        base = defaults["BASE"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:[0-9a-f]{64})?", base), base


def test_the_registry_free_build_passes_its_local_base() -> None:
    script = (ROOT / "scripts" / "build_image.sh").read_text()
    assert re.search(r'--build-arg BASE="\$BASE_IMAGE"', script)
    assert re.search(r"--format docker\b", script), "the OCI format drops the HEALTHCHECK"


def test_dockerfile_installs_exactly_the_pinned_requirements() -> None:
    setup = (ROOT / "scripts" / "setup_env.sh").read_text()
    readme_file = re.search(r"req=\$\{1:-([\w.-]+)\}", setup)
    assert readme_file is not None and readme_file.group(1) == "requirements.txt"
    pins = [
        line.strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+!-]+", p) for p in pins), pins

    installs = []
    for run in instructions("RUN"):
        for command in re.split(r"&&|;", run):
            words = shlex.split(command)
            if "pip" in words and "install" in words:
                installs.append(words[words.index("install") + 1 :])
    assert len(installs) == 2, installs
    requirements, package = installs
    assert "--no-cache-dir" in requirements and "--no-cache-dir" in package
    assert requirements[requirements.index("-r") + 1] == "requirements.txt"
    assert [w for w in requirements if not w.startswith("-")] == ["requirements.txt"]
    assert "--no-deps" in package and [w for w in package if not w.startswith("-")] == ["."]
    copies = " ".join(instructions("COPY"))
    assert "requirements.txt" in copies


def test_dockerfile_runs_as_non_root_with_a_healthcheck_and_the_live_command() -> None:
    users = instructions("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    command = healthcheck_command()
    assert command[:3] == ["python", "-m", "adaptive_agent.policy.health"]
    assert "/data/live.sqlite" in command
    assert "/data" in " ".join(instructions("VOLUME"))
    (cmd,) = instructions("CMD")
    assert json.loads(cmd) == ["adaptive-agent", "live", "--state", "/data/live.sqlite"]


def test_dockerfile_copies_only_existing_needed_paths() -> None:
    sources = []
    for spec in instructions("COPY"):
        words = [w for w in shlex.split(spec) if not w.startswith("--")]
        sources += words[:-1]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), src
        assert src.split("/")[0] not in (".venv", ".git", "reports", "state", "tests", "secrets")


def test_dockerignore_keeps_secrets_state_and_caches_out() -> None:
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "start from 'exclude everything', then list what the image needs"
    included = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = set()
    for spec in instructions("COPY"):
        words = [w for w in shlex.split(spec) if not w.startswith("--")]
        copied |= {w.rstrip("/") for w in words[:-1]}
    assert copied <= included, copied - included
    for never in (".venv", ".git", "reports", "state", "tests", ".coverage", "secrets", ".env"):
        assert never not in included
    for rule in ("**/__pycache__", "**/*.env", "**/.env", "**/secrets", "**/*.sqlite"):
        assert rule in rules


def test_the_healthcheck_command_works(tmp_path: Path) -> None:
    state = tmp_path / "live.sqlite"
    command = [
        sys.executable if w == "python" else str(state) if w == "/data/live.sqlite" else w
        for w in healthcheck_command()
    ]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    missing = run()
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    con = sqlite3.connect(state)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('last_bar_ms', ?)", (str(int(time.time() * 1000)),))
    con.commit()
    con.close()
    fresh = run()
    assert fresh.returncode == 0 and fresh.stdout.startswith("healthy"), fresh.stderr


def test_ci_builds_and_checks_the_image_after_the_tests() -> None:
    run = (ROOT / ".ci" / "run").read_text().splitlines()
    order = [line.strip() for line in run if "scripts/" in line and not line.startswith("#")]
    assert order[0] == "bash scripts/test.sh", order
    build = next(i for i, s in enumerate(order) if s.endswith("scripts/build_image.sh"))
    check = next(i for i, s in enumerate(order) if s.endswith("scripts/check_image.sh"))
    assert 0 < build < check, order
    checks = (ROOT / "scripts" / "check_image.sh").read_text()
    assert "TRADES_SHA256" in checks and not re.search(r"\b[0-9a-f]{64}\b", checks)
    assert "podman healthcheck run" in checks
