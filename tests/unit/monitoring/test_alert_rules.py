"""Alert rules and their rate limiter: which texts go out, and when (no network)."""

from __future__ import annotations

import pytest

from adaptive_agent.monitoring.alert_rules import AlertLimiter, AlertRules, minutes_text
from adaptive_agent.records import BarSnapshot
from tests.support.alert_inputs import MIN, Clock, bar


class Collected:
    """The rules with the monitor's defaults, collecting the texts they would send."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rules = AlertRules(
            funding_bps_per_8h=5.0,
            margin_frac=0.70,
            repeat_interval_ms=1800 * 1000,
            event_clear_ms=900 * 1000,
            label="adaptive_agent",
        )
        self.out: list[str] = []

    def on_bar(self, snapshot: BarSnapshot) -> None:
        self.out.extend(text for _, text in self.rules.on_bar(snapshot, self.clock()))

    def on_alert(self, kind: str, text: str, time_ms: int) -> None:
        message = self.rules.on_alert(kind, text, time_ms, self.clock())
        if message is not None:
            self.out.append(message)


def offline(clock: Clock) -> Collected:
    return Collected(clock)


def drain(rules: Collected) -> list[str]:
    out, rules.out = rules.out, []
    return out


def test_limiter_fire_repeat_clear_refire() -> None:
    lim = AlertLimiter(repeat_interval_ms=30 * MIN, event_clear_ms=15 * MIN)
    assert lim.condition("k", True, 0).action == "start"
    assert lim.condition("k", True, 5 * MIN) is None
    assert lim.condition("k", True, 29 * MIN) is None
    d = lim.condition("k", True, 30 * MIN)
    assert (d.action, d.suppressed) == ("repeat", 2)
    assert lim.condition("k", False, 31 * MIN).action == "clear"
    assert lim.condition("k", False, 32 * MIN) is None
    assert lim.condition("k", True, 33 * MIN).action == "start"  # back: fires at once
    # event-style: quiet longer than event_clear_ms means the next one is a new onset
    assert lim.event("e", 0).action == "start"
    assert lim.event("e", 10 * MIN) is None
    # the gap is measured from the last call: 10 -> 26 min is 16 min of quiet, a new onset
    assert lim.event("e", 26 * MIN).action == "start"


@pytest.mark.parametrize("kind", ["funding", "margin", "safe_mode", "circuit_breaker", "watchdog"])
def test_alert_fires_once_is_rate_limited_and_fires_again(kind: str) -> None:
    clock = Clock()
    rules = offline(clock)
    on = {
        "funding": {"funding_rate": 0.0008},  # 8 bps > 5
        "margin": {"margin_frac": 0.75},
        "safe_mode": {"safe_mode": True, "safe_mode_reasons": ("basis 1.2% > 1%",)},
    }

    def observe(active: bool) -> None:
        if kind in on:
            rules.on_bar(bar(clock.t - 1_750_000_000_000, **(on[kind] if active else {})))
        elif active:
            rules.on_alert(kind, f"{kind} tripped", clock.t)

    observe(False)
    assert drain(rules) == []
    observe(True)
    first = drain(rules)
    assert len(first) == 1
    assert {"funding": "FUNDING", "margin": "USED MARGIN", "safe_mode": "SAFE MODE ENTERED"}.get(
        kind, kind.upper().replace("_", " ")
    ) in first[0]
    for _ in range(5):  # persists for 25 minutes: nothing more
        clock.advance(5)
        observe(True)
    assert drain(rules) == []
    clock.advance(5)  # 30 minutes after the first: one reminder, with the suppressed count
    observe(True)
    reminder = drain(rules)
    assert len(reminder) == 1 and "still" in reminder[0] and "5 repeat(s) suppressed" in reminder[0]
    clock.advance(5)
    observe(True)
    assert drain(rules) == []
    # clears ...
    if kind in on:
        clock.advance(5)
        observe(False)
        cleared = drain(rules)
        assert len(cleared) == 1
        assert ("LEFT" if kind == "safe_mode" else "back") in cleared[0]
    else:
        clock.advance(16)  # event kinds clear after 15 quiet minutes
    # ... and comes back 5 minutes later (well inside the 30-minute interval): fires at once
    clock.advance(5)
    observe(True)
    again = drain(rules)
    assert len(again) == 1 and "still" not in again[0]


def test_negative_funding_and_unknown_funding() -> None:
    clock = Clock()
    rules = offline(clock)
    rules.on_bar(bar(funding_rate=-0.0006))
    [msg] = drain(rules)
    assert "-6.00 bps" in msg and "shorts pay longs" in msg
    clock.advance(5)
    rules.on_bar(bar(funding_rate=None))  # unknown: no change, no "cleared"
    assert drain(rules) == []
    rules.on_bar(bar(funding_rate=0.0004))  # 4 bps: within the limit
    assert "back within" in drain(rules)[0]


def test_safe_mode_left_clears_breaker_and_texts_carry_reasons() -> None:
    clock = Clock()
    rules = offline(clock)
    rules.on_alert("circuit_breaker", "drawdown 21% > 20%", clock.t)
    rules.on_bar(bar(safe_mode=True, safe_mode_reasons=("drawdown", "error streak")))
    msgs = drain(rules)
    assert "CIRCUIT BREAKER: drawdown 21% > 20%" in msgs[0]
    assert "SAFE MODE ENTERED: drawdown, error streak" in msgs[1]
    clock.advance(40)
    rules.on_bar(bar(safe_mode=False))
    assert "SAFE MODE LEFT after 40 min" in drain(rules)[0]
    clock.advance(1)  # the breaker trips again at once: a new alert, not a suppressed repeat
    rules.on_alert("circuit_breaker", "error streak 5", clock.t)
    assert "CIRCUIT BREAKER: error streak 5" in drain(rules)[0]


def test_other_alert_kinds_do_not_disturb_bar_driven_state() -> None:
    clock = Clock()
    rules = offline(clock)
    rules.on_bar(bar(safe_mode=True, safe_mode_reasons=("manual",)))
    rules.on_alert("safe_mode", "entered by the agent", clock.t)  # own key, own limit
    rules.on_alert("reconcile", "2 unknown orders", clock.t)
    rules.on_alert("reconcile", "2 unknown orders", clock.t)
    msgs = drain(rules)
    assert len(msgs) == 3 and "SAFE MODE ENTERED: manual" in msgs[0]
    assert "RECONCILE: 2 unknown orders" in msgs[2]
    clock.advance(5)
    rules.on_bar(bar(safe_mode=True, safe_mode_reasons=("manual",)))
    assert drain(rules) == []  # still the same safe-mode episode


def test_texts_carry_the_label_and_the_record_time() -> None:
    rules = offline(Clock())
    rules.on_bar(bar(margin_frac=0.75))
    assert drain(rules) == [
        "[adaptive_agent] USED MARGIN 75.0% of NAV exceeds 70% (NAV 10,000.00 USDT)"
        " | 2025-06-15 15:06 UTC"
    ]


def test_minutes_text() -> None:
    assert [minutes_text(ms) for ms in (-5, 40 * MIN, 119 * MIN, 150 * MIN)] == [
        "0 min", "40 min", "119 min", "2.5 h",
    ]  # fmt: skip
