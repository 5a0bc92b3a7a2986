// equity.html's script (adaptive_agent/reports/equity_html.py writes the data it reads).
// Decodes the embedded Int32 delta stream, builds min/max level-of-detail copies on demand and
// draws the panels with uPlot. window.equityChart exposes the state and a zoom call for tests.
(function () {
  "use strict";
  const api = (window.equityChart = { ready: false, error: null });
  const IDX = JSON.parse(document.getElementById("index").textContent);
  const BAR_S = 300;
  const LEFT = 78, RIGHT = 78; // axis widths, equal on every panel so the x positions line up

  function bytes(b64) {
    const bin = atob(b64), n = bin.length, out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  // "deflate" is the zlib format (RFC 1950) Python's zlib.compress writes; built into every
  // current browser (MDN, DecompressionStream() constructor: Baseline since May 2023).
  async function inflate(u8) {
    const s = new Blob([u8]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Int32Array(await new Response(s).arrayBuffer());
  }
  function integrate(src, off, n, base, mul, div) {
    const out = new Float64Array(n);
    let q = base;
    for (let i = 0; i < n; i++) { q += src[off + i]; out[i] = (q * mul) / div; }
    return out;
  }

  // Numbers: thousands separators, fixed decimals, never "-0.00".
  const NF = {};
  function fmt(v, d) {
    if (v == null || !isFinite(v)) return "n/a";
    if (Math.abs(v) < 0.5 * Math.pow(10, -d)) v = 0;
    const f = NF[d] || (NF[d] = new Intl.NumberFormat("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
    return f.format(v);
  }
  function decimalsOf(incr) {
    let d = 0;
    while (d < 8 && Math.abs(Math.round(incr * Math.pow(10, d)) - incr * Math.pow(10, d)) > 1e-6) d++;
    return d;
  }
  const pad2 = (v) => String(v).padStart(2, "0");
  function utc(sec) {
    const t = new Date(sec * 1000);
    return t.getUTCFullYear() + "-" + pad2(t.getUTCMonth() + 1) + "-" + pad2(t.getUTCDate()) + " " +
      pad2(t.getUTCHours()) + ":" + pad2(t.getUTCMinutes());
  }
  function lowerBound(a, v) { let lo = 0, hi = a.length; while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] < v) lo = m + 1; else hi = m; } return lo; }
  function upperBound(a, v) { let lo = 0, hi = a.length; while (lo < hi) { const m = (lo + hi) >> 1; if (a[m] <= v) lo = m + 1; else hi = m; } return lo; }

  const SERIES = {
    nav: { label: "NAV", unit: "USDT", color: "#1f77b4", dec: 2 },
    price: { label: "BTC price", unit: "USDT", color: "#9a9a9a", dec: 2 },
    dd: { label: "drawdown", unit: "%", color: "#d62728", dec: 3 },
    ws: { label: "BTC_SPOT", unit: "%", color: "#2ca02c", dec: 2 },
    wl: { label: "BTC_PERP_LONG", unit: "%", color: "#9467bd", dec: 2 },
    wsh: { label: "BTC_PERP_SHORT", unit: "%", color: "#ff7f0e", dec: 2 },
    delta: { label: "net delta", unit: "%", color: "#8c564b", dec: 4 },
    funding: { label: "funding (cumulative)", unit: "USDT", color: "#17becf", dec: 2 },
    fees: { label: "fees paid (cumulative)", unit: "USDT", color: "#e377c2", dec: 2 },
  };
  const PANELS = [
    { title: "NAV (USDT, left) and BTC price (USDT, right)", keys: ["nav", "price"], height: 300, markers: true },
    { title: "Drawdown from peak (%)", keys: ["dd"], height: 150 },
    { title: "Leg weights (% of NAV)", keys: ["ws", "wl", "wsh"], height: 170 },
    { title: "Net delta (% of NAV)", keys: ["delta"], height: 150 },
    { title: "Cumulative funding and fees (USDT)", keys: ["funding", "fees"], height: 170 },
  ];

  let X, COL = {}, REB, BLK, N;
  const levels = [];
  // Level k (k >= 1): buckets of 2**k bars, two points each (the bucket's first and last close)
  // carrying every curve's min and max in the order they occur, so no spike is lost.
  function level(k) {
    if (levels[k]) return levels[k];
    if (k === 0) return (levels[0] = Object.assign({ x: X }, COL));
    const B = 1 << k, nb = Math.ceil(N / B), x = new Float64Array(2 * nb), out = { x };
    for (let b = 0; b < nb; b++) { x[2 * b] = X[b * B]; x[2 * b + 1] = X[Math.min(N, b * B + B) - 1]; }
    for (const key in COL) {
      const a = COL[key], o = new Float64Array(2 * nb);
      for (let b = 0; b < nb; b++) {
        const lo = b * B, hi = Math.min(N, lo + B);
        let imin = lo, imax = lo;
        for (let i = lo + 1; i < hi; i++) { const v = a[i]; if (v < a[imin]) imin = i; if (v > a[imax]) imax = i; }
        o[2 * b] = a[Math.min(imin, imax)]; o[2 * b + 1] = a[Math.max(imin, imax)];
      }
      out[key] = o;
    }
    return (levels[k] = out);
  }
  function pickLevel(min, max, px) {
    const bars = upperBound(X, max) - lowerBound(X, min);
    let k = 0;
    while (bars / (1 << k) > Math.max(1, px)) k++;
    return k;
  }

  const charts = [];
  let current = { k: -1, min: 0, max: 0 }, syncing = false;
  function dataFor(p, k) { const L = level(k); return [L.x].concat(p.keys.map((key) => L[key])); }

  function applyRange(min, max) {
    if (syncing || !charts.length) return;
    syncing = true;
    try {
      const k = pickLevel(min, max, charts[0].u.bbox.width / devicePixelRatio);
      for (const c of charts) {
        if (c.k !== k) { c.u.setData(dataFor(c.p, k), false); c.k = k; }
        c.u.setScale("x", { min, max });
      }
      current = { k, min, max };
    } finally { syncing = false; }
  }

  // An axis as wide as its longest label needs, at least the common width (labels never clip).
  function axisSize(u, values, ai, cycle) {
    const axis = u.axes[ai], min = axis.side === 1 ? RIGHT : LEFT;
    if (cycle > 1) return axis._size;
    let longest = "";
    for (const v of values || []) if (String(v).length > longest.length) longest = String(v);
    u.ctx.font = axis.font[0];
    return Math.max(min, Math.ceil(axis.ticks.size + axis.gap + u.ctx.measureText(longest).width / devicePixelRatio + 8));
  }
  function yAxis(scale, side, dec) {
    return {
      scale, side, size: axisSize, font: "11px system-ui,sans-serif",
      grid: { show: side === 3, stroke: "#eee" }, ticks: { stroke: "#ccc" },
      values: (u, splits, ai, space, incr) => { const d = Math.min(dec, decimalsOf(incr)); return splits.map((v) => fmt(v, d)); },
    };
  }
  // x labels in UTC: dates for day steps and up, else times with the date where it changes.
  function timeLabels(u, splits, ai, space, incr) {
    let day = "";
    return splits.map((v) => {
      const s = utc(v);
      if (incr >= 28 * 86400) return s.slice(0, 7);
      if (incr >= 86400) return s.slice(0, 10);
      const d = s.slice(0, 10), label = s.slice(11) + (d !== day ? "\n" + d : "");
      day = d;
      return label;
    });
  }
  // Markers at their bar's NAV: shapes when few are in view; else one dot per device pixel.
  const DENSE = 600;
  function drawMarkers(u) {
    const nav = COL.nav, ctx = u.ctx, dpr = devicePixelRatio, { left, top, width, height } = u.bbox;
    const min = u.scales.x.min, max = u.scales.x.max;
    ctx.save(); ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
    for (const [list, color, cross] of [[REB, "#2ca02c", false], [BLK, "#d62728", true]]) {
      const i0 = lowerBound(list.x, min), i1 = upperBound(list.x, max), dense = i1 - i0 > DENSE;
      const r = (dense ? 1.5 : 4) * dpr, seen = new Set();
      ctx.fillStyle = ctx.strokeStyle = color; ctx.lineWidth = 1.5 * dpr; ctx.beginPath();
      ctx.globalAlpha = dense ? 0.6 : 1;
      for (let j = i0; j < i1; j++) {
        const i = list.bar[j], x = u.valToPos(X[i], "x", true), y = u.valToPos(nav[i], "y", true);
        if (dense) {
          const key = Math.round(x) * 65536 + Math.round(y);
          if (!seen.has(key)) { seen.add(key); ctx.fillRect(x - r, y - r, 2 * r, 2 * r); }
        } else if (cross) { ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r); ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r); }
        else { ctx.moveTo(x, y - r); ctx.lineTo(x - r, y + r * 0.7); ctx.lineTo(x + r, y + r * 0.7); ctx.closePath(); }
      }
      if (!dense) { if (cross) ctx.stroke(); else ctx.fill(); }
    }
    ctx.restore();
  }

  const tip = document.getElementById("tip");
  function showTip(u) {
    const left = u.cursor.left;
    if (left == null || left < 0) { tip.style.display = "none"; return; }
    const t = u.posToVal(left, "x");
    let i = Math.min(N - 1, lowerBound(X, t));
    if (i > 0 && Math.abs(X[i - 1] - t) <= Math.abs(X[i] - t)) i--;
    const lines = ["close " + utc(X[i]) + " UTC  (bar " + utc(X[i] - BAR_S).slice(11) + "\u2013" + utc(X[i]).slice(11) + ")"];
    for (const key in COL) { const s = SERIES[key]; lines.push(s.label.padEnd(23) + fmt(COL[key][i], s.dec).padStart(14) + " " + s.unit); }
    const at = (list) => { const j = lowerBound(list.bar, i); return j < list.bar.length && list.bar[j] === i; };
    if (at(REB)) lines.push("rebalance decided at this close");
    if (at(BLK)) lines.push("orders blocked at this close");
    tip.textContent = lines.join("\n");
    const r = u.over.getBoundingClientRect(), x = r.left + left, y = r.top + (u.cursor.top || 0);
    tip.style.display = "block";
    tip.style.left = Math.min(x + 16, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = Math.min(y + 16, window.innerHeight - tip.offsetHeight - 8) + "px";
  }

  function build() {
    const host = document.getElementById("charts"), width = Math.max(320, host.clientWidth);
    const k0 = pickLevel(X[0], X[N - 1], width - LEFT - RIGHT);
    for (const p0 of PANELS) {
      const p = Object.assign({}, p0, { keys: p0.keys.filter((k) => k in COL) });
      if (!p.keys.length) continue;
      const div = document.createElement("div"); div.className = "panel";
      const h2 = document.createElement("h2"); h2.textContent = p.title; div.appendChild(h2);
      for (const key of p.keys) {
        const sw = document.createElement("i"); sw.className = "sw"; sw.style.background = SERIES[key].color;
        h2.appendChild(sw); h2.appendChild(document.createTextNode(SERIES[key].label));
      }
      host.appendChild(div);
      const dec = Math.max.apply(null, p.keys.map((key) => SERIES[key].dec));
      const axes = [{ font: "11px system-ui,sans-serif", grid: { stroke: "#eee" }, ticks: { stroke: "#ccc" }, space: 90, values: timeLabels }];
      const series = [{}];
      p.keys.forEach((key, j) => {
        const scale = j === 1 && key === "price" ? "btc" : "y";
        series.push({ label: SERIES[key].label, stroke: SERIES[key].color, width: 1.25, scale, points: { show: false } });
      });
      axes.push(yAxis("y", 3, dec));
      if (p.keys.includes("price")) axes.push(yAxis("btc", 1, SERIES.price.dec));
      else axes.push({ scale: "y", side: 1, size: RIGHT, grid: { show: false }, ticks: { show: false }, values: (u, s) => s.map(() => "") });
      const c = { p, k: k0, u: null };
      c.u = new uPlot({
        width, height: p.height, series, axes, legend: { show: false },
        scales: { x: { time: true } },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        cursor: { sync: { key: "equity" }, drag: { x: true, y: false }, points: { show: false } },
        hooks: {
          draw: p.markers ? [drawMarkers] : [],
          setScale: [(u, key) => { if (key === "x" && !syncing) applyRange(u.scales.x.min, u.scales.x.max); }],
          setCursor: [(u) => { if (u === hovered) showTip(u); }],
        },
      }, dataFor(p, k0), div);
      c.u.over.addEventListener("mouseenter", () => { hovered = c.u; });
      c.u.over.addEventListener("mouseleave", () => { hovered = null; tip.style.display = "none"; });
      charts.push(c);
    }
    current = { k: k0, min: X[0], max: X[N - 1] };
  }
  let hovered = null;

  function fromHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    const t = (s) => { const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s); return isFinite(ms) ? ms / 1000 : NaN; };
    if (h.get("day")) { const d = t(h.get("day").slice(0, 10) + "T00:00Z"); return [d + BAR_S, d + 86400]; }
    if (h.get("from") || h.get("to")) return [h.get("from") ? t(h.get("from")) : X[0], h.get("to") ? t(h.get("to")) : X[N - 1]];
    return null;
  }

  api.zoom = (fromMs, toMs) => applyRange(fromMs / 1000, toMs / 1000);
  api.zoomDay = (iso) => { const d = Date.parse(iso.slice(0, 10) + "T00:00Z") / 1000; applyRange(d + BAR_S, d + 86400); };
  api.reset = () => applyRange(X[0], X[N - 1]);
  // The NAV points drawn in the visible range at the level in use: what a test checks.
  api.state = () => {
    const L = level(current.k), i0 = lowerBound(L.x, current.min), i1 = upperBound(L.x, current.max);
    const xs = Array.from(L.x.subarray(i0, i1)), nav = Array.from(L.nav.subarray(i0, i1));
    return { level: current.k, from: current.min * 1000, to: current.max * 1000, bars: N,
      points: xs.length, distinct: new Set(xs).size, x: xs.map((v) => v * 1000), nav,
      markers: REB.bar.length + BLK.bar.length, panels: charts.length };
  };

  // Where the NAV curve is drawn at the bar closing at ``ms`` (page coordinates), for tests.
  api.pointOf = (ms) => {
    const u = charts[0].u, r = u.over.getBoundingClientRect();
    const i = lowerBound(X, ms / 1000);
    return { x: r.left + u.valToPos(X[i], "x"), y: r.top + u.valToPos(COL.nav[i], "y") };
  };
  api.tip = () => (tip.style.display === "none" ? "" : tip.textContent);

  async function main() {
    performance.mark("equity-start");
    const blob = document.getElementById("blob");
    const raw = bytes(blob.textContent.trim());
    blob.remove(); // 6 MB of text the page no longer needs
    performance.mark("equity-base64");
    const ints = await inflate(raw);
    performance.mark("equity-inflated");
    N = IDX.n;
    X = integrate(ints, 0, N, IDX.t0, 60, 1);
    IDX.cols.forEach((c, j) => { COL[c.key] = integrate(ints, N * (j + 1), N, c.base, 1, Math.pow(10, c.digits)); });
    let off = N * (IDX.cols.length + 1);
    const marks = (m) => { const bar = integrate(ints, off, m[0], m[1], 1, 1); off += m[0]; return { bar, x: bar.map((i) => X[i]) }; };
    REB = marks(IDX.reb); BLK = marks(IDX.blk);
    performance.mark("equity-decoded");
    syncing = true; // each chart's first setScale: all start on the whole run already
    try { build(); } finally { syncing = false; }
    performance.mark("equity-built");
    const zoomTo = (r) => {
      if (!r) return;
      if (!(isFinite(r[0]) && isFinite(r[1]) && r[0] < r[1])) {
        document.getElementById("status").textContent = "ignored the zoom in the link: " + location.hash;
        return;
      }
      applyRange(r[0], r[1]);
    };
    zoomTo(fromHash());
    window.addEventListener("resize", () => {
      const w = Math.max(320, document.getElementById("charts").clientWidth);
      for (const c of charts) c.u.setSize({ width: w, height: c.p.height });
      const cur = current; current.k = -1; for (const c of charts) c.k = -1; applyRange(cur.min, cur.max);
    });
    window.addEventListener("hashchange", () => zoomTo(fromHash()));
    requestAnimationFrame(() => { requestAnimationFrame(() => {
      performance.mark("equity-rendered");
      api.renderedMs = performance.now();
      api.ready = true;
    }); });
  }
  main().catch((e) => {
    api.error = String(e && e.stack || e);
    document.getElementById("status").textContent = "equity.html could not draw: " + e;
    console.error(e);
  });
})();
