// The browsable API reference at /api in real headless Chromium: Swagger UI (bundled from npm,
// served by the binary) renders /api/openapi.json with every operation of the document, loads
// nothing from another origin, and expands an operation to show its parameters and responses.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, recordingPage, root, startServer, tempDir } from './helpers.mjs';

const artifacts = path.join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

let server;
let base;
let browser;

before(async () => {
  ({ server, base } = await startServer(['--db', path.join(tempDir('pm-api-'), 'pm.db')]));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

test('/api renders every operation of the OpenAPI document, from this server only', async () => {
  const doc = await (await fetch(`${base}/api/openapi.json`)).json();
  const expected = [];
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item)) expected.push(`${m.toUpperCase()} ${p}`);
  }
  assert.ok(expected.length > 45, `${expected.length} operations in the document`);

  const { page, problems, requests } = await recordingPage(browser, { width: 1280, height: 900 });
  await page.goto(`${base}/api`);
  await page.waitForSelector('.opblock', { timeout: 60000 });
  // Every operation is drawn as a block with its method and path.
  const shown = await page.$$eval('.opblock', (blocks) => blocks.map((b) => {
    const method = b.querySelector('.opblock-summary-method')?.textContent.trim();
    const p = b.querySelector('.opblock-summary-path')?.getAttribute('data-path')
      ?? b.querySelector('.opblock-summary-path')?.textContent.replace(/\u200b/g, '').trim();
    return `${method} ${p}`;
  }));
  const missing = expected.filter((e) => !shown.includes(e));
  assert.deepEqual(missing, [], 'operations the page does not show');
  assert.equal(shown.length, expected.length);
  const title = await page.textContent('.info .title');
  assert.match(title, /partnership-map/);

  // Open the tile operation: its parameters and the tile contract's statuses are listed.
  const tile = page.locator('.opblock', { has: page.locator('[data-path="/tiles/{z}/{x}/{y}"]') }).first();
  await tile.locator('.opblock-summary').first().click();
  await tile.locator('.parameters').first().waitFor({ timeout: 10000 });
  const params = await tile.locator('.parameters .parameter__name').allTextContents();
  for (const name of ['z', 'x', 'y', 'If-None-Match']) {
    assert.ok(params.some((t) => t.replace(/\s|\*|required/g, '').startsWith(name)), `parameter ${name} in ${params}`);
  }
  const statuses = (await tile.locator('.responses-table .response-col_status').allTextContents()).map((s) => s.trim());
  for (const s of ['200', '204', '304', '400', '404']) assert.ok(statuses.includes(s), `status ${s} in ${statuses}`);
  await page.screenshot({ path: path.join(artifacts, 'api-reference.png') });

  // Nothing came from elsewhere, nothing failed.
  const foreign = requests.filter((u) => !u.startsWith(base) && !u.startsWith('data:'));
  assert.deepEqual(foreign, [], 'requests to other origins');
  assert.deepEqual(problems, [], 'console errors, failed requests or HTTP errors');
});
