"""Which alerts the operator gets, and how often: the rules and their rate limiter (pure).

Kinds: ``circuit_breaker`` and ``watchdog`` (from ``on_alert``), ``funding``
(``abs(funding_rate)`` above ``funding_bps_per_8h``), ``margin`` (``margin_frac`` above the
limit) and ``safe_mode`` (transitions of ``BarSnapshot.safe_mode``). Each fires at once when
its condition starts; while it persists, reminders go out at most once per repeat interval per
kind (with the number of suppressed repeats); when it clears a short "cleared" note is sent, and
a condition that comes back fires again at once. ``on_alert`` kinds are events: a kind counts as
cleared after ``event_clear_ms`` without a new call for it, or when safe mode is left.

Nothing here sends or waits: the rules return the texts to send (see docs/rules.md, Alerts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..core.time_rules import MINUTE_MS, utc_text
from ..records import BarSnapshot

CIRCUIT_BREAKER = "circuit_breaker"
WATCHDOG = "watchdog"
FUNDING = "funding"
MARGIN = "margin"
SAFE_MODE = "safe_mode"

_TITLES = {CIRCUIT_BREAKER: "CIRCUIT BREAKER", WATCHDOG: "WATCHDOG"}


@dataclass
class _KindState:
    active: bool = False
    since_ms: int = 0
    last_sent_ms: int = 0
    last_seen_ms: int = 0
    suppressed: int = 0


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """What to do about one observation: ``start``, ``repeat`` or ``clear`` (or nothing)."""

    action: str
    since_ms: int
    suppressed: int = 0


class AlertLimiter:
    """Fire on onset; remind at most once per interval while active; note the clearing."""

    def __init__(self, repeat_interval_ms: int, event_clear_ms: int) -> None:
        self.repeat_interval_ms = repeat_interval_ms
        self.event_clear_ms = event_clear_ms
        self._state: dict[str, _KindState] = {}

    def active(self, kind: str) -> bool:
        st = self._state.get(kind)
        return bool(st and st.active)

    def condition(self, kind: str, active: bool, now_ms: int) -> AlertDecision | None:
        st = self._state.setdefault(kind, _KindState())
        if active:
            st.last_seen_ms = now_ms
            if not st.active:
                st.active, st.since_ms, st.last_sent_ms, st.suppressed = True, now_ms, now_ms, 0
                return AlertDecision("start", now_ms)
            if now_ms - st.last_sent_ms >= self.repeat_interval_ms:
                n, st.suppressed, st.last_sent_ms = st.suppressed, 0, now_ms
                return AlertDecision("repeat", st.since_ms, n)
            st.suppressed += 1
            return None
        if st.active:
            st.active, st.suppressed = False, 0
            return AlertDecision("clear", st.since_ms)
        return None

    def event(self, kind: str, now_ms: int) -> AlertDecision | None:
        """An event-style alert (``on_alert``): active until quiet for ``event_clear_ms``."""
        st = self._state.setdefault(kind, _KindState())
        if st.active and now_ms - st.last_seen_ms > self.event_clear_ms:
            st.active = False
        return self.condition(kind, True, now_ms)

    def reset(self, kind: str) -> None:
        self._state.pop(kind, None)


def minutes_text(ms: int) -> str:
    """A duration as people read it: ``40 min`` up to two hours, then ``2.5 h``."""
    m = max(0, ms) / MINUTE_MS
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


def _suppressed_note(n: int) -> str:
    return f" ({n} repeat(s) suppressed)" if n else ""


class AlertRules:
    """The alert rules over one ``AlertLimiter``; each method returns ``(kind, text)`` pairs.

    ``now_ms`` is the wall clock (rate limiting); texts carry the record's own time. Not
    thread-safe: the caller serialises the calls.
    """

    def __init__(
        self,
        *,
        funding_bps_per_8h: float,
        margin_frac: float,
        repeat_interval_ms: int,
        event_clear_ms: int,
        label: str,
    ) -> None:
        self.funding_bps = float(funding_bps_per_8h)
        self.margin_frac = float(margin_frac)
        self.limiter = AlertLimiter(repeat_interval_ms, event_clear_ms)
        self.label = label

    def text(self, body: str, time_ms: int) -> str:
        return f"[{self.label}] {body} | {utc_text(time_ms)}"

    def on_bar(self, bar: BarSnapshot, now: int) -> Iterator[tuple[str, str]]:
        """Safe mode, then funding, then margin (lazily: a rule that raises stops the rest)."""
        for kind, rule in ((SAFE_MODE, self._safe_mode), (FUNDING, self._funding),
                           (MARGIN, self._margin)):  # fmt: skip
            body = rule(bar, now)
            if body is not None:
                yield kind, self.text(body, bar.time_ms)

    def on_alert(self, kind: str, text: str, time_ms: int, now: int) -> str | None:
        # Bar-driven kinds keep their own state: an on_alert of the same name must not
        # disturb it, so other kinds are rate-limited under a key of their own.
        key = kind if kind in (CIRCUIT_BREAKER, WATCHDOG) else f"alert:{kind}"
        d = self.limiter.event(key, now)
        if d is None:
            return None
        title = _TITLES.get(kind, kind.upper())
        if d.action == "start":
            body = f"{title}: {text}"
        else:
            body = f"{title} still active since {utc_text(d.since_ms)}: {text}"
            body += _suppressed_note(d.suppressed)
        return self.text(body, time_ms)

    def _safe_mode(self, bar: BarSnapshot, now: int) -> str | None:
        reasons = ", ".join(bar.safe_mode_reasons) or "no reason given"
        if bar.safe_mode_codes:
            reasons += f" [{','.join(bar.safe_mode_codes)}]"
        d = self.limiter.condition(SAFE_MODE, bar.safe_mode, now)
        if d is None:
            return None
        if d.action == "start":
            return f"SAFE MODE ENTERED: {reasons} (NAV {bar.nav:,.2f} USDT)"
        if d.action == "repeat":
            body = f"SAFE MODE still on since {utc_text(d.since_ms)}: {reasons}"
            return body + _suppressed_note(d.suppressed)
        # The breaker and the watchdog put the engine in safe mode: leaving it clears them.
        self.limiter.reset(CIRCUIT_BREAKER)
        self.limiter.reset(WATCHDOG)
        return f"SAFE MODE LEFT after {minutes_text(now - d.since_ms)} (NAV {bar.nav:,.2f} USDT)"

    def _funding(self, bar: BarSnapshot, now: int) -> str | None:
        rate = bar.funding_rate
        if rate is None:
            return None  # unknown: keep the previous state
        bps = rate * 1e4
        limit = self.funding_bps
        d = self.limiter.condition(FUNDING, abs(bps) > limit, now)
        if d is None:
            return None
        who = "longs pay shorts" if bps > 0 else "shorts pay longs"
        if d.action == "start":
            return f"FUNDING {bps:+.2f} bps per 8 h exceeds {limit:g} bps ({who})"
        if d.action == "repeat":
            body = f"FUNDING still {bps:+.2f} bps per 8 h since {utc_text(d.since_ms)} ({who})"
            return body + _suppressed_note(d.suppressed)
        return f"funding back within {limit:g} bps per 8 h ({bps:+.2f} bps)"

    def _margin(self, bar: BarSnapshot, now: int) -> str | None:
        m = bar.margin_frac
        d = self.limiter.condition(MARGIN, m > self.margin_frac, now)
        if d is None:
            return None
        if d.action == "start":
            return (
                f"USED MARGIN {m:.1%} of NAV exceeds {self.margin_frac:.0%}"
                f" (NAV {bar.nav:,.2f} USDT)"
            )
        if d.action == "repeat":
            body = f"USED MARGIN still {m:.1%} of NAV since {utc_text(d.since_ms)}"
            return body + _suppressed_note(d.suppressed)
        return f"used margin back below {self.margin_frac:.0%} of NAV ({m:.1%})"
