// The research team's editor in real headless Chromium: a correction from the public is applied
// from the review queue through the editor (field error, preview, confirmation), and the new
// text then shows in the public LA panel, its "What changed" list and the Atom feed. The test
// starts the release binary itself with a tokens file of two named editors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, root, startServer, tempDir } from './helpers.mjs';

const artifacts = path.join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const TOKEN = 'editor-browser-token-0123456789';
const HULL = 'E06000010';
const PARTNERSHIP = 'hull-learning-partnership';
let server;
let base;
let browser;

before(async () => {
  const dir = tempDir('pm-editor-');
  const tokens = path.join(dir, 'editors.tsv');
  writeFileSync(tokens, `# name<TAB>token\nAsha Patel\t${TOKEN}\nBen Okafor\tben-browser-token-0123456789\n`);
  ({ server, base } = await startServer(['--max-zoom', '10', '--db', path.join(dir, 'pm.db'), '--admin-tokens-file', tokens]));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

async function open(url) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  const response = await page.goto(`${base}${url}`);
  return { page, problems, response };
}

test('a correction is applied from the queue through the editor and reaches the public panel and the feed', async () => {
  const correction = 'The Hull Learning Partnership now publishes termly reports on reading across the city.';
  const sub = await (await fetch(`${base}/api/submissions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ la: HULL, partnership: PARTNERSHIP, kind: 'correction', message: correction, name: 'Quentin Harrowgate', email: 'quentin@hull.example.org', consent: true }),
  })).json();
  const reference = sub.id;
  assert.match(reference, /^PM-\d{6}$/);
  const name = (await (await fetch(`${base}/api/partnerships?la=${HULL}`)).json()).partnerships.find((p) => p.id === PARTNERSHIP).name;

  const { page, problems, response } = await open('/admin');
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  await page.fill('#token', TOKEN);
  await page.keyboard.press('Enter');
  const row = page.locator(`#items tr[data-reference="${reference}"]`);
  await row.waitFor();
  await row.getByRole('button', { name: 'Apply…' }).click();
  // The form opens on the submission's LA and partnership, with the submission linked.
  await page.waitForSelector('#edit-form:not([hidden])');
  assert.equal(await page.$eval('#ed-la', (s) => s.value), HULL);
  assert.equal(await page.$eval('#ed-partnership', (s) => s.value), PARTNERSHIP);
  assert.equal(await page.$eval('#ed-submission', (s) => s.value), reference);
  assert.equal(await page.textContent('#ed-title'), `Update ${name}`);

  // Keyboard only from here: type the new notes, Tab to the preview button.
  await page.focus('#ed-f-notes');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Publishes termly reports on reading across the city (2025).');
  // No reason yet: the server's field error shows next to the reason, and nothing is published.
  await page.locator('#edit-form button[type=submit]').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#ed-errors:not([hidden])');
  assert.match(await page.textContent('#ed-reason-error'), /say why/);
  assert.equal(await page.getAttribute('#ed-reason', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'ed-errors', 'focus moves to the error summary');
  await page.focus('#ed-reason');
  await page.keyboard.type('The partnership\'s own 2025 report.');
  await page.locator('#edit-form button[type=submit]').focus();
  await page.keyboard.press('Enter');
  // The preview lists exactly the changed field; publishing needs a second, explicit step.
  await page.waitForSelector('#preview:not([hidden])');
  const rows = await page.$$eval('#preview-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.equal(rows.length, 1);
  assert.equal(rows[0][0], 'notes');
  assert.equal(rows[0][2], 'Publishes termly reports on reading across the city (2025).');
  const health0 = await (await fetch(`${base}/health`)).json();
  assert.equal(health0.changes_through, 0, 'the preview published nothing');
  await page.screenshot({ path: path.join(artifacts, 'editor-preview.png'), fullPage: true });
  await page.locator('#publish').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#ed-done:has-text("Published change 1")');
  // The one expected failure: the 422 that carried the field error.
  assert.deepEqual(problems.filter((p) => !p.includes('status of 422')), []);
  await page.close();

  // The submission is accepted and points at the change.
  const stored = await (await fetch(`${base}/api/admin/submissions/${reference}`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json();
  assert.equal(stored.status, 'accepted');
  assert.equal(stored.change_id, 1);
  assert.equal(stored.reviewed_by, 'Asha Patel');

  // The public LA panel shows the new text and the change, dated.
  const map = await open(`/?la=${HULL}`);
  await map.page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  await map.page.waitForSelector('#details .what-changed li');
  const panel = await map.page.textContent('#details');
  assert.match(panel, /Publishes termly reports on reading across the city \(2025\)\./);
  const item = await map.page.textContent('#details .what-changed li');
  assert.ok(item.startsWith(`${new Date().toISOString().slice(0, 10)} ${name}: updated notes`), item);
  assert.match(item, /Why: The partnership's own 2025 report\./);
  await map.page.locator('#details .what-changed').scrollIntoViewIfNeeded();
  await map.page.screenshot({ path: path.join(artifacts, 'la-panel-what-changed.png') });
  assert.deepEqual(map.problems, []);
  await map.page.close();

  // The feeds carry it, and nobody's name or email.
  for (const url of ['/changes.atom', `/changes.atom?la=${HULL}`]) {
    const xml = await (await fetch(`${base}${url}`)).text();
    assert.ok(xml.includes(`<title>${name}: updated notes</title>`), xml);
    for (const secret of ['Quentin', 'Harrowgate', 'quentin@', reference, 'Asha']) assert.ok(!xml.includes(secret), `${url} leaks ${secret}`);
  }
});

test('the editor opens from a URL on any LA and records a verification', async () => {
  const { page, problems } = await open('/admin');
  await page.fill('#token', TOKEN);
  await page.keyboard.press('Enter');
  // Navigating while the workspace still loads would abort its requests: wait until it is done.
  await page.waitForSelector('#workspace[aria-busy=false]:not([hidden])');
  await page.goto(`${base}/admin?la=E06000026&kind=la.verify`);
  await page.waitForSelector('#edit-form:not([hidden])');
  assert.match(await page.textContent('#ed-title'), /Verification by Plymouth/);
  await page.check('#ed-f-verified');
  await page.fill('#ed-f-date', '2026-11-27');
  await page.fill('#ed-reason', "Plymouth's officer confirmed the summary.");
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#preview:not([hidden])');
  assert.match(await page.textContent('#preview-summary'), /Plymouth: verified by the LA on 2026-11-27/);
  await page.click('#publish');
  await page.waitForSelector('#ed-done:has-text("Published change")');
  // The change log lists it with the editor's name, and offers an undo.
  await page.waitForSelector('#changes tr[data-change] td:has-text("Asha Patel")');
  assert.deepEqual(problems, []);
  await page.close();
  const la = (await (await fetch(`${base}/api/las/E06000026`)).json()).local_authority;
  assert.equal(la.verified, true);
  assert.equal(la.verified_date, '2026-11-27');
  const map = await open('/?la=E06000026');
  await map.page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  await map.page.waitForSelector('#details .verified');
  assert.match(await map.page.textContent('#details .verified'), /Verified by the LA on 2026-11-27/);
  await map.page.close();
});
