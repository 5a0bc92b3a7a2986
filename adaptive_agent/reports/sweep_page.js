// The sweep page (research/sweep_report.py): heatmap, scatter (uPlot) and table.
const D=JSON.parse(document.getElementById('sweep-data').textContent);const col=c=>D.cols.indexOf(c);
const fmt=v=>v===null||v===undefined?'n/a':typeof v!=='number'?String(v):
  Math.abs(v)>=100?v.toLocaleString('en-US',{maximumFractionDigits:2}):
  (Math.abs(v)<5e-7?0:v).toPrecision(4);
function fill(id,opts,sel){const e=document.getElementById(id);
  e.innerHTML=opts.map(o=>'<option'+(o===sel?' selected':'')+'>'+o+'</option>').join('');
  e.onchange=draw;return e;}
const K=D.keys,M=D.metrics;
fill('hy',K,K[1]||K[0]);fill('hx',K,K[0]);fill('hv',M,D.objective);
fill('sx',[...K,...M],K[0]);fill('sy',M,D.objective);
const better=m=>m==='max_dd'||m==='fees_usdt'||m==='rebalances'?-1:1;
function heat(){const ky=hy.value,kx=hx.value,m=hv.value,s=better(m);
  const xs=[...new Set(D.rows.map(r=>r[col(kx)]))].sort((a,b)=>a<b?-1:a>b?1:0);
  const ys=[...new Set(D.rows.map(r=>r[col(ky)]))].sort((a,b)=>a<b?-1:a>b?1:0);
  const cell=new Map();for(const r of D.rows){const v=r[col(m)];if(v===null)continue;
    const k=r[col(kx)]+'|'+r[col(ky)];const o=cell.get(k);if(o===undefined||s*v>s*o)cell.set(k,v);}
  const vs=[...cell.values()],lo=Math.min(...vs),hi=Math.max(...vs);
  const color=v=>v===undefined||hi<=lo?'#eee':'hsl('+Math.round(120*(s>0?(v-lo):(hi-v))/(hi-lo))+',65%,72%)';
  let h='<table><caption>'+m+': rows '+ky+', columns '+kx+' (the best over the other settings)</caption><tr><th></th>'
    +xs.map(x=>'<th>'+fmt(x)+'</th>').join('')+'</tr>';
  for(const y of ys){h+='<tr><th>'+fmt(y)+'</th>'+xs.map(x=>{const v=cell.get(x+'|'+y);
    return '<td style="background:'+color(v)+'">'+fmt(v)+'</td>';}).join('')+'</tr>';}
  document.getElementById('heat').innerHTML=h+'</table>';}
let plot=null;
function scatter(){const x=sx.value,y=sy.value;
  const pts=D.rows.map(r=>[r[col(x)],r[col(y)]]).filter(p=>typeof p[0]==='number'&&typeof p[1]==='number')
    .sort((a,b)=>a[0]-b[0]);
  const data=[pts.map(p=>p[0]),pts.map(p=>p[1])];
  if(plot)plot.destroy();
  plot=new uPlot({width:Math.min(900,innerWidth-60),height:320,mode:1,
    scales:{x:{time:false}},axes:[{label:x,values:(u,v)=>v.map(fmt)},{label:y,size:70,values:(u,v)=>v.map(fmt)}],
    series:[{label:x,value:(u,v)=>fmt(v)},{label:y,stroke:'#1f77b4',width:0,
      points:{show:true,size:7,fill:'#1f77b480'},value:(u,v)=>fmt(v)}]},data,document.getElementById('scatter'));}
function table(){const tr=c=>'<tr>'+c.join('')+'</tr>';
  document.getElementById('rows').innerHTML=tr(D.cols.map(c=>'<th>'+c+'</th>'))
    +D.rows.map(r=>tr(r.map(v=>'<td>'+fmt(v)+'</td>'))).join('');}
function draw(){heat();scatter();}
draw();table();window.sweepPage={D,heat,scatter};
