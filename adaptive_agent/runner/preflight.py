"""Pre-flight: what must hold before the first order (docs/rules.md, Pre-flight).

Each check is a coroutine ``check(ctx) -> list of failure lines``; ``PREFLIGHT_CHECKS`` is the
list ``adaptive-agent live`` runs, so adding a check is one line. Every failure is one line
naming what to fix; ``run_live`` prints them and exits 2 before anything is traded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..config import AppConfig
from ..exchange.exchange_gate import ExchangeError, ExchangeGate, Market
from ..state.store import StateStore
from .margin_setup import apply_margin, check_rules
from .retry import retrying

EXIT_PREFLIGHT = 2


@dataclass
class PreflightContext:
    cfg: AppConfig
    gate: ExchangeGate
    store: StateStore
    local_now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    # API key scopes the run needs: spot and futures always; wallet for classic-account
    # transfers (the account-mode code may narrow this for a unified account)
    scopes: tuple[str, ...] = ("spot", "futures", "wallet")
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep  # between retries


Check = Callable[[PreflightContext], Awaitable[list[str]]]


async def check_market_rules(ctx: PreflightContext) -> list[str]:
    return await check_rules(ctx.gate, ctx.cfg)


async def check_dual_mode(ctx: PreflightContext) -> list[str]:
    if await ctx.gate.in_dual_mode():
        return []
    return [
        "dual (hedge) position mode is off on the USDT futures account:"
        " enable it on Gate or start with --set-dual-mode"
    ]


async def check_margin(ctx: PreflightContext) -> list[str]:
    return await apply_margin(ctx.gate, ctx.cfg)


async def check_foreign_orders(ctx: PreflightContext) -> list[str]:
    """Open orders the state store does not know (placed by hand, or by another program)."""
    out = []
    for market in (Market.SPOT, Market.FUTURES):
        for o in await ctx.gate.fetch_open_orders(market):
            if not o.client_id or ctx.store.order(o.client_id) is None:
                what = o.client_id or "no client id"
                out.append(
                    f"foreign open {market} order {o.exchange_id} ({what}):"
                    " cancel it on Gate before starting"
                )
    return out


async def check_clock(ctx: PreflightContext) -> list[str]:
    venue = await ctx.gate.server_time_ms()
    if venue is None:
        return []
    offset = ctx.local_now_ms() - venue
    limit = ctx.cfg.exchange.max_clock_offset_ms
    if abs(offset) <= limit:
        return []
    return [
        f"the local clock is {offset / 1000:+.1f} s off Gate's (limit"
        f" exchange.max_clock_offset_ms = {limit:g}): synchronise it (NTP)"
    ]


async def check_permissions(ctx: PreflightContext) -> list[str]:
    probes = await ctx.gate.probe_scopes()
    return [
        f"the API key cannot use {scope} ({probes[scope]}): give it the {scope} permission"
        for scope in ctx.scopes
        if probes.get(scope)
    ]


PREFLIGHT_CHECKS: list[Check] = [
    check_market_rules,
    check_dual_mode,
    check_margin,
    check_foreign_orders,
    check_clock,
    check_permissions,
]


async def run_preflight(ctx: PreflightContext, checks: list[Check] | None = None) -> list[str]:
    """Run every check; the failure lines, each prefixed ``pre-flight:`` (empty: go)."""
    failures: list[str] = []
    for check in PREFLIGHT_CHECKS if checks is None else checks:
        name = check.__name__.removeprefix("check_")
        try:  # a transient venue failure is asked again (runner/retry.py), a lasting one fails
            lines = await retrying(lambda c=check: c(ctx), f"pre-flight {name}", sleep=ctx.sleep)
        except ExchangeError as exc:
            lines = [f"{name}: the venue failed: {exc}"]
        failures.extend(f"pre-flight: {line}" for line in lines)
    return failures
