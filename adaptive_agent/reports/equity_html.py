"""``equity.html``: one self-contained page (no network) with NAV, drawdown, weights and delta.

A general plotting bundle weighs ~5 MB on its own, so the page carries its own ~6 KB canvas
plotter instead: hover read-out, drag to zoom, double-click to reset. Curves are downsampled
(min/max per pixel bucket, so spikes survive) while every rebalance and blocked marker is kept.
"""
# ruff: noqa: E501 - the embedded HTML/JS template keeps its own line lengths

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import numpy as np

from .. import metrics
from ..backtest.rebalance_backtester import BacktestResult
from ..core.time_rules import BAR_MS, MINUTE_MS

MAX_POINTS = 3000  # per curve, after min/max bucketing


def _bucket_minmax(x: np.ndarray, ys: list[np.ndarray], max_points: int) -> np.ndarray:
    """Indices that keep each bucket's extremes of every curve, in time order."""
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    buckets = max_points // (2 * len(ys)) or 1
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = [np.array([0, n - 1])]
    for y in ys:
        for lo, hi in pairwise(edges):
            if hi > lo:
                seg = y[lo:hi]
                keep.append(np.array([lo + int(np.argmin(seg)), lo + int(np.argmax(seg))]))
    return np.unique(np.concatenate(keep))


def _json_num(v: object) -> object:
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _round(a: np.ndarray, digits: int) -> list[float]:
    return [float(v) for v in np.round(a.astype(np.float64), digits)]


def build_payload(result: BacktestResult, title: str) -> dict:
    # minutes since start, at bar close
    t_min = (result.ts_ms - result.ts_ms[0]) // MINUTE_MS + BAR_MS // MINUTE_MS
    dd = -metrics.drawdowns(result.nav, result.summary["nav_start"]) * 100.0
    curves = {
        "nav": result.nav,
        "dd": dd,
        "ws": result.w_spot * 100,
        "wl": result.w_long * 100,
        "wsh": result.w_short * 100,
        "delta": result.delta_frac * 100,
    }
    idx = _bucket_minmax(t_min, list(curves.values()), MAX_POINTS)
    bar_of = np.searchsorted(result.ts_ms + BAR_MS, [r.plan.time_ms for r in result.rebalances])
    reb, blk = [], []
    for r, i in zip(result.rebalances, bar_of, strict=True):
        point = [int(t_min[i]), round(float(result.nav[i]), 2)]
        (blk if r.plan.blocked and not r.plan.orders else reb).append(point)
        if r.plan.blocked and r.plan.orders:
            blk.append(point)
    return {
        "title": title,
        "t0": int(result.ts_ms[0]),
        "x": [int(v) for v in t_min[idx]],
        "nav": _round(curves["nav"][idx], 2),
        "dd": _round(curves["dd"][idx], 4),
        "ws": _round(curves["ws"][idx], 4),
        "wl": _round(curves["wl"][idx], 4),
        "wsh": _round(curves["wsh"][idx], 4),
        "delta": _round(curves["delta"][idx], 5),
        "reb": reb,
        "blk": blk,
        "summary": {k: _json_num(v) for k, v in result.summary.items()},
    }


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}#meta{color:#555;margin-bottom:8px}
.panel{margin:6px 0}.panel h2{font-size:13px;margin:2px 0;font-weight:600}
canvas{display:block;width:100%;height:200px;cursor:crosshair}
#tip{position:fixed;pointer-events:none;background:#fffffff0;border:1px solid #888;padding:4px 8px;
font:12px ui-monospace,monospace;display:none;white-space:pre;z-index:9}
.key span{display:inline-block;margin-right:12px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}
</style></head><body>
<h1>__TITLE__</h1><div id="meta"></div>
<div class="key" id="key"></div>
<div id="charts"></div><div id="tip"></div>
<p style="color:#777">Drag across a chart to zoom, double-click to reset. Ticks under the NAV curve mark
every rebalance (green) and every rebalance with orders blocked by the signal or safe mode (red);
zoom in to see them on the curve as &#9650; and <span style="color:#d62728">&#10006;</span>.</p>
<script id="payload" type="application/json">__DATA__</script>
<script>
(function(){
"use strict";
const D=JSON.parse(document.getElementById("payload").textContent);
const X=D.x, t0=D.t0;
const panels=[
 {name:"NAV (USDT)",s:[["NAV",D.nav,"#1f77b4"]],mk:true,f:v=>v.toFixed(2)},
 {name:"Drawdown (%)",s:[["drawdown",D.dd,"#d62728"]],f:v=>v.toFixed(3)},
 {name:"Leg weights (% of NAV)",s:[["BTC_SPOT",D.ws,"#2ca02c"],["BTC_PERP_LONG",D.wl,"#9467bd"],["BTC_PERP_SHORT",D.wsh,"#ff7f0e"]],f:v=>v.toFixed(3)},
 {name:"Net delta (% of NAV)",s:[["delta",D.delta,"#8c564b"]],f:v=>v.toFixed(4)}
];
const S=D.summary;
function ds(m){return new Date(t0+m*60000).toISOString().slice(0,16).replace("T"," ");}
document.getElementById("meta").textContent=ds(0)+" \\u2192 "+ds(X[X.length-1])+" UTC | ROI "+(S.roi*100).toFixed(3)+
 "% | Sharpe "+(S.sharpe===null||isNaN(S.sharpe)?"n/a":S.sharpe.toFixed(2))+" | max DD "+(S.max_dd*100).toFixed(3)+"% | rebalances "+S.rebalances+" | blocked orders "+S.blocked_orders;
let view=[X[0],X[X.length-1]];
const host=document.getElementById("charts"), tip=document.getElementById("tip");
const key=document.getElementById("key");
panels.forEach(p=>p.s.forEach(s=>{const e=document.createElement("span");e.innerHTML='<i class="sw" style="background:'+s[2]+'"></i>'+s[0];key.appendChild(e);}));
function lb(a,v){let lo=0,hi=a.length;while(lo<hi){const m=(lo+hi)>>1;if(a[m]<v)lo=m+1;else hi=m;}return lo;}
panels.forEach(p=>{const d=document.createElement("div");d.className="panel";d.innerHTML="<h2>"+p.name+"</h2>";
 const c=document.createElement("canvas");d.appendChild(c);host.appendChild(d);p.c=c;bind(p);});
const L=70,R=12,T=8,B=22;
function ticks(lo,hi,n){const span=hi-lo||1,step0=span/n,mag=Math.pow(10,Math.floor(Math.log10(step0)));
 const step=[1,2,5,10].map(k=>k*mag).find(s=>s>=step0);const out=[];for(let v=Math.ceil(lo/step)*step;v<=hi+1e-12;v+=step)out.push(v);return out;}
const STEPS=[5,15,30,60,180,360,720,1440,2880,10080,20160,43200,129600,262800,525600];
function xticks(lo,hi){const abs0=t0/60000,span=hi-lo,step=STEPS.find(s=>s>=span/7)||525600;
 const out=[];for(let v=Math.ceil((lo+abs0)/step)*step-abs0;v<=hi;v+=step)out.push(v);return out;}
function draw(p,hx){const c=p.c,dpr=window.devicePixelRatio||1,w=c.clientWidth,h=c.clientHeight;
 c.width=w*dpr;c.height=h*dpr;const g=c.getContext("2d");g.setTransform(dpr,0,0,dpr,0,0);g.clearRect(0,0,w,h);
 const i0=Math.max(0,lb(X,view[0])-1),i1=Math.min(X.length,lb(X,view[1])+1);
 let lo=Infinity,hi=-Infinity;p.s.forEach(s=>{for(let i=i0;i<i1;i++){const v=s[1][i];if(v<lo)lo=v;if(v>hi)hi=v;}});
 if(p.mk){[D.reb,D.blk].forEach(m=>m.forEach(q=>{if(q[0]>=view[0]&&q[0]<=view[1]){lo=Math.min(lo,q[1]);hi=Math.max(hi,q[1]);}}));}
 if(!isFinite(lo)){lo=0;hi=1;} if(hi-lo<1e-9){hi+=1e-6+Math.abs(hi)*1e-4;lo-=1e-6+Math.abs(lo)*1e-4;}
 const pad=(hi-lo)*0.05;lo-=pad;hi+=pad;p.lo=lo;p.hi=hi;
 const sx=m=>L+(m-view[0])/(view[1]-view[0])*(w-L-R), sy=v=>T+(hi-v)/(hi-lo)*(h-T-B);p.sx=sx;
 g.strokeStyle="#eee";g.fillStyle="#666";g.font="11px sans-serif";g.lineWidth=1;
 ticks(lo,hi,4).forEach(v=>{const y=sy(v);g.beginPath();g.moveTo(L,y);g.lineTo(w-R,y);g.stroke();g.fillText(p.f(v),2,y+4);});
 xticks(view[0],view[1]).forEach(m=>{const x=sx(m);g.beginPath();g.moveTo(x,T);g.lineTo(x,h-B);g.stroke();g.fillText(ds(m).slice(0,(view[1]-view[0])>4*1440?10:16),x-30,h-6);});
 g.save();g.beginPath();g.rect(L,T,w-L-R,h-T-B);g.clip();
 if(p.mk){const vis=m=>m.filter(q=>q[0]>=view[0]&&q[0]<=view[1]);const rb=vis(D.reb),bk=vis(D.blk);
  // A rug of every marker along the bottom; full markers on the curve once few enough are in view.
  g.lineWidth=1;g.strokeStyle="rgba(44,160,44,0.5)";g.beginPath();rb.forEach(q=>{const x=sx(q[0]);g.moveTo(x,h-B);g.lineTo(x,h-B-6);});g.stroke();
  g.strokeStyle="rgba(214,39,40,0.5)";g.beginPath();bk.forEach(q=>{const x=sx(q[0]);g.moveTo(x,h-B-7);g.lineTo(x,h-B-13);});g.stroke();
  if(rb.length+bk.length<=400){g.fillStyle="#2ca02c";rb.forEach(q=>{const x=sx(q[0]),y=sy(q[1]);g.beginPath();g.moveTo(x,y-5);g.lineTo(x-3.5,y+1);g.lineTo(x+3.5,y+1);g.fill();});
   g.strokeStyle="#d62728";g.lineWidth=1.5;bk.forEach(q=>{const x=sx(q[0]),y=sy(q[1]);g.beginPath();g.moveTo(x-3,y-3);g.lineTo(x+3,y+3);g.moveTo(x+3,y-3);g.lineTo(x-3,y+3);g.stroke();});}}
 p.s.forEach(s=>{g.strokeStyle=s[2];g.lineWidth=1.2;g.beginPath();for(let i=i0;i<i1;i++){const x=sx(X[i]),y=sy(s[1][i]);if(i===i0)g.moveTo(x,y);else g.lineTo(x,y);}g.stroke();});
 if(hx!==undefined){g.strokeStyle="#999";g.beginPath();g.moveTo(hx,T);g.lineTo(hx,h-B);g.stroke();}
 if(p.sel){g.fillStyle="rgba(31,119,180,0.12)";g.fillRect(Math.min(p.sel[0],p.sel[1]),T,Math.abs(p.sel[1]-p.sel[0]),h-T-B);}
 g.restore();g.strokeStyle="#999";g.strokeRect(L,T,w-L-R,h-T-B);}
function redraw(hx){panels.forEach(p=>draw(p,hx));}
function xAt(p,px){const w=p.c.clientWidth;return view[0]+(px-L)/(w-L-R)*(view[1]-view[0]);}
function bind(p){const c=p.c;
 c.addEventListener("mousemove",e=>{const r=c.getBoundingClientRect(),px=e.clientX-r.left;
  if(p.sel){p.sel[1]=px;}redraw(px);
  const m=xAt(p,px);let i=Math.min(X.length-1,lb(X,m));if(i>0&&Math.abs(X[i-1]-m)<Math.abs(X[i]-m))i--;
  let txt=ds(X[i])+" UTC";panels.forEach(q=>q.s.forEach(s=>{txt+="\\n"+s[0].padEnd(15)+q.f(s[1][i]);}));
  tip.textContent=txt;tip.style.display="block";tip.style.left=(e.clientX+14)+"px";tip.style.top=(e.clientY+14)+"px";});
 c.addEventListener("mouseleave",()=>{tip.style.display="none";p.sel=null;redraw();});
 c.addEventListener("mousedown",e=>{const r=c.getBoundingClientRect();p.sel=[e.clientX-r.left,e.clientX-r.left];});
 c.addEventListener("mouseup",()=>{if(p.sel&&Math.abs(p.sel[1]-p.sel[0])>4){const a=xAt(p,Math.min(p.sel[0],p.sel[1])),b=xAt(p,Math.max(p.sel[0],p.sel[1]));if(b-a>=5)view=[a,b];}p.sel=null;redraw();});
 c.addEventListener("dblclick",()=>{view=[X[0],X[X.length-1]];redraw();});}
window.addEventListener("resize",()=>redraw());redraw();
})();
</script></body></html>
"""


def write_equity_html(result: BacktestResult, path: Path, title: str = "") -> None:
    title = title or "adaptive_agent backtest"
    data = json.dumps(build_payload(result, title), separators=(",", ":"), allow_nan=False)
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;")
    page = _PAGE.replace("__TITLE__", safe_title).replace("__DATA__", data.replace("</", "<\\/"))
    path.write_text(page, encoding="utf-8")
