// The embedding API in real headless Chromium: a host page on ANOTHER origin (a second loopback
// server, reached as `localhost` while the map is on `127.0.0.1`) frames /embed and talks to it
// with the versioned postMessage protocol of web/static/map.js (README "Embed the map"). The
// host's script, web/tests/host/host.js, is the README's copy-paste snippet plus a log of what
// arrived.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, mapSettled, recordingPage, root, startServer, tempDir } from './helpers.mjs';

const artifacts = path.join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

let server;
let base;
let browser;
let host;
let hostBase;
let las;

before(async () => {
  ({ server, base } = await startServer(['--db', path.join(tempDir('pm-embed-'), 'pm.db')]));
  las = (await (await fetch(`${base}/api/las`)).json()).local_authorities;
  // The host site: its own page and script, nothing from the map's server but the iframe.
  const files = {
    '/': ['text/html; charset=utf-8', readFileSync(path.join(root, 'web/tests/host/index.html'))],
    '/host.js': ['text/javascript; charset=utf-8', readFileSync(path.join(root, 'web/tests/host/host.js'))],
  };
  host = createServer((req, res) => {
    const file = files[new URL(req.url, 'http://host').pathname];
    if (!file) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': file[0], 'Content-Security-Policy': "script-src 'self'" }).end(file[1]);
  });
  await new Promise((resolve) => host.listen(0, '127.0.0.1', resolve));
  hostBase = `http://localhost:${host.address().port}`;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  host?.close();
  server?.kill('SIGTERM');
});

const PLYMOUTH = 'E06000026';
const DEVON = 'E10000008';

/** The host page with the embed in its iframe, once the embed has announced `ready`. */
async function openHost(query = '') {
  const rec = await recordingPage(browser, { width: 1100, height: 800 });
  const { page } = rec;
  rec.emptyTiles = [];
  page.on('response', (r) => { if (r.status() === 204 && r.url().includes('/tiles/')) rec.emptyTiles.push(r.url()); });
  await page.goto(`${hostBase}/?embed=${encodeURIComponent(`${base}/embed${query}`)}`);
  await page.waitForFunction(() => window.received.some((m) => m.type === 'partnership-map:ready'), null, { timeout: 60000 });
  const frame = page.frames().find((f) => f.url().startsWith(`${base}/embed`));
  assert.ok(frame, 'the embed frame');
  return { ...rec, frame };
}

/** Send commands in order, then wait until `count` more messages than before have arrived. */
async function exchange(page, commands, count) {
  const seen = await page.evaluate(() => window.received.length);
  await page.evaluate((cmds) => { for (const c of cmds) window.partnershipMapEmbed.send(c); }, commands);
  await page.waitForFunction((n) => window.received.length >= n, seen + count, { timeout: 30000 });
  // Give any further (unwanted) answer a moment to arrive, then return everything new.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  return page.evaluate((n) => window.received.slice(n), seen);
}

const camera = (frame) => frame.evaluate(() => ({ c: window.map.getCenter().toArray(), z: window.map.getZoom() }));
const featureState = (frame, code) => frame.evaluate((c) => window.map.getFeatureState({ source: 'partnership-map', sourceLayer: 'local_authorities', id: c }), code);

test('a host page on another origin drives the embed and hears what the user picks', async () => {
  const { page, frame, problems, emptyTiles } = await openHost();
  // Really another origin: the host cannot reach into the frame.
  assert.notEqual(new URL(hostBase).origin, new URL(base).origin);
  assert.equal(await page.evaluate(() => { try { return typeof document.getElementById('pm').contentWindow.document; } catch (e) { return e.name; } }), 'SecurityError');
  assert.deepEqual(await page.evaluate(() => window.received), [{ type: 'partnership-map:ready', v: 1 }]);
  await frame.waitForSelector('body[data-ready=true]', { timeout: 60000 });

  // Malformed or unknown commands are ignored; the valid select after them is answered alone.
  const malformed = [
    { type: 'partnership-map:select', v: 2, code: PLYMOUTH },
    { type: 'partnership-map:select', v: '1', code: PLYMOUTH },
    { type: 'partnership-map:select', code: PLYMOUTH },
    { type: 'partnership-map:select', v: 1, code: PLYMOUTH, zoom: true },
    { type: 'partnership-map:select', v: 1, code: 26 },
    { type: 'partnership-map:select', v: 1, code: 'E99999999' },
    { type: 'partnership-map:select', v: 1, code: ['E06000026'] },
    JSON.stringify({ type: 'partnership-map:select', v: 1, code: PLYMOUTH }),
    `partnership-map:select ${PLYMOUTH}`,
    null,
    [PLYMOUTH],
    { type: 'partnership-map:ready', v: 1 },
    { type: 'partnership-map:filtered', v: 1, matching: 3 },
    { type: 'partnership-map:filter', v: 1, params: { role: 'overlord' } },
    { type: 'partnership-map:filter', v: 1, params: { colour: 'red' } },
    { type: 'partnership-map:filter', v: 1, params: { role: ['convener'] } },
    { type: 'partnership-map:filter', v: 1, params: 'role=convener' },
    { type: 'partnership-map:filter', v: 1, params: { measure: 'toString' } },
    { type: 'partnership-map:filter', v: 1, params: { role: 'convener' }, extra: 1 },
    { type: 'partnership-map:filter', v: 1 },
    { type: 'partnership-map:unknown', v: 1 },
  ];
  const answers = await exchange(page, [...malformed, { type: 'partnership-map:select', v: 1, code: PLYMOUTH }], 1);
  assert.deepEqual(answers, [{ type: 'partnership-map:select', v: 1, code: PLYMOUTH, name: 'Plymouth' }]);
  assert.equal((await featureState(frame, PLYMOUTH)).selected, true);
  const state = await frame.evaluate(() => window.partnershipMap.state());
  assert.equal(state.la, PLYMOUTH);
  assert.equal(state.measure, 'count');
  assert.ok(Object.values(state.filters).every((v) => v.length === 0), 'no filter was applied');
  // Selecting fits the map to the LA.
  const plymouth = las.find((la) => la.code === PLYMOUTH);
  assert.ok(await frame.evaluate((l) => window.map.getBounds().contains(l), plymouth.label), 'Plymouth in view');

  // A filter with the page's URL parameters; malformed fitBounds before it leave the camera alone.
  const before = await camera(frame);
  const conveners = las.filter((la) => la.role_convener === true);
  const filtered = await exchange(page, [
    { type: 'partnership-map:fitBounds', v: 1, bbox: [-4.5, 50, -3] },
    { type: 'partnership-map:fitBounds', v: 1, bbox: [-3, 50, -4.5, 51] },
    { type: 'partnership-map:fitBounds', v: 1, bbox: ['-4.5', 50, -3, 51] },
    { type: 'partnership-map:fitBounds', v: 1, bbox: [-4.5, 50, -3, 95] },
    { type: 'partnership-map:fitBounds', v: 1, bbox: [-4.5, 50, -3, Number.NaN] },
    { type: 'partnership-map:fitBounds', v: 1, bbox: { west: -4.5, south: 50, east: -3, north: 51 } },
    { type: 'partnership-map:filter', v: 1, params: { role: 'convener' } },
  ], 1);
  assert.deepEqual(filtered, [{ type: 'partnership-map:filtered', v: 1, matching: conveners.length }]);
  assert.deepEqual(await camera(frame), before, 'malformed fitBounds moved the map');
  assert.equal((await featureState(frame, conveners[0].code)).match, true);
  const other = las.find((la) => la.role_convener !== true);
  assert.equal((await featureState(frame, other.code)).match, false, `${other.name} is not a convener`);
  assert.equal((await frame.evaluate(() => window.partnershipMap.matching())).length, conveners.length);
  assert.match(await frame.getAttribute('#open-full', 'href'), /role=convener/);

  // fitBounds: Devon and Cornwall fill the view (and nothing is announced).
  const bbox = [-5.8, 49.9, -2.8, 51.3];
  const quiet = await page.evaluate(() => window.received.length);
  await page.evaluate((b) => window.partnershipMapEmbed.send({ type: 'partnership-map:fitBounds', v: 1, bbox: b }), bbox);
  await frame.waitForFunction((b) => {
    const [w, s, e, n] = window.map.getBounds().toArray().flat();
    return w <= b[0] && s <= b[1] && e >= b[2] && n >= b[3] && e - w < 2 * (b[2] - b[0]);
  }, bbox, { timeout: 30000 });
  assert.equal(await page.evaluate(() => window.received.length), quiet);
  // The Atlantic around Cornwall is in empty tiles: MapLibre takes their 204 like an empty tile.
  await mapSettled(frame, { timeout: 30000 });
  assert.ok(emptyTiles.length > 0, 'some tiles in view answered 204');

  // The user clicks Devon in the embed: the host hears `select` with its code and name.
  const devon = las.find((la) => la.code === DEVON);
  const point = await frame.evaluate((l) => window.map.project(l), devon.label);
  const box = await page.locator('#pm').boundingBox();
  const seen = await page.evaluate(() => window.received.length);
  await page.mouse.click(box.x + point.x, box.y + point.y);
  await page.waitForFunction((n) => window.received.length > n, seen, { timeout: 30000 });
  assert.deepEqual(await page.evaluate((n) => window.received.slice(n), seen), [{ type: 'partnership-map:select', v: 1, code: DEVON, name: 'Devon' }]);
  assert.equal((await featureState(frame, DEVON)).selected, true);
  assert.equal((await featureState(frame, PLYMOUTH)).selected, false);
  // The host page's own log, as the README's snippet writes it.
  assert.match(await page.textContent('#log'), /select E10000008 Devon/);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'embed-host.png') });
  await page.close();
});

test('a host page switches the embed to another day with `date`, and back', async () => {
  const { page, frame, problems } = await openHost();
  await frame.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  const reorg = await (await fetch(`${base}/api/reorganisations`)).json();
  const vesting = reorg.vesting_dates[0];
  const day = vesting.date;
  const dayLas = (await (await fetch(`${base}/api/las?date=${day}`)).json()).local_authorities;
  const dayBefore = new Date(Date.parse(`${reorg.record_start}T00:00:00Z`) - 86400000).toISOString().slice(0, 10);
  // Malformed days and a day before the records start are ignored; the valid one after them is
  // answered alone, with the day's number of LAs.
  const answers = await exchange(page, [
    { type: 'partnership-map:date', v: 1, date: '2027-02-30' },
    { type: 'partnership-map:date', v: 1, date: 'tomorrow' },
    { type: 'partnership-map:date', v: 1, date: 20270401 },
    { type: 'partnership-map:date', v: 1, date: day, extra: 1 },
    { type: 'partnership-map:date', v: 2, date: day },
    { type: 'partnership-map:date', v: 1, date: dayBefore },
    { type: 'partnership-map:date', v: 1, date: day },
  ], 1);
  assert.deepEqual(answers, [{ type: 'partnership-map:dated', v: 1, date: day, las: dayLas.length }]);
  for (const n of vesting.new) assert.equal(await frame.evaluate((c) => window.partnershipMap.inForce(c), n.code), true, n.name);
  for (const a of vesting.abolished) assert.equal(await frame.evaluate((c) => window.partnershipMap.inForce(c), a.code), false, a.name);
  assert.match(await frame.getAttribute('#open-full', 'href'), new RegExp(`date=${day}`));
  // The day's tiles are drawn: the new council is in the map's own features.
  await frame.waitForFunction((d) => document.body.dataset.shown === d, day, { timeout: 60000 });
  const drawn = await frame.evaluate(() => window.map.querySourceFeatures('partnership-map', { sourceLayer: 'local_authorities' }).map((f) => f.properties.code));
  assert.ok(drawn.includes(vesting.new[0].code), `${vesting.new[0].name} is drawn`);
  assert.ok(!drawn.some((c) => vesting.abolished.some((a) => a.code === c)), 'an abolished council is drawn');
  // A command after it sees that day's councils.
  const picked = await exchange(page, [{ type: 'partnership-map:select', v: 1, code: vesting.new[0].code }], 1);
  assert.deepEqual(picked, [{ type: 'partnership-map:select', v: 1, code: vesting.new[0].code, name: vesting.new[0].name }]);
  // '' is today's map again.
  const back = await exchange(page, [{ type: 'partnership-map:date', v: 1, date: '' }], 1);
  assert.deepEqual(back, [{ type: 'partnership-map:dated', v: 1, date: reorg.today, las: las.length }]);
  assert.doesNotMatch(await frame.getAttribute('#open-full', 'href'), /date=/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('commands sent straight after the frame loads wait for the map, in order', async () => {
  const rec = await recordingPage(browser, { width: 900, height: 700 });
  const { page, problems } = rec;
  // Send before `ready`: as soon as the iframe's document exists.
  await page.goto(`${hostBase}/?early=1&embed=${encodeURIComponent(`${base}/embed?measure=role`)}`);
  await page.waitForFunction(() => window.received.filter((m) => m.type !== 'partnership-map:ready').length >= 2, null, { timeout: 60000 });
  const got = await page.evaluate(() => window.received);
  assert.deepEqual(got.filter((m) => m.type !== 'partnership-map:ready'), [
    { type: 'partnership-map:select', v: 1, code: PLYMOUTH, name: 'Plymouth' },
    { type: 'partnership-map:filtered', v: 1, matching: las.filter((la) => la.region === 'South West').length },
  ]);
  const frame = page.frames().find((f) => f.url().startsWith(`${base}/embed`));
  // A filter stands for the whole query, as a URL would: the embed URL's measure=role is back to
  // the default, and the selection stays.
  assert.deepEqual(await frame.evaluate(() => ({ m: window.partnershipMap.state().measure, la: window.partnershipMap.state().la })), { m: 'count', la: PLYMOUTH });
  assert.deepEqual(problems, []);
  await page.close();
});

test('window.map is the MapLibre map on the full page and in the embed', async () => {
  for (const url of ['/', '/embed']) {
    const { page, problems } = await recordingPage(browser);
    await page.goto(`${base}${url}`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
    const facts = await page.evaluate(() => ({
      same: window.map === window.partnershipMap.map,
      style: window.map.getStyle().sources['partnership-map'].type,
      layers: window.map.getStyle().layers.map((l) => l.id).includes('la-fill'),
    }));
    assert.deepEqual(facts, { same: true, style: 'vector', layers: true }, url);
    assert.deepEqual(problems, [], url);
    await page.close();
  }
});
