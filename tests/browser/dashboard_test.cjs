// The dashboard in a real browser (Debian's chromium, headless, driven by
// playwright-core), against the real adclick binary on 127.0.0.1: first over
// plain HTTP, then over HTTPS (a self-signed certificate made with the openssl
// command) with the plain-HTTP redirect listener in front.
//
//   node tests/browser/dashboard_test.cjs <adclick binary> <repo root> <screenshot dir>
//
// Exit 0 when every check holds; otherwise one line per failed check, exit 1.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');

const [adclick, root, shots] = process.argv.slice(2);
const { chromium } = require(path.join(root, 'web/node_modules/playwright-core'));

const ADMIN = 'browser-test-admin-token-0123456789';
const ADV1 = 'browser-test-key-adv-1-xyz';
const ADV2 = 'browser-test-key-adv-2-xyz';
const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
}

// An HTTP or HTTPS request; over HTTPS the server's certificate must be `ca`.
function request(url, { method = 'GET', headers = {}, body, ca } = {}) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, { method, headers, ca }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts adclick on its own data directory under `dir`, with `serverToml`
// added to its [server] table; resolves once it is ready. The process is
// pushed on `servers` so that the caller stops it whatever happens.
async function startAdclick(dir, name, servers, serverToml) {
  const config = path.join(dir, `${name}.toml`);
  fs.writeFileSync(config, `[server]
listen = "127.0.0.1:0"
${serverToml}[storage]
data_dir = "${dir}/${name}-data"
[signing]
current_key = "k1"
keys = { k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }
[ingest]
hot_ads = [1]
[aggregation]
flush_interval = "200ms"
[auth]
admin_token = "${ADMIN}"
advertiser_keys = { "adv-1" = "${ADV1}", "adv-2" = "${ADV2}" }
`);
  const server = spawn(adclick, ['serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(server);
  let out = '';
  server.stdout.on('data', (c) => { out += c; });
  server.stderr.on('data', (c) => { out += c; });
  for (let i = 0; i < 300 && !out.includes('serve: ready'); i++) await sleep(50);
  const port = Number((out.match(/serve: listening on 127\.0\.0\.1:(\d+)/) || [])[1]);
  if (!port || !out.includes('serve: ready')) throw new Error('adclick did not start:\n' + out);
  return { port, config, log: () => out };
}

const sign = (config, ad, base) =>
  execFileSync(adclick, ['sign', '--config', config, '--ad', String(ad), '--base-url', base]).toString().trim();

// An ad's total over the last hour, as the admin sees it.
async function adTotal(base, ad, ca) {
  const now = Math.floor(Date.now() / 1000);
  const r = await request(`${base}/api/v1/ads/${ad}/aggregates?from=${now - 3600}&to=${now + 60}`,
    { headers: { Authorization: 'Bearer ' + ADMIN }, ca });
  return JSON.parse(r.body).total;
}

async function metric(base, outcome, ca) {
  const body = (await request(`${base}/metrics`, { ca })).body;
  return Number((body.match(new RegExp(`adclick_clicks_total\\{outcome="${outcome}"\\} (\\d+)`)) || [])[1]);
}

// The same adclick over HTTPS, with the plain-HTTP listener that only
// redirects. Node's requests verify the server's certificate against the
// self-signed one; Chromium is told to accept it (ignoreHTTPSErrors), and the
// test checks which certificate and protocol it saw.
async function httpsChecks(browser, dir, landingUrl, servers) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=adclick-browser-test',
    '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const ca = fs.readFileSync(cert);
  const { port, config, log } = await startAdclick(dir, 'tls', servers,
    `tls_cert = "${cert}"\ntls_key = "${key}"\nredirect_listen = "127.0.0.1:0"\n`);
  const base = `https://127.0.0.1:${port}`;
  const redirectPort = Number((log().match(/serve: redirecting plain HTTP on 127\.0\.0\.1:(\d+)/) || [])[1]);
  check(redirectPort > 0, `the redirect listener is up (port ${redirectPort})`);
  const r = await request(`${base}/api/v1/ads/1`, {
    method: 'PUT', headers: { Authorization: 'Bearer ' + ADMIN }, ca,
    body: JSON.stringify({ advertiserId: 'adv-1', url: landingUrl }),
  });
  check(r.status === 201, `an ad is registered over HTTPS (${r.status})`);

  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  // A signed https link lands on the advertiser's page, and counts.
  const visitor = await context.newPage();
  await visitor.goto(sign(config, 1, base));
  check(visitor.url() === landingUrl, `an https click lands on the advertiser's page (${visitor.url()})`);
  check(await metric(base, 'counted', ca) === 1, 'the https click is counted');
  for (let i = 0; i < 100 && (await adTotal(base, 1, ca)) < 1; i++) await sleep(50);

  // The dashboard over HTTPS: the certificate Chromium saw, the ad's total,
  // and a live click showing without a reload.
  const page = await context.newPage();
  const res = await page.goto(base + '/dashboard/');
  const sec = res && await res.securityDetails();
  check(sec !== null && sec.subjectName === 'adclick-browser-test', `the dashboard is served with adclick's certificate (${JSON.stringify(sec)})`);
  check(sec !== null && ['TLS 1.3', 'TLS 1.2'].includes(sec.protocol), `over TLS 1.2 or 1.3 (${sec && sec.protocol})`);
  check(await page.evaluate(() => window.isSecureContext), 'the dashboard is a secure context');
  await page.fill('#key', ADV1);
  await page.click('button[type=submit]');
  await page.waitForSelector('#ads-table tbody tr');
  const rows = await page.$$eval('#ads-table tbody tr', (trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, ' ').trim()));
  check(JSON.stringify(rows) === '["Ad 1 1"]', `the ad and its click are listed over HTTPS (${JSON.stringify(rows)})`);
  await page.click('text=Ad 1');
  await page.waitForFunction(() => /\d+ clicks/.test(document.getElementById('ad-status').textContent));
  const t0 = Date.now();
  check((await request(sign(config, 1, base), { ca })).status === 302, 'a live https click answered 302');
  await page.waitForFunction(() => chart.data[1].reduce((s, y) => s + (y || 0), 0) === 2, null, { timeout: 3000 });
  check(Date.now() - t0 < 3000, `the live click appeared in the chart over HTTPS in ${Date.now() - t0} ms`);
  await page.screenshot({ path: path.join(shots, 'dashboard-https.png') });

  // A plain-http link to the redirect listener: 308 to the https click,
  // 302 to the landing page, counted once.
  const plainLink = sign(config, 1, `http://127.0.0.1:${redirectPort}`);
  const landed = await visitor.goto(plainLink);
  check(visitor.url() === landingUrl, `a plain-http link lands on the advertiser's page (${visitor.url()})`);
  const chain = [];
  for (let q = landed && landed.request().redirectedFrom(); q; q = q.redirectedFrom()) chain.unshift(q.url());
  check(chain.length === 2 && chain[0] === plainLink && chain[1] === base + plainLink.slice(plainLink.indexOf('/click')),
    `through the redirect listener, then the https click (${JSON.stringify(chain)})`);
  check(await metric(base, 'counted', ca) === 3, 'the redirected click is counted');
  await context.close();
}

async function main() {
  fs.mkdirSync(shots, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'adclick-browser-'));
  // The advertiser's landing page, on loopback.
  let landings = 0;
  const landing = http.createServer((req, res) => {
    landings += 1;
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>Shop</title><h1>Welcome to the shop</h1>');
  });
  await new Promise((r) => landing.listen(0, '127.0.0.1', r));
  const landingUrl = `http://127.0.0.1:${landing.address().port}/landing`;

  const servers = [];
  let browser;
  try {
    const { port, config } = await startAdclick(dir, 'http', servers, '');
    const base = `http://127.0.0.1:${port}`;
    const admin = { Authorization: 'Bearer ' + ADMIN };
    for (const [id, adv] of [[1, 'adv-1'], [2, 'adv-2'], [3, 'adv-1']]) {
      const r = await request(`${base}/api/v1/ads/${id}`, {
        method: 'PUT', headers: admin, body: JSON.stringify({ advertiserId: adv, url: landingUrl }),
      });
      if (r.status !== 201) throw new Error(`registering ad ${id}: ${r.status} ${r.body}`);
    }
    const click = async (ad) => (await request(sign(config, ad, base))).status;
    for (const [ad, n] of [[1, 5], [3, 2], [2, 4]]) {
      for (let i = 0; i < n; i++) check(await click(ad) === 302, `click on ad ${ad} answered 302`);
    }
    for (let i = 0; i < 100 && (await adTotal(base, 1)) < 5; i++) await sleep(50);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(base + '/');
    check(page.url() === base + '/dashboard/', '/ redirects to /dashboard/');

    // A wrong key gets a clear message.
    await page.fill('#key', 'not-a-key');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => document.getElementById('sign-in-error').textContent.length > 0);
    check((await page.textContent('#sign-in-error')).includes('not known'), 'a wrong key is refused with a message');

    // Advertiser 1 sees its two ads with their totals, not advertiser 2's.
    await page.fill('#key', ADV1);
    await page.click('button[type=submit]');
    await page.waitForSelector('#ads-table tbody tr');
    const rows = await page.$$eval('#ads-table tbody tr', (trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, ' ').trim()));
    check(rows.length === 2, `two ads listed (${JSON.stringify(rows)})`);
    check(rows.includes('Ad 1 5') && rows.includes('Ad 3 2'), 'ads 1 and 3 with 5 and 2 clicks');
    check(!rows.some((r) => r.startsWith('Ad 2')), "advertiser 2's ad is not listed");
    check(await page.evaluate(() => sessionStorage.getItem('adclick.key')) === ADV1, 'the key is in sessionStorage');
    check(!page.url().includes(ADV1), 'the key is not in the URL');
    await page.screenshot({ path: path.join(shots, 'dashboard-ads.png') });

    // The chart of ad 1 (a hot ad: its clicks are spread over several
    // partitions and shards): its minute(s) hold the five clicks.
    await page.click('text=Ad 1');
    await page.waitForFunction(() => /\d+ clicks/.test(document.getElementById('ad-status').textContent));
    const sumTable = () => page.$$eval('#buckets tbody tr', (trs) => trs.reduce((s, tr) => s + Number(tr.children[1].textContent), 0));
    check(await sumTable() === 5, 'the buckets of ad 1 add up to 5 in the table');
    check(await page.$('#chart canvas') !== null, 'the chart is drawn');
    // What the chart plots: x = bucket start (Unix s), y = clicks.
    const plotted = await page.evaluate(() => chart.data[0].map((x, i) => [x, chart.data[1][i]]).filter(([, y]) => y > 0));
    const plottedSum = plotted.reduce((s, [, y]) => s + y, 0);
    check(plottedSum === 5, `the chart plots 5 clicks (${JSON.stringify(plotted)})`);
    const minuteNow = Math.floor(Date.now() / 60000) * 60;
    check(plotted.every(([x]) => x === minuteNow || x === minuteNow - 60), 'the chart plots them at this minute');
    const hot = JSON.parse((await request(`${base}/api/v1/hot-ads`, { headers: admin })).body).hotAds;
    check(hot.some((h) => h.adId === 1), 'ad 1 is hot (salted over several partitions)');
    const nowMinute = new Date(Math.floor(Date.now() / 60000) * 60000).toISOString().replace('.000Z', 'Z');
    const prevMinute = new Date(Math.floor(Date.now() / 60000) * 60000 - 60000).toISOString().replace('.000Z', 'Z');
    const busy = await page.$$eval('#buckets tbody tr', (trs) => trs.filter((tr) => Number(tr.children[1].textContent) > 0)
      .map((tr) => tr.children[0].textContent));
    check(busy.length > 0 && busy.every((m) => m === nowMinute || m === prevMinute), `the clicks are in this minute (${busy})`);

    // Live: a click while the page is open shows within 3 s, no reload.
    const t0 = Date.now();
    check(await click(1) === 302, 'a live click answered 302');
    await page.waitForFunction(() => chart.data[1].reduce((s, y) => s + (y || 0), 0) === 6, null, { timeout: 3000 });
    check(Date.now() - t0 < 3000, `the live click appeared in the chart in ${Date.now() - t0} ms, no reload`);
    await page.screenshot({ path: path.join(shots, 'dashboard-chart.png') });

    // Another advertiser's ad is not reachable with this key, even by hand.
    const status = await page.evaluate(async (key) => (await fetch('/api/v1/ads/2/live', { headers: { Authorization: 'Bearer ' + key } })).status, ADV1);
    check(status === 404, "advertiser 2's ad is a 404 for advertiser 1");

    // Sorting: by ad id, then by clicks again (most first).
    await page.click('#ads-table th button[data-sort="adId"]');
    let order = await page.$$eval('#ads-table tbody tr a', (as) => as.map((a) => a.textContent));
    check(JSON.stringify(order) === '["Ad 1","Ad 3"]', `sorted by ad (${order})`);
    await page.click('#ads-table th button[data-sort="adId"]');
    order = await page.$$eval('#ads-table tbody tr a', (as) => as.map((a) => a.textContent));
    check(JSON.stringify(order) === '["Ad 3","Ad 1"]', `sorted by ad, descending (${order})`);
    check(await page.getAttribute('#ads-table th:first-child', 'aria-sort') === 'descending', 'aria-sort tells the order');

    // A from/to range (UTC) around now gives the same totals.
    const iso = (ms) => new Date(ms).toISOString().slice(0, 16);
    await page.selectOption('#range', 'custom');
    await page.fill('#from', iso(Date.now() - 3600 * 1000));
    await page.fill('#to', iso(Date.now() + 120 * 1000));
    await page.click('#custom button[type=submit]');
    // The table of the previous range stays up until the new answer is drawn:
    // wait (up to 5 s) for the new totals rather than read the old rows.
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#ads-table tbody tr')].map((tr) => tr.innerText.replace(/\s+/g, ' ').trim());
      return rows.includes('Ad 1 6') && rows.includes('Ad 3 2');
    }, null, { timeout: 5000 }).catch(() => {});
    const custom = await page.$$eval('#ads-table tbody tr', (trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, ' ').trim()));
    check(custom.includes('Ad 1 6') && custom.includes('Ad 3 2'), `a from/to range lists the same totals (${custom})`);

    // The admin sees every ad and the state of the system.
    const adminPage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await adminPage.goto(base + '/dashboard/');
    await adminPage.fill('#key', ADMIN);
    await adminPage.click('button[type=submit]');
    await adminPage.waitForFunction(() => document.querySelectorAll('#ads-table tbody tr').length === 3);
    await adminPage.waitForFunction(() => document.querySelectorAll('#shards tbody tr').length > 0);
    check(await adminPage.$$eval('#shards tbody tr', (trs) => trs.length) === 2, 'the admin sees both shards');
    check((await adminPage.textContent('#system-marks')).includes('Final through 20'), 'the admin sees final through');
    await adminPage.screenshot({ path: path.join(shots, 'dashboard-admin.png'), fullPage: true });

    // Keyboard only: tab to the key, Enter; tab to an ad, Enter.
    const kb = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await kb.goto(base + '/dashboard/');
    for (let i = 0; i < 10 && await kb.evaluate(() => document.activeElement.id) !== 'key'; i++) await kb.keyboard.press('Tab');
    check(await kb.evaluate(() => document.activeElement.id) === 'key', 'the key field is reached with Tab');
    await kb.keyboard.type(ADV1);
    await kb.keyboard.press('Enter');
    await kb.waitForSelector('#ads-table tbody tr a');
    for (let i = 0; i < 20 && await kb.evaluate(() => document.activeElement.textContent) !== 'Ad 1'; i++) await kb.keyboard.press('Tab');
    check(await kb.evaluate(() => document.activeElement.textContent) === 'Ad 1', 'an ad is reached with Tab');
    await kb.keyboard.press('Enter');
    await kb.waitForFunction(() => /\d+ clicks/.test(document.getElementById('ad-status').textContent));
    check(true, 'an ad opens with Enter');

    // Phone width: nothing wider than the screen.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.goto(base + '/dashboard/');
    await phone.fill('#key', ADV1);
    await phone.click('button[type=submit]');
    await phone.waitForSelector('#ads-table tbody tr a');
    await phone.click('text=Ad 1');
    await phone.waitForSelector('#chart canvas');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `nothing overflows at phone width (${overflow} px)`);
    await phone.screenshot({ path: path.join(shots, 'dashboard-phone.png') });

    // A real browser follows a signed link to the landing page; following it
    // again reaches adclick again (the 302 is not cached) and is a duplicate.
    const link = sign(config, 1, base);
    const dup0 = await metric(base, 'duplicate');
    const counted0 = await metric(base, 'counted');
    const visitor = await browser.newPage();
    await visitor.goto(link);
    check(visitor.url() === landingUrl, `the browser lands on the advertiser's page (${visitor.url()})`);
    check((await visitor.textContent('h1')) === 'Welcome to the shop', 'the landing page is shown');
    await visitor.goto(link);
    check(visitor.url() === landingUrl, 'the same link lands again');
    check(await metric(base, 'counted') === counted0 + 1, 'the first visit is counted');
    check(await metric(base, 'duplicate') === dup0 + 1, 'the second visit reached adclick and is a duplicate');
    check(landings >= 2, 'the landing page was served twice');

    await httpsChecks(browser, dir, landingUrl, servers);
  } catch (e) {
    failures.push(String(e && e.stack || e));
    console.log('FAIL ' + (e && e.stack || e));
  } finally {
    if (browser) await browser.close();
    for (const server of servers) server.kill('SIGTERM');
    landing.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (failures.length) {
    console.log(`${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log('all browser checks passed');
}

main();
