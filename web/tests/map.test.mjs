// Browser tests of the web map, the embed and the corrections form, in real headless Chromium
// (Debian's /usr/bin/chromium driven by playwright-core). The test starts the release binary
// itself on a free loopback port with a throwaway database. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, mapSettled, recordingPage, root, startServer, tempDir } from './helpers.mjs';

const artifacts = path.join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
let server;
let base;
let browser;
// How many LAs the API serves today: taken from the server, never written down here.
let total;

before(async () => {
  const dir = tempDir('pm-browser-');
  ({ server, base } = await startServer(['--db', path.join(dir, 'pm.db')], { PARTNERSHIP_MAP_ADMIN_TOKEN: 'browser-test-token-0123456789' }));
  browser = await launchBrowser();
  total = (await (await fetch(`${base}/api/las`)).json()).count;
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** A page that records console errors, failed requests, HTTP errors and any request off this server. */
async function open(url, viewport = { width: 1280, height: 800 }) {
  const { page, problems, requests } = await recordingPage(browser, viewport);
  await page.goto(`${base}${url}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  return { page, problems, requests };
}

const rendered = (page) => page.evaluate(() => [...new Set(window.partnershipMap.map
  .queryRenderedFeatures({ layers: ['la-fill', 'la-fill-no-data'] }).map((f) => f.properties.code))]);

async function api(p) { return (await fetch(`${base}${p}`)).json(); }

test('the page loads with no console errors and no failed requests, and draws the LAs in view', async () => {
  const { page, problems } = await open('/');
  assert.deepEqual(problems, []);
  const codes = await rendered(page);
  // LAs whose label point lies in the current view.
  const inView = await page.evaluate(() => {
    const b = window.partnershipMap.map.getBounds();
    return window.partnershipMap.matching().length && fetch('/api/las').then((r) => r.json()).then((j) =>
      j.local_authorities.filter((la) => b.contains(la.label)).length);
  });
  // A first visit fits all of England, clear of the attribution box at the bottom.
  const all = (await api('/api/las')).count;
  assert.equal(inView, all, `view holds ${inView} of ${all} LAs`);
  const clearance = await page.evaluate(() => fetch('/api/las').then((r) => r.json()).then((j) => {
    const m = window.partnershipMap.map;
    const south = Math.min(...j.local_authorities.map((la) => la.bbox[1]));
    const west = Math.min(...j.local_authorities.map((la) => la.bbox[0]));
    const y = m.project([west, south]).y;
    const top = m.getContainer().querySelector('.maplibregl-ctrl-attrib').getBoundingClientRect().top
      - m.getContainer().getBoundingClientRect().top;
    return top - y;
  }));
  assert.ok(clearance > 0, `England's south-west corner is ${-clearance}px under the attribution`);
  assert.ok(codes.length >= inView * 0.9 && codes.length <= total, `rendered ${codes.length}, in view ${inView}`);
  assert.equal(await page.textContent('#match-count'), `${total} of ${total} LAs match`);
  assert.match(await page.textContent('#legend'), /Number of partnerships/);
  // The legend offers "No data yet" only while the data leaves some LA without evidence.
  const withoutData = (await api('/api/las')).local_authorities.filter((la) => !la.has_data).length;
  assert.equal(/No data yet/.test(await page.textContent('#legend')), withoutData > 0);
  assert.match(await page.textContent('.maplibregl-ctrl-attrib'), /Office for National Statistics/);
  await page.screenshot({ path: path.join(artifacts, 'map-desktop.png') });
  await page.close();
});

test('labels render from glyphs served by this server, and nothing leaves it', async () => {
  const { page, requests, problems } = await open('/#map=8/52.9/-1.4');
  await page.waitForFunction(() => window.partnershipMap.map.queryRenderedFeatures({ layers: ['la-labels'] }).length > 0, null, { timeout: 30000 });
  const labels = await page.evaluate(() => window.partnershipMap.map.queryRenderedFeatures({ layers: ['la-labels'] }).map((f) => f.properties.name));
  assert.ok(labels.length > 3, `labels drawn: ${labels}`);
  const glyphs = requests.filter((u) => u.includes('/fonts/'));
  assert.ok(glyphs.length > 0, 'glyphs were requested');
  const foreign = requests.filter((u) => !u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('blob:'));
  assert.deepEqual(foreign, [], 'no request left the server');
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'map-labels-z8.png') });
  await page.close();
});

test('the convener filter matches exactly the LAs the data marks as conveners', async () => {
  const data = await api('/api/las');
  const expected = data.local_authorities.filter((la) => la.role_convener === true).map((la) => la.code).sort();
  const { page, problems } = await open('/');
  await page.click('summary:has-text("LA role")');
  await page.check('input[name=role][value=convener]');
  assert.equal(await page.textContent('#match-count'), `${expected.length} of ${total} LAs match`);
  const matched = (await page.evaluate(() => window.partnershipMap.matching())).sort();
  assert.deepEqual(matched, expected);
  // Feature-state drives the map: dimmed vs highlighted LAs, no tile refetch needed.
  const states = await page.evaluate((codes) => codes.map((c) => window.partnershipMap.map.getFeatureState({ source: 'partnership-map', sourceLayer: 'local_authorities', id: c }).match), [expected[0], 'E06000053']);
  assert.deepEqual(states, [true, false]);
  await page.click('#clear');
  assert.equal(await page.textContent('#match-count'), `${total} of ${total} LAs match`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('clicking an LA with data shows its partnerships and their source links', async () => {
  const { page, problems } = await open('/');
  const detail = await api('/api/las/E09000002');
  // Zoom to Barking and Dagenham and click its label point.
  await page.evaluate(() => window.partnershipMap.map.jumpTo({ center: [0.13, 51.545], zoom: 11 }));
  await mapSettled(page);
  const point = await page.evaluate(() => window.partnershipMap.map.project([0.13, 51.545]));
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
  await page.waitForSelector('#details h2:has-text("Barking and Dagenham")');
  const titles = await page.$$eval('#details .partnership h4', (hs) => hs.map((h) => h.textContent));
  assert.deepEqual(titles, detail.partnerships.map((p) => p.name));
  const links = await page.$$eval('#details .partnership .sources a', (as) => as.map((a) => ({ href: a.href, rel: a.rel })));
  const want = detail.partnerships.flatMap((p) => p.source_urls);
  assert.deepEqual(links.map((l) => l.href), want.map((u) => new URL(u).href));
  assert.ok(links.every((l) => l.rel.includes('noopener')));
  assert.match(await page.textContent('#details'), /Roles: funder, convener/);
  assert.ok(await page.isVisible('#suggest-correction'));
  assert.match(page.url(), /la=E09000002/);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'la-panel.png') });
  await page.close();
});

test('"similar to" highlights exactly the 10 statistical neighbours, ranked', async () => {
  const la = (await api('/api/las')).local_authorities.find((x) => x.code === 'E06000001');
  const { page, problems } = await open('/');
  await page.selectOption('#similar', 'E06000001');
  const listed = await page.$$eval('#similar-list li button', (bs) => bs.map((b) => b.textContent));
  const names = Object.fromEntries((await api('/api/las')).local_authorities.map((x) => [x.code, x.name]));
  assert.deepEqual(listed, la.stat_neighbours.map((c) => names[c]));
  const highlighted = await page.evaluate(() => {
    const all = [];
    for (const f of window.partnershipMap.map.querySourceFeatures('partnership-map', { sourceLayer: 'local_authorities' })) {
      const s = window.partnershipMap.map.getFeatureState({ source: 'partnership-map', sourceLayer: 'local_authorities', id: f.properties.code });
      if (s.similar > 1) all.push([f.properties.code, s.similar]);
    }
    return [...new Map(all)].sort((a, b) => a[1] - b[1]).map(([c]) => c);
  });
  assert.deepEqual(highlighted, la.stat_neighbours);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'similar-hartlepool.png') });
  await page.close();
});

test('search ignores case and punctuation and selects the LA', async () => {
  const { page, problems } = await open('/');
  for (const [q, want] of [['kingston hull', 'Kingston upon Hull, City of'], ['st helens', 'St. Helens'], ['bristol', 'Bristol, City of']]) {
    await page.fill('#search', q);
    await page.waitForSelector('#search-results li');
    assert.equal(await page.textContent('#search-results li'), want, q);
  }
  await page.fill('#search', 'KINGSTON upon hull');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#details h2:has-text("Kingston upon Hull, City of")');
  assert.match(page.url(), /la=E06000010/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('the permalink round-trips: reload restores view, selection and filters; back works', async () => {
  const { page, problems } = await open('/');
  await page.click('summary:has-text("Region")');
  await page.check('input[name=region][value="North East"]');
  await page.selectOption('#measure', 'role');
  await page.fill('#search', 'leeds');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#details h2:has-text("Leeds")');
  await page.evaluate(() => window.partnershipMap.map.jumpTo({ center: [-1.55, 53.8], zoom: 9 }));
  await page.waitForFunction(() => location.hash.startsWith('#map=9'));
  const url = page.url();
  const before = await page.evaluate(() => ({ s: window.partnershipMap.state(), c: window.partnershipMap.map.getCenter(), z: window.partnershipMap.map.getZoom() }));
  // Let the tiles for the new view arrive first: a reload mid-fetch aborts them (ERR_ABORTED).
  await mapSettled(page);
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForSelector('#details h2:has-text("Leeds")');
  const afterReload = await page.evaluate(() => ({ s: window.partnershipMap.state(), c: window.partnershipMap.map.getCenter(), z: window.partnershipMap.map.getZoom() }));
  assert.equal(page.url(), url);
  assert.deepEqual(afterReload.s, before.s);
  assert.ok(Math.abs(afterReload.z - before.z) < 0.01 && Math.abs(afterReload.c.lng - before.c.lng) < 0.001);
  assert.equal(await page.$eval('#measure', (s) => s.value), 'role');
  assert.ok(await page.isChecked('input[name=region][value="North East"]'));
  assert.equal(await page.textContent('#match-count'), `12 of ${total} LAs match`);
  await mapSettled(page);
  await page.goBack();
  await page.waitForFunction(() => !location.search.includes('la=E08000035'));
  assert.equal(await page.evaluate(() => window.partnershipMap.state().la), '');
  assert.deepEqual(problems, []);
  await page.close();
});

test('the list view is a sortable table honouring the filters', async () => {
  const { page } = await open('/?la_type=london_borough');
  await page.click('#toggle-list');
  const rows = await page.$$eval('#list-view tbody tr', (trs) => trs.length);
  assert.equal(rows, 32);
  await page.click('#list-view th button[data-sort=partnership_count]');
  assert.equal(await page.getAttribute('#list-view th:has(button[data-sort=partnership_count])', 'aria-sort'), 'ascending');
  const counts = await page.$$eval('#list-view tbody tr td:nth-child(4)', (tds) => tds.map((t) => Number(t.textContent)));
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b));
  await page.screenshot({ path: path.join(artifacts, 'list-view.png') });
  await page.close();
});

test('/embed renders chrome-less with the filters from its query and may be framed', async () => {
  const res = await fetch(`${base}/embed?measure=verified&role=convener`);
  assert.ok(!res.headers.get('x-frame-options'));
  assert.match(res.headers.get('content-security-policy'), /frame-ancestors \*/);
  const main = await fetch(`${base}/`);
  assert.equal(main.headers.get('x-frame-options'), 'DENY');
  const { page, problems } = await open('/embed?measure=verified&role=convener');
  assert.equal(await page.$('#panel'), null, 'no panel');
  assert.match(await page.textContent('#legend'), /Verified by the LA/);
  assert.ok((await rendered(page)).length > 100);
  const n = (await api('/api/las')).local_authorities.filter((la) => la.role_convener).length;
  assert.equal((await page.evaluate(() => window.partnershipMap.matching())).length, n);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'embed.png') });
  await page.close();
});

test('the share dialog gives the page URL and an iframe snippet', async () => {
  const { page } = await open('/?role=funder');
  await page.click('#open-share');
  assert.equal(await page.inputValue('#share-url'), page.url());
  assert.match(await page.inputValue('#share-embed'), /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/embed\?role=funder" title="[^"]+"/);
  await page.close();
});

test('at 375 px the panel is a bottom sheet', async () => {
  const { page, problems } = await open('/?la=E08000025', { width: 375, height: 740 });
  await page.waitForSelector('#details h2:has-text("Birmingham")');
  const panel = await page.locator('#panel').boundingBox();
  assert.ok(Math.abs(panel.y + panel.height - 740) <= 1, `panel ends at the bottom (${JSON.stringify(panel)})`);
  assert.ok(panel.y > 740 * 0.45, 'panel covers at most the lower part');
  assert.ok(panel.width >= 374, 'full width');
  const mapBox = await page.locator('#map').boundingBox();
  assert.ok(mapBox.height > 400, 'the map fills the screen behind it');
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'mobile-375.png') });
  await page.close();
});

test('keyboard only: search, select, and reach the correction form', async () => {
  const { page } = await open('/');
  await page.focus('#search');
  await page.keyboard.type('york');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#details h2');
  const name = await page.textContent('#details h2');
  assert.ok(['York', 'North Yorkshire', 'East Riding of Yorkshire'].includes(name), name);
  await page.focus('#suggest-correction');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/contribute\?la=E0/);
  await page.close();
});

test('keyboard on the map: Enter selects the LA at the centre; hovering names the LA', async () => {
  const { page, problems } = await open('/#map=11/51.512/-0.1337');
  await page.waitForFunction(() => window.partnershipMap.map.areTilesLoaded());
  await page.focus('#map canvas');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#details h2:has-text("Westminster")');
  const box = await page.locator('#map').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector('.hover-tip');
  assert.match(await page.textContent('.hover-tip'), /^Westminster: \d+ partnerships?/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a correction sent from the LA panel is stored and its reference shown', async () => {
  const { page, problems } = await open('/?la=E09000002');
  await page.waitForSelector('#details h2:has-text("Barking and Dagenham")');
  await page.click('#suggest-correction');
  await page.waitForURL(/\/contribute\?la=E09000002/);
  assert.equal(await page.$eval('#f-la', (s) => s.value), 'E09000002');
  // Client-side validation first: an empty submit shows messages next to the fields.
  await page.click('button[type=submit]');
  assert.match(await page.textContent('#message-error'), /at least 10 characters/);
  assert.match(await page.textContent('#email-error'), /email/);
  await page.selectOption('#f-partnership', 'barking-and-dagenham-school-improvement-partnership');
  await page.check('#f-kind-correction');
  await page.fill('#f-message', 'BDSIP now also supports schools outside the borough.');
  await page.fill('#f-name', 'Browser Tester');
  await page.fill('#f-email', 'tester@example.org');
  await page.check('#f-consent');
  await page.click('button[type=submit]');
  await page.waitForSelector('#reference');
  const ref = await page.textContent('#reference');
  assert.match(ref, /^PM-\d{6}$/);
  const stored = await (await fetch(`${base}/api/admin/submissions/${ref}`, { headers: { Authorization: 'Bearer browser-test-token-0123456789' } })).json();
  assert.equal(stored.la_code, 'E09000002');
  assert.equal(stored.partnership_id, 'barking-and-dagenham-school-improvement-partnership');
  assert.deepEqual(problems.filter((p) => !p.includes('HTTP 400')), []);
  await page.screenshot({ path: path.join(artifacts, 'correction-confirmation.png') });
  await page.close();
});
