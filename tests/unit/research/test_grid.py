"""Grid specs and sweep configurations: parsed, validated, in order."""

from __future__ import annotations

import argparse

import pytest

from adaptive_agent.config import AppConfig
from adaptive_agent.research.grid import configure, grid_points, parse_grid


def test_ranges_and_lists():
    key, values = parse_grid("strategy.threshold_floor=0.003:0.012:0.001")
    assert key == "strategy.threshold_floor" and len(values) == 10
    assert values[0] == 0.003 and values[-1] == 0.012 and values[4] == 0.007  # no 0.00700001
    assert parse_grid("strategy.atr_multiplier=0,0.1,0.2") == (
        "strategy.atr_multiplier",
        [0, 0.1, 0.2],
    )
    assert parse_grid("strategy.apply_signal_logic=true,false")[1] == [True, False]
    assert parse_grid("strategy.targets.BTC_SPOT=0.4,0.5")[0] == "strategy.targets.BTC_SPOT"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("strategy.nope=1,2", "strategy.nope is not a setting"),
        ("strategy=1,2", "strategy is not a setting"),
        ("strategy.targets=1", "strategy.targets is not a setting"),
        ("strategy.threshold_floor", "expected KEY=VALUES"),
        ("strategy.threshold_floor=0.1:0.01:0.01", "start <= stop and step > 0"),
        ("strategy.threshold_floor=a:b:c", "start:stop:step numbers"),
        ("strategy.threshold_floor=0:1:0", "step > 0"),
        ("strategy.threshold_floor=1,,2", "an empty value"),
        ("strategy.threshold_floor=0:1:0.000001", "at most"),
    ],
)
def test_bad_specs_name_the_problem(spec, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse_grid(spec)


def test_points_are_the_product_in_order_or_a_seeded_sample():
    grids = [("a.x", [1, 2]), ("b.y", ["p", "q", "r"])]
    pts = grid_points(grids)
    assert pts[:4] == [
        {"a.x": 1, "b.y": "p"},
        {"a.x": 1, "b.y": "q"},
        {"a.x": 1, "b.y": "r"},
        {"a.x": 2, "b.y": "p"},
    ]
    sample = grid_points(grids, sample=3, seed=7)
    assert len(sample) == 3 and sample == grid_points(grids, sample=3, seed=7)
    assert all(p in pts for p in sample)
    with pytest.raises(argparse.ArgumentTypeError, match="twice"):
        grid_points([("a.x", [1]), ("a.x", [2])])


def test_configure_validates_each_point_naming_it():
    base = AppConfig()
    cfg = configure(base, {"strategy.threshold_floor": 0.007, "strategy.targets.BTC_SPOT": 0.4,
                           "strategy.targets.BTC_PERP_SHORT": 0.4})  # fmt: skip
    assert cfg.strategy.threshold_floor == 0.007 and cfg.strategy.targets.BTC_SPOT == 0.4
    assert base.strategy.threshold_floor != 0.007  # the base is unchanged
    with pytest.raises(
        argparse.ArgumentTypeError, match=r"strategy\.leverage=True.*number is expected"
    ):
        configure(base, {"strategy.leverage": True})  # no bool for a number
    with pytest.raises(argparse.ArgumentTypeError, match="threshold_floor"):
        configure(base, {"strategy.threshold_floor": -1.0})
