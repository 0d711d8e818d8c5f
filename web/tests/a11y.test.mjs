// Accessibility: axe-core (from web/node_modules, injected into the page) finds no violation of
// any impact, with its default rules (WCAG 2.x A and AA, and best practices), on every HTML page
// the server sends, at a desktop and at a 375 px phone viewport. Pages are checked as people
// use them: the map with its tiles loaded, an LA selected, the map as of a vesting day (a new
// council and an abolished one selected), the list view and the share dialog open; the comparison chooser and table; the corrections form, its errors and its
// confirmation; the research team's page before and after the token, with the editor open; a
// council's verification page (the form, its errors, the thanks, a link that does not work).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, mapSettled, recordingPage, root, startServer, tempDir } from './helpers.mjs';

const AXE = readFileSync(path.join(root, 'web/node_modules/axe-core/axe.min.js'), 'utf8');
const TOKEN = 'a11y-browser-token-0123456789';
const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  mobile: { width: 375, height: 740 },
};
let server;
let base;
let browser;
let hull;
let verifyPath;
// The first vesting date (from the server), one council it makes and one it abolishes.
let vesting;

before(async () => {
  const dir = tempDir('pm-a11y-');
  ({ server, base } = await startServer(['--max-zoom', '8', '--db', path.join(dir, 'pm.db')], { PARTNERSHIP_MAP_ADMIN_TOKEN: TOKEN }));
  browser = await launchBrowser();
  // Something in the review queue, so its table has a row with its buttons.
  const las = (await (await fetch(`${base}/api/las`)).json()).local_authorities;
  hull = las.find((l) => l.name === 'Kingston upon Hull, City of')?.code ?? las[0].code;
  vesting = (await (await fetch(`${base}/api/reorganisations`)).json()).vesting_dates[0];
  assert.ok(vesting, 'the shipped reorganisation table has a vesting date');
  const sent = await fetch(`${base}/api/submissions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ la: hull, kind: 'correction', message: 'A partnership is missing from this LA.', name: 'Axe Tester', email: 'axe@example.org', consent: true }),
  });
  assert.equal(sent.status, 201);
  // A verification round for Hull: its private link opens the council's /verify page.
  const round = await fetch(`${base}/api/verification/campaigns`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ name: 'Accessibility check', las: [hull], contact_role: 'Lead for school improvement' }),
  });
  assert.equal(round.status, 201, await round.clone().text());
  const link = (await round.json()).invitations.map((i) => i.link).find(Boolean);
  verifyPath = new URL(link).pathname;
  assert.match(verifyPath, /^\/verify\/./);
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** The map is drawn: the page says it is ready and every tile in view is loaded. */
async function mapReady(page) {
  await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  await mapSettled(page, { timeout: 60000 });
}

/** Type the editor token on /admin and wait until the workspace has loaded. */
async function signIn(page) {
  await page.fill('#token', TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#workspace[aria-busy=false]:not([hidden])');
}

/** Sign in, then open the editor on Hull for a change of `kind` from its URL. */
async function openEditor(page, kind) {
  await signIn(page);
  await page.goto(`${base}/admin?la=${hull}&kind=${kind}`);
  await page.waitForSelector('#edit-form:not([hidden])');
}

/** The pages and states to check: a name, the address, and what to do before checking. */
const PAGES = [
  ['map', '/', mapReady],
  ['map, an LA selected', () => `/?la=${hull}`, async (page) => {
    await mapReady(page);
    // The panel names the LA: its region and type, and whether the LA verified it.
    await page.waitForSelector('#details .meta');
  }],
  ['map as of a vesting day, a new council selected', () => `/?date=${vesting.date}&la=${vesting.new[0].code}`, async (page) => {
    await mapReady(page);
    await page.waitForSelector(`body[data-shown="${vesting.date}"]`);
    // Its history, what it inherits and the figures not yet published.
    await page.waitForSelector('#details .replaces');
    await page.waitForSelector('#date-marks button[aria-pressed=true]');
  }],
  ['map as of a vesting day, an abolished council selected', () => `/?date=${vesting.date}&la=${vesting.abolished[0].code}`, async (page) => {
    await mapReady(page);
    await page.waitForSelector('#details .replaced-by');
    await page.waitForSelector('#date-marks button[aria-pressed=true]');
  }],
  ['map, list view', '/', async (page) => {
    await mapReady(page);
    await page.click('#toggle-list');
    await page.waitForSelector('#list-view:not([hidden]) tbody tr');
  }],
  ['map, share dialog', '/', async (page) => {
    await mapReady(page);
    await page.click('#open-share');
    await page.waitForSelector('#share[open]');
  }],
  ['embed', '/embed?measure=role', mapReady],
  ['compare chooser', '/compare', null],
  ['compare table', () => `/compare?la=${hull}`, null],
  ['compare, unknown LA', '/compare?la=E99999999', null],
  ['contribute form', () => `/contribute?la=${hull}`, null],
  ['contribute form with errors', '/contribute', async (page) => {
    // Without JavaScript's checks: the server's answer to an empty form.
    await page.evaluate(() => document.querySelector('#contribute').submit());
    await page.waitForSelector('.error-summary');
  }],
  ['contribute confirmation', () => `/contribute?la=${hull}`, async (page) => {
    await page.check('#f-kind-correction');
    await page.fill('#f-message', 'The partnership list for this LA misses one.');
    await page.fill('#f-name', 'Axe Tester');
    await page.fill('#f-email', 'axe@example.org');
    await page.check('#f-consent');
    await page.evaluate(() => document.querySelector('#contribute').submit());
    await page.waitForSelector('#reference');
  }],
  ['admin, no token', '/admin', null],
  ['admin, queue and log', '/admin', async (page) => {
    await signIn(page);
    await page.waitForSelector('#items tbody tr');
  }],
  ['admin, editor with errors', '/admin', async (page) => {
    await openEditor(page, 'partnership.update');
    // No reason: the server's field errors show in the form.
    await page.click('#edit-form button[type=submit]');
    await page.waitForSelector('#ed-errors:not([hidden])');
  }],
  ['admin, preview', '/admin', async (page) => {
    await openEditor(page, 'la.verify');
    await page.check('#ed-f-verified');
    await page.fill('#ed-f-date', '2026-11-27');
    await page.fill('#ed-reason', 'The officer confirmed the summary.');
    await page.click('#edit-form button[type=submit]');
    await page.waitForSelector('#preview:not([hidden])');
  }],
  ['verify form', () => verifyPath, null],
  ['verify form with errors', () => verifyPath, async (page) => {
    // Once answered, the form comes back filled in: empty the name and consent again.
    await page.fill('#v-name', '');
    await page.uncheck('#v-consent');
    await page.evaluate(() => document.querySelector('#verify').submit());
    await page.waitForSelector('.error-summary');
  }],
  ['verify answered', () => verifyPath, async (page) => {
    for (const radio of await page.$$('#verify input[type=radio][value=correct]')) await radio.check();
    await page.fill('#v-name', 'Axe Tester');
    await page.fill('#v-job_title', 'Lead for school improvement');
    await page.check('#v-consent');
    await page.evaluate(() => document.querySelector('#verify').submit());
    await page.waitForSelector('h1:has-text("Thank you")');
  }],
  ['verify, unknown link', '/verify/not-a-token', null],
  // After 'verify answered': the council's answer waits for review on /admin.
  ['admin, a verification answer', '/admin', async (page) => {
    await signIn(page);
    await page.waitForSelector('#vr-answers article.vr-answer tbody tr');
  }],
  ['downloads', '/downloads', null],
  ['API reference', '/api', async (page) => {
    await page.waitForSelector('.opblock', { timeout: 30000 });
  }],
  ['API reference, operations open', '/api', async (page) => {
    await page.waitForSelector('.opblock', { timeout: 30000 });
    // A read with parameters and many statuses, and a write with a request body.
    for (const path of ['/tiles/{z}/{x}/{y}', '/api/submissions']) {
      const op = page.locator('.opblock', { has: page.locator(`[data-path="${path}"]`) }).first();
      await op.locator('.opblock-summary').first().click();
      await op.locator('.responses-table').first().waitFor({ timeout: 10000 });
    }
  }],
];

/** axe-core's violations on `page`, each as `rule (impact): target…` lines. */
async function violations(page) {
  // Evaluated through the DevTools protocol, which the pages' CSP (no inline script) allows.
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help}, ${v.nodes.length} element(s), e.g.\n${v.nodes
    .slice(0, 4)
    .map((n) => `    ${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ').trim()}`)
    .join('\n')}`);
}

for (const [viewport, size] of Object.entries(VIEWPORTS)) {
  for (const [name, address, prepare] of PAGES) {
    test(`${name} (${viewport}): no axe violations`, async () => {
      const { page, problems } = await recordingPage(browser, size);
      try {
        const url = typeof address === 'function' ? address() : address;
        await page.goto(`${base}${url}`);
        if (prepare) {
          await prepare(page).catch((e) => {
            throw new Error(`${e.message}\nwhat the page reported: ${problems.join('\n') || 'nothing'}`);
          });
        }
        const found = await violations(page);
        assert.deepEqual(found, [], `${url} at ${size.width}×${size.height}:\n${found.join('\n')}`);
      } finally {
        await page.close();
      }
    });
  }
}
