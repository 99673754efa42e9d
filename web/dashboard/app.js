// adclick dashboard: sign in with a key (kept in sessionStorage, sent only in
// the Authorization header), list the advertiser's ads, follow one ad's
// minute buckets live (Server-Sent Events read through fetch, since
// EventSource cannot send an Authorization header).
'use strict';

const $ = (id) => document.getElementById(id);
const KEY = 'adclick.key';
let live = null; // AbortController of the open stream
let chart = null; // the uPlot of the open ad

function key() { return sessionStorage.getItem(KEY); }

async function api(path, options = {}) {
  const headers = { Authorization: 'Bearer ' + key(), ...(options.headers || {}) };
  return fetch(path, { ...options, headers, cache: 'no-store' });
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function show(section) {
  for (const id of ['sign-in', 'ads', 'ad']) $(id).hidden = id !== section && !(section === 'ad' && id === 'ads');
  $('sign-out').hidden = section === 'sign-in';
}

async function signIn(k) {
  sessionStorage.setItem(KEY, k);
  const r = await api('/api/v1/me');
  if (r.status !== 200) {
    sessionStorage.removeItem(KEY);
    $('sign-in-error').textContent = r.status === 401 ? 'That key is not known here.' : 'Sign-in failed (' + r.status + ').';
    return;
  }
  const me = await r.json();
  $('who').textContent = me.role === 'admin' ? 'admin' : me.advertiserId;
  $('sign-in-error').textContent = '';
  show('ads');
  await listAds(me);
}

async function listAds(me) {
  const span = Number($('range').value);
  const to = Math.floor(Date.now() / 1000) + 60;
  const body = $('ads-table').tBodies[0];
  body.replaceChildren();
  let rows = [];
  if (me.role === 'admin') {
    const r = await api('/api/v1/ads?limit=1000');
    rows = (await r.json()).ads.map((a) => ({ adId: a.adId, clicks: null }));
  } else {
    const r = await api(`/api/v1/advertisers/${encodeURIComponent(me.advertiserId)}/ads/aggregates?from=${to - span}&to=${to}&limit=1000`);
    rows = (await r.json()).ads;
  }
  for (const a of rows) {
    const tr = document.createElement('tr');
    const link = document.createElement('a');
    link.href = '#ad-' + a.adId;
    link.textContent = 'Ad ' + a.adId;
    link.addEventListener('click', (e) => { e.preventDefault(); openAd(a.adId); });
    cell(tr, '').appendChild(link);
    cell(tr, a.clicks === null ? '' : String(a.clicks), 'num');
    body.appendChild(tr);
  }
}

function drawChart(series) {
  const xs = series.series.map((p) => Date.parse(p.minute) / 1000);
  const ys = series.series.map((p) => p.clicks);
  const states = series.series.map((p) => p.state);
  const marks = [
    [series.finalThrough, [6, 4]],
    [series.reconciledThrough, []],
  ].filter(([t]) => t).map(([t, dash]) => [Date.parse(t) / 1000, dash]);
  const width = Math.max(280, Math.min(900, $('chart').clientWidth || 600));
  if (chart) chart.destroy();
  chart = new uPlot({
    width, height: 260,
    scales: { x: { time: true } },
    axes: [{}, { label: 'clicks' }],
    series: [
      {},
      {
        label: 'clicks', stroke: '#1f5fa8', fill: 'rgba(31,95,168,0.35)',
        paths: uPlot.paths.bars({ size: [0.8, 40] }),
        value: (u, v, si, i) => (v == null ? '-' : `${v} (${states[i]})`),
      },
    ],
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = '#333';
        for (const [t, dash] of marks) {
          const x = u.valToPos(t, 'x', true);
          ctx.setLineDash(dash);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
        }
        ctx.restore();
      }],
    },
  }, [xs, ys], $('chart'));
}

function render(series) {
  drawChart(series);
  $('ad-status').textContent = `${series.total} clicks; final through ${series.finalThrough || '-'}; reconciled through ${series.reconciledThrough || '-'}`;
  const body = $('buckets').tBodies[0];
  body.replaceChildren();
  for (const p of series.series.slice().reverse()) {
    const tr = document.createElement('tr');
    tr.className = p.state;
    cell(tr, p.minute);
    cell(tr, String(p.clicks), 'num');
    cell(tr, p.state);
    body.appendChild(tr);
  }
  const inv = series.invalid;
  $('invalid').textContent = `Not counted: ${inv.duplicate} duplicate, ${inv.bad_signature} bad signature, ${inv.expired} expired, ${inv.late} late (counted after reconciliation).`;
}

async function openAd(id) {
  if (live) live.abort();
  live = new AbortController();
  $('ad-title').textContent = 'Ad ' + id + ', last hour, live';
  show('ad');
  const r = await api(`/api/v1/ads/${id}/live?minutes=60`, { signal: live.signal });
  if (r.status !== 200) {
    $('ad-status').textContent = 'This ad cannot be shown (' + r.status + ').';
    return;
  }
  const reader = r.body.getReader();
  const text = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += text.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (data) render(JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') return;
  }
  setTimeout(() => openAd(id), 2000); // the stream ended: reconnect
}

$('sign-in-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('key').value); });
$('sign-out').addEventListener('click', () => { if (live) live.abort(); sessionStorage.removeItem(KEY); show('sign-in'); });
$('range').addEventListener('change', async () => { const r = await api('/api/v1/me'); if (r.ok) listAds(await r.json()); });
if (key()) signIn(key()); else show('sign-in');
