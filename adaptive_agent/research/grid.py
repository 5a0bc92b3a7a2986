"""``--grid KEY=SPEC`` parsing and the configurations of a sweep (docs/rules.md, Sweeps).

``SPEC`` is ``start:stop:step`` (inclusive of ``stop``, for numbers) or a comma list
(``0,0.1,0.2``, ``true,false``, words). ``KEY`` is a dotted configuration path such as
``strategy.threshold_floor`` or ``strategy.targets.BTC_SPOT``. Every configuration of the grid
is validated (the typed configuration's bounds) before anything runs: a bad key or value is
one error line naming it.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
from typing import Any

from pydantic import BaseModel, ValidationError

from ..config import AppConfig

MAX_CONFIGS = 100_000


def _leaf(model: type[BaseModel], path: list[str]) -> bool:
    """Whether ``path`` names a setting (not a section) of ``model``."""
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    ann = field.annotation
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return len(path) > 1 and _leaf(ann, path[1:])
    return len(path) == 1


def _value(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            v = kind(t)
        except ValueError:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            break
        return v
    return t


def _range(spec: str, key: str) -> list[float]:
    try:
        a, b, step = (float(x) for x in spec.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--grid {key}: expected start:stop:step numbers, got {spec!r}"
        ) from None
    if not all(math.isfinite(x) for x in (a, b, step)) or step <= 0 or b < a:
        raise argparse.ArgumentTypeError(
            f"--grid {key}: expected start <= stop and step > 0, got {spec!r}"
        )
    n = math.floor((b - a) / step + 1e-9) + 1
    if n > MAX_CONFIGS:
        raise argparse.ArgumentTypeError(f"--grid {key}: {n:,} values, at most {MAX_CONFIGS:,}")
    return [float(f"{a + i * step:.12g}") for i in range(n)]


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``KEY=SPEC`` -> (key, values)."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise argparse.ArgumentTypeError(f"--grid: expected KEY=VALUES, got {text!r}")
    if not _leaf(AppConfig, key.split(".")):
        raise argparse.ArgumentTypeError(f"--grid: {key} is not a setting of the configuration")
    if spec.count(":") == 2 and "," not in spec:
        return key, _range(spec, key)
    values = [_value(v) for v in spec.split(",")]
    if any(v == "" for v in values):
        raise argparse.ArgumentTypeError(f"--grid {key}: an empty value in {spec!r}")
    return key, values


def _set(d: dict, path: list[str], value: Any) -> None:
    for k in path[:-1]:
        d = d.setdefault(k, {})
    d[path[-1]] = value


def grid_points(
    grids: list[tuple[str, list[Any]]], sample: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Every combination (in order), or ``sample`` of them drawn without replacement."""
    keys = [k for k, _ in grids]
    if len(set(keys)) != len(keys):
        raise argparse.ArgumentTypeError("--grid: a key is given twice")
    total = math.prod(len(v) for _, v in grids)
    if sample is None and total > MAX_CONFIGS:
        raise argparse.ArgumentTypeError(
            f"--grid: {total:,} configurations, at most {MAX_CONFIGS:,} (use --sample N)"
        )
    combos = itertools.product(*(v for _, v in grids))
    if sample is not None and sample < total:
        picked = set(random.Random(seed).sample(range(total), sample))
        combos = (c for i, c in enumerate(combos) if i in picked)
    return [dict(zip(keys, c, strict=True)) for c in combos]


def configure(base: AppConfig, point: dict[str, Any]) -> AppConfig:
    """``base`` with the point's settings, validated; ``ArgumentTypeError`` naming the setting."""
    data = base.model_dump()
    for key, value in point.items():
        _set(data, key.split("."), value)
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "configuration"
        shown = ", ".join(f"{k}={v}" for k, v in point.items())
        raise argparse.ArgumentTypeError(
            f"--grid: {shown}: {where}: {err.get('msg', 'invalid')}"
        ) from None
