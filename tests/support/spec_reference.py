"""An independent, deliberately naive implementation of the rules in docs/rules.md, for
cross-checking.

It shares no code with ``adaptive_agent``: plain Python floats, one loop over bars, every rule
written from the rule text. The backtester must agree with it figure by figure.
"""

from __future__ import annotations

import math
from bisect import bisect_right

BAR = 300_000
DAY = 86_400_000
H8 = 8 * 3_600_000


def reference_backtest(
    rows,  # list of (ts_ms, open, high, low, close)
    signals=(),  # list of (ts_ms, "BUY"|"SELL"|"NONE"), sorted
    funding=(),  # list of (ts_ms, rate), sorted
    nav0=100_000.0,
    targets=(0.5, 0.0, 0.5),
    leverage=3.0,
    maker_ratio=0.5,
    slippage=0.0002,
    fee_spot=(0.001, 0.001),
    fee_perp=(0.0002, 0.0005),
    default_rate=0.0001,
    min_interval=3_600_000,
    lot_spot=1e-6,
    lot_perp=1e-4,
    min_spot_notional=3.0,
    max_dd=0.20,
    max_margin=0.70,
    clear_ms=1_800_000,
):
    n = len(rows)
    # Daily candles and TA-Lib ATR(14).
    days = []  # [day_start, high, low, close]
    for ts, _o, h, lo, c in rows:
        d = ts // DAY * DAY
        if days and days[-1][0] == d:
            days[-1][1] = max(days[-1][1], h)
            days[-1][2] = min(days[-1][2], lo)
            days[-1][3] = c
        else:
            days.append([d, h, lo, c])
    atr = [None] * len(days)
    trs = []
    for i in range(1, len(days)):
        h, lo, pc = days[i][1], days[i][2], days[i - 1][3]
        trs.append(max(h - lo, abs(h - pc), abs(lo - pc)))
        if i == 14:
            atr[i] = sum(trs) / 14
        elif i > 14:
            atr[i] = (atr[i - 1] * 13 + trs[-1]) / 14

    def atr_frac(t_dec):
        k = -1
        for i, d in enumerate(days):
            if d[0] + DAY <= t_dec:
                k = i
        if k < 0 or atr[k] is None:
            return 0.0
        return atr[k] / days[k][3]

    sig_ts = [s[0] for s in signals]

    def signal_at(t):
        i = bisect_right(sig_ts, t) - 1
        return "NONE" if i < 0 else signals[i][1].upper()

    f_ts = [f[0] for f in funding]

    def rate_at(t):
        i = bisect_right(f_ts, t) - 1
        return default_rate if i < 0 else funding[i][1]

    cash = nav0
    spot = 0.0
    lng = 0.0
    sht = 0.0
    le = 0.0
    se = 0.0
    fees_total = 0.0
    notional_total = 0.0
    maker_notional = 0.0
    funding_total = 0.0
    rebalances = orders_count = blocked = 0
    pending = []  # orders decided at the previous close: (kind, signed BTC)
    last_reb = None
    peak_safe = nav0
    last_breach = None
    navs = []
    deltas = []
    next_f = (rows[0][0] // H8 + 1) * H8  # first 00/08/16 instant after the first open
    trades = []

    def nav_at(price):
        return cash + spot * price + lng * (price - le) + sht * (se - price)

    def settle(F, price):
        nonlocal cash, funding_total
        r = rate_at(F)
        amount = -r * lng * price + r * sht * price
        cash += amount
        funding_total += amount

    for t in range(n):
        ts, o, h, lo, c = rows[t]
        dec = ts + BAR
        # Funding instants that fell in a gap before this bar opened.
        while next_f <= ts and t > 0:
            settle(next_f, rows[t - 1][4])
            next_f += H8
        # Orders decided at the previous close fill during this bar.
        for kind, qty in pending:
            L = rows[t - 1][4]
            buy = qty > 0
            q = abs(qty)
            T = o * (1 + slippage) if buy else o * (1 - slippage)
            fm, ft = fee_spot if kind == "spot" else fee_perp
            for part, px, fr, liq in (
                (q * maker_ratio, L, fm, "maker"),
                (q * (1 - maker_ratio), T, ft, "taker"),
            ):
                if part <= 0:
                    continue
                fee = part * px * fr
                fees_total += fee
                notional_total += part * px
                if liq == "maker":
                    maker_notional += part * px
                cash -= fee
                trades.append((ts, kind, qty > 0, part, px, liq, fee))
                if kind == "spot":
                    cash += -part * px if buy else part * px
                elif kind == "long" and not buy:
                    cash += part * (px - le)
                elif kind == "short" and buy:
                    cash += part * (se - px)
            if kind == "spot":
                spot += qty
            elif kind == "long":
                if qty > 0:
                    le = (lng * le + q * maker_ratio * L + q * (1 - maker_ratio) * T) / (lng + q)
                lng += qty
                if abs(lng) < 1e-12:
                    lng, le = 0.0, 0.0
            else:
                if qty < 0:  # selling opens short
                    se = (sht * se + q * maker_ratio * L + q * (1 - maker_ratio) * T) / (sht + q)
                sht -= qty
                if abs(sht) < 1e-12:
                    sht, se = 0.0, 0.0
        pending = []
        # Funding instants inside this bar (normally at its close).
        while next_f <= dec:
            if next_f > rows[0][0]:
                settle(next_f, c)
            next_f += H8
        nav = nav_at(c)
        navs.append(nav)
        deltas.append((spot + lng - sht) * c / nav)
        # Safe-mode conditions at this close.
        peak_safe = max(peak_safe, nav)
        margin = (lng + sht) * c / leverage / nav
        if 1 - nav / peak_safe > max_dd or margin > max_margin:
            last_breach = dec
        safe = last_breach is not None and dec - last_breach < clear_ms
        if t == n - 1:
            break
        w = (abs(spot) * c / nav, abs(lng) * c / nav, abs(sht) * c / nav)
        drift = max(abs(w[i] - targets[i]) for i in range(3))
        thr = max(0.005, 0.2 * atr_frac(dec))
        if drift > thr and (last_reb is None or dec - last_reb >= min_interval):
            rebalances += 1
            last_reb = dec
            sig = signal_at(dec)
            cur = (spot, lng, sht)
            for leg in range(3):
                lot = lot_spot if leg == 0 else lot_perp
                tgt_lots = (
                    math.floor(targets[leg] * nav / c / lot + 1e-9) if targets[leg] > 0 else 0
                )
                cur_lots = round(cur[leg] / lot)
                d_lots = tgt_lots - cur_lots
                if d_lots == 0:
                    continue
                size = abs(d_lots) * lot
                if leg == 0 and size * c < min_spot_notional:
                    continue
                if leg == 0:
                    otype = "BUY" if d_lots > 0 else "SELL"
                elif leg == 1:
                    otype = "OPEN_LONG" if d_lots > 0 else "CLOSE_LONG"
                else:
                    otype = "OPEN_SHORT" if d_lots > 0 else "CLOSE_SHORT"
                if sig == "BUY" and otype in ("SELL", "CLOSE_LONG", "OPEN_SHORT"):
                    blocked += 1
                    continue
                if sig == "SELL" and otype == "CLOSE_SHORT":
                    blocked += 1
                    continue
                if safe and otype in ("BUY", "OPEN_LONG", "OPEN_SHORT"):
                    continue
                orders_count += 1
                if leg == 0:
                    pending.append(("spot", d_lots * lot))
                elif leg == 1:
                    pending.append(("long", d_lots * lot))
                else:
                    pending.append(("short", -d_lots * lot))  # signed BTC: buy > 0
    start = rows[0][0]
    end = rows[-1][0] + BAR
    ndays = (end - start) / DAY
    day_end_nav = {}
    for (ts, *_), nv in zip(rows, navs, strict=True):
        day_end_nav[ts // DAY] = nv
    dn = [day_end_nav[k] for k in sorted(day_end_nav)]
    rets = [dn[0] / nav0 - 1] + [dn[i] / dn[i - 1] - 1 for i in range(1, len(dn))]
    sharpe = math.nan
    if len(rets) >= 2:
        m = sum(rets) / len(rets)
        sd = math.sqrt(sum((x - m) ** 2 for x in rets) / (len(rets) - 1))
        if sd > 0:
            sharpe = m / sd * math.sqrt(365)
    peak = nav0
    mdd = 0.0
    for nv in navs:
        peak = max(peak, nv)
        mdd = max(mdd, 1 - nv / peak)
    mean_nav = sum(navs) / len(navs)
    return {
        "start": start,
        "end": end,
        "days": ndays,
        "bars": n,
        "missing_bars": (end - start) // BAR - n,
        "nav_start": nav0,
        "nav_end": navs[-1],
        "roi": navs[-1] / nav0 - 1,
        "sharpe": sharpe,
        "max_dd": mdd,
        "fees_usdt": fees_total,
        "fees_nav_per_day": fees_total / mean_nav / ndays,
        "turnover": notional_total / mean_nav,
        "funding_pnl": funding_total,
        "rebalances": rebalances,
        "orders": orders_count,
        "blocked_orders": blocked,
        "maker_share": maker_notional / notional_total if notional_total else math.nan,
        "delta_frac_mean": sum(abs(x) for x in deltas) / len(deltas),
        "delta_frac_max": max(abs(x) for x in deltas),
        "trades": trades,
    }
