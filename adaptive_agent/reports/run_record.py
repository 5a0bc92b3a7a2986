"""What a report folder needs to be reproduced (docs/rules.md, Reports): ``run.json`` (the
program and its version, the command line, every option of the run, each input file's path
and SHA-256, the SHA-256 of the ``trades.csv`` written) and ``config.toml`` (the effective
configuration, environment overrides included, secrets left out).

``adaptive-agent backtest --from-report DIR`` reads both, refuses to run if an input file is
missing or no longer the one hashed, reruns with the same options and configuration, and
compares the new ``trades.csv`` with the recorded hash.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import AppConfig, render_config
from ..io.loaders import InputError
from ..policy.redaction import MASK

RUN_FILE, CONFIG_FILE = "run.json", "config.toml"
OPTIONS = ("candles", "signals", "funding", "perp_candles", "start", "end", "nav0", "no_html")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def config_snapshot(cfg: AppConfig) -> str:
    """The effective configuration as TOML that ``load_config`` reads back; a secret (from the
    environment, never from a file) becomes a comment."""
    lines = []
    for line in render_config(cfg).splitlines():
        if MASK in line:
            line = f"# {line.split('=', 1)[0].strip()} = (a secret: from the environment)"
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RunRecord:
    options: dict[str, Any]  # the backtest's options by OPTIONS name
    inputs: dict[str, dict[str, Any]]  # role -> {path, sha256}
    trades_sha256: str
    version: str
    command: str


def write_run_record(
    out: Path,
    cfg: AppConfig,
    argv: list[str],
    options: dict[str, Any],
    inputs: dict[str, str | None],
) -> RunRecord:
    """Write ``config.toml`` and ``run.json`` into the report folder ``out`` (after the report
    files: the trades' hash is of the ``trades.csv`` there)."""
    (out / CONFIG_FILE).write_text(config_snapshot(cfg), encoding="utf-8")
    files = {
        role: {"path": str(Path(p).resolve()), "sha256": sha256_of(Path(p))}
        for role, p in inputs.items()
        if p is not None
    }
    record = RunRecord(
        options={k: options.get(k) for k in OPTIONS},
        inputs=files,
        trades_sha256=sha256_of(out / "trades.csv"),
        version=__version__,
        command=shlex.join(["adaptive-agent", *argv]),
    )
    doc = {
        "program": "adaptive-agent",
        "version": record.version,
        "command": record.command,
        "options": record.options,
        "inputs": record.inputs,
        "config": CONFIG_FILE,
        "trades_sha256": record.trades_sha256,
    }
    (out / RUN_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return record


def read_run_record(folder: Path) -> RunRecord:
    """The record of a report folder, its inputs checked; ``InputError`` naming what is wrong."""
    path = folder / RUN_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        options, inputs = doc["options"], doc["inputs"]
        record = RunRecord(
            {k: options.get(k) for k in OPTIONS},
            {r: {"path": str(v["path"]), "sha256": str(v["sha256"])} for r, v in inputs.items()},
            str(doc["trades_sha256"]),
            str(doc.get("version", "")),
            str(doc.get("command", "")),
        )
    except FileNotFoundError:
        raise InputError(f"{path}: no run record (is {folder} a report folder?)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a run record of adaptive-agent ({exc!r:.80})") from None
    if not (folder / CONFIG_FILE).is_file():
        raise InputError(f"{folder / CONFIG_FILE}: the run's configuration is missing")
    for role, f in record.inputs.items():
        p = Path(f["path"])
        if not p.is_file():
            raise InputError(f"{p}: the run's {role} file is missing")
        if sha256_of(p) != f["sha256"]:
            raise InputError(f"{p}: the run's {role} file has changed since (SHA-256 differs)")
    return record
