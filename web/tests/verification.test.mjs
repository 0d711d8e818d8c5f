// A verification round in real headless Chromium, as the research team and an LA officer go
// through it: the team starts a round for 3 LAs on /admin and downloads the mail merge; Plymouth's
// officer opens its link with JavaScript turned off, confirms every item but one, asks for one
// change and sends the form; the team opens the requested change in the editor from the answer
// (so the change is linked to it), publishes it, and accepts. Plymouth then shows as verified,
// dated today, in the panel, /api/las/E06000026, its decoded tile, the verified filter and the
// Atom feed, with the officer's name nowhere public. axe-core finds no violation on the LA's
// page (desktop and 375 px, with its errors shown) nor on the review. The test starts the
// release binary itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { launchBrowser, mapSettled, root, startServer, tempDir } from './helpers.mjs';

const artifacts = path.join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const AXE = readFileSync(path.join(root, 'web/node_modules/axe-core/axe.min.js'), 'utf8');
const TOKEN = 'verification-browser-token-0123456789';
const PLYMOUTH = 'E06000026';
const OFFICER = 'Morwenna Trelawny-Officer';
const JOB = 'Head of Education Partnerships';
const NEW_WEBSITE = 'https://www.plp-schools.example.org';
const today = new Date().toISOString().slice(0, 10);
let server;
let base;
let browser;

before(async () => {
  const dir = tempDir('pm-verification-');
  const tokens = path.join(dir, 'editors.tsv');
  writeFileSync(tokens, `# name<TAB>token\nAsha Patel\t${TOKEN}\n`);
  ({ server, base } = await startServer(['--max-zoom', '8', '--db', path.join(dir, 'pm.db'), '--admin-tokens-file', tokens]));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** A page that records console errors, page errors and failed requests. */
async function open(url, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  const response = await page.goto(`${base}${url}`);
  return { page, problems, response, context };
}

/** axe-core's violations on `page` as it is now (any impact). */
async function axe(page) {
  await page.evaluate(AXE);
  const r = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

function csvRows(text) {
  // The mail merge has no quoted commas in these columns (codes, names, roles, links, dates),
  // except LA names like "Bristol, City of", which the csv writer quotes.
  const lines = text.trim().split('\n');
  const split = (l) => [...l.matchAll(/("([^"]*(?:""[^"]*)*)"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => (m[2] !== undefined ? m[2].replace(/""/g, '"') : m[1]));
  const head = split(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [head[i], v])));
}

async function json(url, token) {
  const res = await fetch(`${base}${url}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  assert.equal(res.status, 200, url);
  return res.json();
}

/** Web Mercator tile of a point. */
function tileOf([lon, lat], z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
  return [x, y];
}

test('a round from the admin page to a verified Plymouth, with the requested change linked to the answer', async () => {
  const las = (await json('/api/las')).local_authorities;
  const others = las.map((l) => l.code).filter((c) => c !== PLYMOUTH).slice(0, 2);
  const chosen = [...others, PLYMOUTH];
  const detail = await json(`/api/las/${PLYMOUTH}`);
  const keys = ['role', ...detail.partnerships.map((p) => `p:${p.id}`)];
  const target = detail.partnerships[Math.min(1, detail.partnerships.length - 1)];
  assert.ok(target, 'Plymouth has a partnership to ask about');

  // The team starts the round on /admin and gets the mail merge at once.
  const admin = await open('/admin');
  const ap = admin.page;
  ap.on('dialog', (d) => d.accept());
  await ap.fill('#token', TOKEN);
  await ap.keyboard.press('Enter');
  await ap.waitForSelector('#workspace[aria-busy=false]:not([hidden])');
  await ap.fill('#vr-name', 'Autumn round');
  await ap.check('#vr-chosen');
  await ap.selectOption('#vr-las', chosen);
  const [download] = await Promise.all([ap.waitForEvent('download'), ap.click('#vr-form button[type=submit]')]);
  const mailMerge = readFileSync(await download.path(), 'utf8');
  writeFileSync(path.join(artifacts, 'verification-mail-merge.csv'), mailMerge.replace(/\/verify\/[A-Za-z0-9_-]+/g, '/verify/TOKEN'));
  const rows = csvRows(mailMerge);
  assert.deepEqual(Object.keys(rows[0]), ['la_code', 'la_name', 'contact_role', 'link', 'expires']);
  assert.deepEqual(rows.map((r) => r.la_code).sort(), [...chosen].sort());
  for (const r of rows) {
    assert.equal(r.la_name, las.find((l) => l.code === r.la_code).name);
    assert.match(r.link, new RegExp(`^${base}/verify/[A-Za-z0-9_-]{43}$`));
  }
  const plymouth = rows.find((r) => r.la_code === PLYMOUTH);
  await ap.waitForSelector('#vr-created:has-text("3 link(s)")');
  const countsRow = ap.locator('#vr-campaigns tbody tr').first();
  const counts = async () => (await countsRow.locator('td').allTextContents()).slice(1, 8);
  assert.deepEqual(await counts(), ['3', '0', '0', '0', '0', '0', '0']);

  // The panel says when Plymouth was last invited.
  const invitedPanel = await open(`/?la=${PLYMOUTH}`);
  await invitedPanel.page.waitForSelector('#details .unverified:has-text("last invited")', { timeout: 60000 });
  assert.equal((await invitedPanel.page.textContent('#details .unverified')).trim(), `Not yet verified (last invited ${today}).`);
  await invitedPanel.context.close();

  // Plymouth's officer, with JavaScript off: the page shows every item, with its sources.
  const officer = await open(new URL(plymouth.link).pathname, { javaScriptEnabled: false });
  const op = officer.page;
  assert.equal(officer.response.status(), 200);
  assert.equal(await op.locator('main').count(), 1);
  for (const p of detail.partnerships) {
    assert.ok(await op.locator('h2', { hasText: p.name }).count(), `${p.name} shown`);
    for (const u of p.source_urls) assert.ok(await op.locator(`a[href="${u}"]`).count(), `${u} linked`);
  }
  for (const k of keys) {
    if (k === `p:${target.id}`) {
      await op.check(`input[name="answer-${k}"][value="change"]`);
      await op.fill(`textarea[name="message-${k}"]`, `Our website has moved to ${NEW_WEBSITE}`);
    } else {
      await op.check(`input[name="answer-${k}"][value="correct"]`);
    }
  }
  await op.fill('#v-name', OFFICER);
  await op.fill('#v-job_title', JOB);
  await op.check('#v-consent');
  await op.setViewportSize({ width: 375, height: 740 });
  await op.screenshot({ path: path.join(artifacts, 'verification-page-375.png'), fullPage: true });
  await Promise.all([op.waitForNavigation(), op.click('button[type=submit]')]);
  assert.match(await op.textContent('h1'), /Thank you/);
  const reference = (await op.textContent('#reference')).trim();
  assert.match(reference, /^VR-\d{6}$/);
  assert.deepEqual(officer.problems, []);
  await officer.context.close();

  // axe on the LA's page, desktop and phone, and with its errors shown.
  for (const viewport of [{ width: 1280, height: 800 }, { width: 375, height: 740 }]) {
    const a = await open(new URL(plymouth.link).pathname, { viewport });
    assert.deepEqual(await axe(a.page), [], `verify page at ${viewport.width} px`);
    await a.page.fill('#v-name', '');
    await Promise.all([a.page.waitForNavigation(), a.page.click('button[type=submit]')]);
    assert.ok(await a.page.locator('.error-summary').count(), 'errors shown');
    assert.deepEqual(await axe(a.page), [], `verify page with errors at ${viewport.width} px`);
    await a.context.close();
  }

  // The review, side by side; the requested change opens in the editor linked to the answer.
  await ap.click('#refresh');
  const answer = ap.locator(`article.vr-answer[data-reference="${reference}"]`);
  await answer.waitFor();
  assert.equal(await answer.locator('tbody tr').count(), keys.length);
  assert.deepEqual(await counts(), ['2', '0', '1', '0', '0', '0', '0']);
  assert.deepEqual(await axe(ap), [], 'admin page with an answer to review');
  await ap.screenshot({ path: path.join(artifacts, 'verification-review.png'), fullPage: true });
  await answer.locator(`tr[data-item="p:${target.id}"] button`, { hasText: 'Open in the editor' }).click();
  await ap.waitForSelector('#edit-form:not([hidden])');
  assert.equal(await ap.$eval('#ed-la', (s) => s.value), PLYMOUTH);
  assert.equal(await ap.$eval('#ed-partnership', (s) => s.value), target.id);
  assert.equal(await ap.$eval('#ed-verification', (s) => s.value), reference);
  assert.match(await ap.textContent('#ed-asked'), new RegExp(`The LA asks: Our website has moved to ${NEW_WEBSITE.replace(/[.]/g, '\\.')}`));
  await ap.fill('#ed-f-website', NEW_WEBSITE);
  await ap.click('#edit-form button[type=submit]');
  await ap.waitForSelector('#preview:not([hidden])');
  await ap.click('#publish');
  await ap.waitForSelector('#ed-done:has-text("Published change")');
  const updated = await answer.locator('.linked').textContent({ timeout: 30000 });
  const changeId = Number(updated.match(/#(\d+)/)[1]);

  // Accept: the changes are handled; la.verify is recorded, dated on the answer.
  await answer.locator('button', { hasText: 'Accept: the changes are handled' }).click();
  await ap.waitForSelector('#vr-created:has-text("Plymouth is verified")');
  await ap.waitForSelector(`#vr-campaigns tbody tr:first-child td:nth-child(6):has-text("1")`);
  assert.deepEqual(await counts(), ['2', '0', '0', '1', '0', '0', '0']);
  assert.deepEqual(admin.problems, []);
  await admin.context.close();

  // The requested change is applied and linked to the answer; so is the verification.
  const stored = await json(`/api/verification/responses/${reference}`, TOKEN);
  assert.equal(stored.answer.outcome, 'verified');
  assert.equal(stored.answer.changes.length, 2);
  assert.equal(stored.answer.changes[0], changeId);
  const log = (await json('/api/admin/changes', TOKEN)).changes;
  const linked = log.filter((c) => c.verification === stored.answer.id).map((c) => c.change.kind).sort();
  assert.deepEqual(linked, ['la.verify', 'partnership.update']);
  const website = (await json(`/api/partnerships?la=${PLYMOUTH}`)).partnerships.find((p) => p.id === target.id).website;
  assert.equal(website, NEW_WEBSITE);

  // Public: /api/las/E06000026.
  const la = (await json(`/api/las/${PLYMOUTH}`)).local_authority;
  assert.equal(la.verified, true);
  assert.equal(la.verified_date, today);

  // Its tile, decoded.
  const [x, y] = tileOf(la.label, 8);
  const tile = await fetch(`${base}/tiles/8/${x}/${y}.pbf`);
  assert.equal(tile.status, 200);
  const vt = new VectorTile(new PbfReader(new Uint8Array(await tile.arrayBuffer())));
  const layer = vt.layers.local_authorities;
  const features = Array.from({ length: layer.length }, (_, i) => layer.feature(i).properties);
  const mine = features.find((p) => p.code === PLYMOUTH);
  assert.ok(mine, 'Plymouth is in its tile');
  assert.equal(mine.verified, true);
  assert.equal(mine.verified_date, today);

  // The panel and the verified filter.
  const map = await open(`/?la=${PLYMOUTH}`);
  await map.page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  await mapSettled(map.page, { timeout: 60000 });
  await map.page.waitForSelector('#details .verified');
  assert.equal((await map.page.textContent('#details .verified')).trim(), `Verified by the LA on ${today}.`);
  await map.page.check('#verified-only');
  const verifiedNow = las.filter((l) => l.verified).map((l) => l.code);
  const matching = await map.page.evaluate(() => window.partnershipMap.matching());
  assert.deepEqual(matching.sort(), [...new Set([...verifiedNow, PLYMOUTH])].sort());
  assert.match(await map.page.textContent('#match-count'), new RegExp(`^${matching.length} of ${las.length} LAs match`));
  await map.page.screenshot({ path: path.join(artifacts, 'verification-panel.png') });
  assert.deepEqual(map.problems, []);
  await map.context.close();

  // The Atom feed, without the officer.
  const xml = await (await fetch(`${base}/changes.atom?la=${PLYMOUTH}`)).text();
  assert.ok(xml.includes(`<title>Plymouth: verified by the LA on ${today}</title>`), xml);
  for (const url of ['/changes.atom', `/changes.atom?la=${PLYMOUTH}`, '/api/changes', `/api/las/${PLYMOUTH}`, '/api/las']) {
    const text = await (await fetch(`${base}${url}`)).text();
    for (const secret of [OFFICER, 'Trelawny', JOB, reference]) assert.ok(!text.includes(secret), `${url} leaks ${secret}`);
  }

  // The link, now settled, shows no data.
  const gone = await fetch(plymouth.link);
  assert.equal(gone.status, 410);
  assert.ok(!(await gone.text()).includes('Plymouth'));
});
