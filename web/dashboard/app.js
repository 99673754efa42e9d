// adclick dashboard: sign in with a key (kept in sessionStorage, sent only in
// the Authorization header), list the ads with their clicks over a range,
// follow one ad's buckets live (Server-Sent Events read through fetch, since
// EventSource cannot send an Authorization header), and for the admin the
// state of the system. Everything comes from the same API as curl's.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY = 'adclick.key';
let me = null;     // {role, advertiserId}
let live = null;   // AbortController of the open ad stream
let chart = null;  // the uPlot of the open ad
let openId = null; // the ad shown
let rows = [];     // the ads listed: {adId, clicks}
let sort = { key: 'clicks', dir: -1 };
let systemTimer = null;

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

function fill(tableId, items, columns) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  for (const item of items) {
    const tr = document.createElement('tr');
    for (const c of columns) cell(tr, String(c(item)));
    body.appendChild(tr);
  }
}

// The chosen range as Unix seconds [from, to), and whether it ends now.
function range() {
  if ($('range').value === 'custom') {
    const from = Date.parse($('from').value + 'Z') / 1000;
    const to = Date.parse($('to').value + 'Z') / 1000;
    if (!(from < to)) return null;
    return { from: Math.floor(from), to: Math.floor(to), now: false };
  }
  const to = Math.floor(Date.now() / 60000) * 60 + 60;
  return { from: to - Number($('range').value), to, now: true };
}

function granularity(span) {
  if (span <= 86400) return 'minute';
  if (span <= 31 * 86400) return 'hour';
  return 'day';
}

function signedOut() {
  if (live) live.abort();
  if (systemTimer) clearInterval(systemTimer);
  me = null;
  for (const id of ['ads', 'ad', 'system']) $(id).hidden = true;
  $('sign-in').hidden = false;
  $('sign-out').hidden = true;
  $('who').textContent = '';
}

async function signIn(k) {
  sessionStorage.setItem(KEY, k);
  const r = await api('/api/v1/me');
  if (r.status !== 200) {
    sessionStorage.removeItem(KEY);
    $('sign-in-error').textContent = r.status === 401 ? 'That key is not known here.' : 'Sign-in failed (' + r.status + ').';
    return;
  }
  me = await r.json();
  $('who').textContent = me.role === 'admin' ? 'admin' : me.advertiserId;
  $('sign-in-error').textContent = '';
  $('sign-in').hidden = true;
  $('sign-out').hidden = false;
  $('ads').hidden = false;
  $('ads-title').textContent = me.role === 'admin' ? 'All ads' : 'Your ads';
  await listAds();
  if (me.role === 'admin') {
    $('system').hidden = false;
    await showSystem();
    systemTimer = setInterval(showSystem, 5000);
  }
}

async function listAds() {
  const rg = range();
  if (!rg) return;
  if (me.role === 'admin') {
    const r = await api('/api/v1/ads?limit=1000');
    const ads = (await r.json()).ads;
    rows = await Promise.all(ads.map(async (a) => {
      const s = await api(`/api/v1/ads/${a.adId}/aggregates?from=${rg.from}&to=${rg.to}&granularity=day`);
      return { adId: a.adId, clicks: s.ok ? (await s.json()).total : 0 };
    }));
  } else {
    const r = await api(`/api/v1/advertisers/${encodeURIComponent(me.advertiserId)}/ads/aggregates?from=${rg.from}&to=${rg.to}&limit=1000`);
    rows = (await r.json()).ads;
  }
  renderAds();
  if (openId !== null) openAd(openId);
}

function renderAds() {
  const sorted = rows.slice().sort((a, b) => sort.dir * (a[sort.key] - b[sort.key]) || a.adId - b.adId);
  const body = $('ads-table').tBodies[0];
  body.replaceChildren();
  for (const a of sorted) {
    const tr = document.createElement('tr');
    const link = document.createElement('a');
    link.href = '#ad-' + a.adId;
    link.textContent = 'Ad ' + a.adId;
    link.addEventListener('click', (e) => { e.preventDefault(); openAd(a.adId); });
    cell(tr, '').appendChild(link);
    cell(tr, String(a.clicks), 'num');
    body.appendChild(tr);
  }
  for (const th of $('ads-table').tHead.rows[0].cells) {
    const k = th.querySelector('button').dataset.sort;
    th.setAttribute('aria-sort', k === sort.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
}

function drawChart(series) {
  const key = series.granularity;
  const xs = series.series.map((p) => Date.parse(p[key]) / 1000);
  const ys = series.series.map((p) => p.clicks);
  const states = series.series.map((p) => p.state);
  const marks = [[series.finalThrough, [6, 4]], [series.reconciledThrough, []]]
    .filter(([t]) => t).map(([t, dash]) => [Date.parse(t) / 1000, dash]);
  const width = Math.max(260, Math.min(900, $('ad').clientWidth - 8));
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
          if (t < u.scales.x.min || t > u.scales.x.max) continue;
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
  const key = series.granularity;
  $('bucket-col').textContent = key[0].toUpperCase() + key.slice(1) + ' (UTC)';
  const body = $('buckets').tBodies[0];
  body.replaceChildren();
  for (const p of series.series.slice().reverse()) {
    const tr = document.createElement('tr');
    tr.className = p.state;
    cell(tr, p[key]);
    cell(tr, String(p.clicks), 'num');
    cell(tr, p.state);
    body.appendChild(tr);
  }
  const inv = series.invalid;
  $('invalid').textContent = `Not counted: ${inv.duplicate} duplicate, ${inv.bad_signature} bad signature, ${inv.expired} expired, ${inv.late} late (counted after reconciliation).`;
}

// Reads a Server-Sent Events response, calling onEvent with each data.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const text = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += text.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      if (data) onEvent(data);
    }
  }
}

async function openAd(id) {
  if (live) live.abort();
  live = new AbortController();
  const signal = live.signal;
  openId = id;
  const rg = range();
  if (!rg) return;
  const span = rg.to - rg.from;
  const g = granularity(span);
  $('ad').hidden = false;
  $('ad-title').textContent = `Ad ${id}, ${$('range').selectedOptions[0].textContent}${rg.now ? ', live' : ''}`;
  const fetchSeries = async () => {
    const r = await api(`/api/v1/ads/${id}/aggregates?from=${rg.from}&to=${rg.to}&granularity=${g}`, { signal });
    if (r.ok) render(await r.json());
    else $('ad-status').textContent = 'This ad cannot be shown (' + r.status + ').';
  };
  try {
    if (!rg.now) return await fetchSeries();
    // Minute buckets come whole in the stream; coarser ones are fetched again
    // whenever the stream says the last minute changed.
    const minutes = g === 'minute' ? Math.ceil(span / 60) : 1;
    if (g !== 'minute') await fetchSeries();
    const r = await api(`/api/v1/ads/${id}/live?minutes=${minutes}`, { signal });
    if (r.status !== 200) {
      $('ad-status').textContent = 'This ad cannot be shown (' + r.status + ').';
      return;
    }
    await readEvents(r, (data) => (g === 'minute' ? render(JSON.parse(data)) : fetchSeries()));
  } catch (e) {
    if (e.name === 'AbortError') return;
  }
  if (!signal.aborted) setTimeout(() => { if (!signal.aborted) openAd(id); }, 2000); // reconnect
}

async function showSystem() {
  const [status, hot, recons] = await Promise.all([
    api('/api/v1/status'), api('/api/v1/hot-ads'), api('/api/v1/reconciliations?limit=5')]);
  if (!status.ok) return;
  const st = await status.json();
  $('system-marks').textContent = `Final through ${st.finalThrough || '-'}; reconciled through ${st.reconciledThrough || '-'}.`;
  fill('shards', st.shards, [(s) => s.shard, (s) => s.watermark || '-', (s) => s.lagRecords,
    (s) => s.partitions.map((p) => `p${p.partition}: ${p.durableEnd} / ${p.committed}`).join(', ')]);
  fill('hot', (await hot.json()).hotAds, [(h) => h.adId, (h) => h.clicksPerSecond]);
  fill('recons', (await recons.json()).reconciliations, [(r) => r.id, (r) => r.state,
    (r) => `${r.from || '-'} .. ${r.to || '-'}`, (r) => r.rowsCorrected, (r) => r.driftNet]);
}

$('sign-in-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('key').value); });
$('sign-out').addEventListener('click', () => { sessionStorage.removeItem(KEY); signedOut(); });
$('range').addEventListener('change', () => {
  $('custom').hidden = $('range').value !== 'custom';
  if ($('range').value !== 'custom') listAds();
});
$('range-form').addEventListener('submit', (e) => { e.preventDefault(); listAds(); });
for (const b of document.querySelectorAll('#ads-table th button')) {
  b.addEventListener('click', () => {
    sort = b.dataset.sort === sort.key ? { key: sort.key, dir: -sort.dir } : { key: b.dataset.sort, dir: b.dataset.sort === 'clicks' ? -1 : 1 };
    renderAds();
  });
}
if (key()) signIn(key()); else signedOut();
