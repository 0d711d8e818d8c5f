// Browser tests of the comparison view (/compare) and link previews, in Debian's headless
// Chromium: desktop and 375 px, keyboard only, without JavaScript; "what these LAs have that
// yours does not" recomputed from the shipped CSV files. Screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { start, open, csvRows, split, artifacts } from './support.mjs';

const FORMS = ['school_led_company', 'school_led_network', 'la_convened_partnership', 'la_traded_service', 'third_party_organisation', 'phase_or_subject_network', 'cross_sector_collaboration', 'other'];
const ROLES = ['funder', 'convener', 'deliverer', 'traded_service'];
const PHASES = ['early_years', 'primary', 'secondary', 'special', 'post16', 'all'];

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

/** The data as the files state it. */
function files() {
  const las = new Map(csvRows('local_authorities.csv').map((r) => [r.code, r]));
  const codeOf = new Map([...las.values()].map((r) => [r.name, r.code]));
  const partnerships = new Map();
  for (const p of csvRows('partnerships.csv')) {
    for (const n of split(p.la_names)) {
      const c = codeOf.get(n);
      if (!partnerships.has(c)) partnerships.set(c, []);
      partnerships.get(c).push(p);
    }
  }
  const roles = new Map(csvRows('la_school_improvement.csv').map((r) => [codeOf.get(r.la_name.trim()), r]));
  // Focus tags in schema order, as the files use them (the schema lists every allowed tag).
  const has = (code, key) => {
    const ps = partnerships.get(code) || [];
    const [group, ...rest] = key.split('_');
    const tag = rest.join('_');
    if (group === 'role') return roles.get(code)?.[tag] === 'true';
    if (group === 'form') return ps.some((p) => p.form === tag);
    if (group === 'focus') return ps.some((p) => split(p.focus).includes(tag));
    if (group === 'phase') return ps.some((p) => split(p.phases).includes(tag));
    throw new Error(key);
  };
  return { las, partnerships, roles, has };
}

/** The differences rule (README), from the files: keys in table order, threshold, top 6. */
function expectedDifferences(f, subject, others, focusOrder) {
  const keys = [...ROLES.map((r) => `role_${r}`), ...FORMS.map((x) => `form_${x}`), ...focusOrder.map((x) => `focus_${x}`), ...PHASES.map((x) => `phase_${x}`)];
  const threshold = others.length <= 3 ? 1 : 2;
  return keys
    .filter((k) => !f.has(subject, k))
    .map((k) => ({ key: k, have: others.filter((o) => f.has(o, k)) }))
    .filter((d) => d.have.length >= threshold)
    .map((d, order) => ({ ...d, order }))
    .sort((a, b) => b.have.length - a.have.length || a.order - b.order)
    .slice(0, 6)
    .map((d) => d.key);
}

/** Focus tags in the order the server's schema lists them (read from docs/FIELDS.md's focus_ rows). */
async function focusOrder() {
  const tj = await (await fetch(`${env.base}/tiles.json`)).json();
  return Object.keys(tj.vector_layers[0].fields).filter((k) => k.startsWith('focus_')).map((k) => k.slice(6));
}

test('from the LA panel, "Compare with similar LAs" opens the table: neighbours in rank order, cells linked to evidence, differences from the data', async () => {
  const f = files();
  const code = 'E06000001';
  const neighbours = split(f.las.get(code).stat_neighbours);
  const { page, problems, close } = await open(env.browser, `${env.base}/?la=${code}`);
  await page.waitForSelector('#details h2:has-text("Hartlepool")');
  await page.click('#compare-similar');
  await page.waitForURL(/\/compare\?la=E06000001$/);
  const headers = await page.$$eval('table.cmp thead th', (ths) => ths.map((th) => th.querySelector('a').textContent));
  assert.deepEqual(headers, [code, ...neighbours].map((c) => f.las.get(c).name));
  // The differences list, recomputed from the files.
  const shown = await page.$$eval('#differences li', (lis) => lis.map((li) => li.dataset.key));
  assert.deepEqual(shown, expectedDifferences(f, code, neighbours, await focusOrder()));
  for (const text of await page.$$eval('#differences li', (lis) => lis.map((li) => li.textContent))) {
    assert.match(text, /^\d+ of your 10 statistical neighbours /);
  }
  // Counts per form equal the files' counts; each count's links lead to its partnerships.
  for (const form of FORMS) {
    const cells = await page.$$eval(`tr[data-key="form_${form}"] td`, (tds) => tds.map((td) => ({ v: td.querySelector('.v').textContent, refs: [...td.querySelectorAll('.refs a')].map((a) => a.getAttribute('href')) })));
    [code, ...neighbours].forEach((c, k) => {
      const want = (f.partnerships.get(c) || []).filter((p) => p.form === form).length;
      assert.equal(Number(cells[k].v), want, `${c} ${form}`);
      assert.equal(cells[k].refs.length, want, `${c} ${form} evidence links`);
    });
  }
  const link = page.locator('tr[data-key="partnership_count"] td .refs a').first();
  const href = await link.getAttribute('href');
  const name = await link.getAttribute('title');
  await link.click();
  await page.waitForFunction((h) => location.hash === h, href);
  assert.match(await page.textContent(`${href} .pname`), new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await page.evaluate(() => window.scrollTo(0, 0));
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'compare-desktop.png'), fullPage: false });
  await close();
});

test('at 375 px each row is a card naming every LA, with no sideways scrolling', async () => {
  const f = files();
  const code = 'E08000025';
  const { page, problems, close } = await open(env.browser, `${env.base}/compare?la=${code}`, { viewport: { width: 375, height: 800 }, waitReady: false });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 375, `page is ${overflow}px wide`);
  const card = await page.$eval('tr[data-key="partnership_count"]', (tr) => {
    const r = tr.getBoundingClientRect();
    return {
      display: getComputedStyle(tr).display,
      width: r.width,
      labels: [...tr.querySelectorAll('td')].map((td) => getComputedStyle(td, '::before').content),
      header: getComputedStyle(document.querySelector('table.cmp thead')).position,
    };
  });
  assert.equal(card.display, 'block');
  assert.ok(card.width <= 375 && card.width > 300, `card ${card.width}px`);
  assert.equal(card.header, 'absolute', 'the column headers are hidden visually, kept for screen readers');
  const names = [code, ...split(f.las.get(code).stat_neighbours)].map((c) => f.las.get(c).name);
  assert.deepEqual(card.labels.map((l) => l.replace(/^"|"$/g, '').replace(/" \(yours\)"?$| \(yours\)$/, '').replace(/"/g, '')), names);
  assert.deepEqual(problems, []);
  await page.screenshot({ path: path.join(artifacts, 'compare-mobile-375.png'), fullPage: false });
  await close();
});

async function tabTo(page, selector, max = 600) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('keyboard only: reach a cell, follow its evidence, and change the compared LAs with the form', async () => {
  const f = files();
  const code = 'E09000002';
  const neighbours = split(f.las.get(code).stat_neighbours);
  const { page, problems, close } = await open(env.browser, `${env.base}/compare?la=${code}`, { waitReady: false });
  await tabTo(page, '.table-wrap');
  await tabTo(page, 'tr[data-key="partnership_count"] .refs a');
  const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
  await page.keyboard.press('Enter');
  await page.waitForFunction((h) => location.hash === h, href);
  assert.ok(await page.$(`${href}:target`), 'the evidence is the target');
  // Untick the first neighbour and submit, with keys only.
  await tabTo(page, `#choose input[value="${neighbours[0]}"]`);
  await page.keyboard.press('Space');
  await tabTo(page, '#choose button[type=submit]');
  await page.keyboard.press('Enter');
  await page.waitForURL(/with=/);
  const cols = await page.$$eval('table.cmp thead th a', (as) => as.map((a) => a.getAttribute('href').slice(4)));
  assert.deepEqual(cols, [code, ...neighbours.slice(1)]);
  assert.match(await page.textContent('h1'), /compares with the 9 LAs you chose/);
  assert.deepEqual(problems, []);
  await close();
});

test('works without JavaScript: the table is server-rendered and the form adds an LA', async () => {
  const f = files();
  const code = 'E06000052';
  const { page, problems, close } = await open(env.browser, `${env.base}/compare?la=${code}`, { javaScriptEnabled: false, waitReady: false });
  assert.equal(await page.$$eval('table.cmp thead th', (ths) => ths.length), 11);
  const extra = [...f.las.keys()].find((c) => c !== code && !split(f.las.get(code).stat_neighbours).includes(c));
  await page.selectOption('#add-la', extra);
  await Promise.all([page.waitForURL(/with=/), page.click('#choose button[type=submit]')]);
  const cols = await page.$$eval('table.cmp thead th a', (as) => as.map((a) => a.getAttribute('href').slice(4)));
  assert.equal(cols.length, 12);
  assert.equal(cols[11], extra, 'the added LA, not a neighbour, comes last');
  assert.deepEqual(problems, []);
  await close();
});

/** `<meta property|name=… content=…>` tags of a page, decoded. */
function metaTags(html) {
  const out = {};
  for (const m of html.matchAll(/<meta (?:property|name)="([^"]+)" content="([^"]*)">/g)) {
    out[m[1]] = m[2].replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  }
  return out;
}

function pngSize(buf) {
  assert.equal(buf.subarray(1, 4).toString('latin1'), 'PNG');
  return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

test('link previews: /?la=, /compare?la= and /embed carry og: and twitter: tags; the image is a 1200x630 PNG', async () => {
  const f = files();
  const code = 'E09000002';
  const la = f.las.get(code);
  const count = (f.partnerships.get(code) || []).length;
  for (const [url, title] of [
    [`/?la=${code}`, `${la.name}: area-based education partnerships`],
    [`/compare?la=${code}`, `How ${la.name} compares with its 10 statistical neighbours`],
    ['/embed?measure=role', 'partnership-map: area-based education partnerships in England'],
  ]) {
    const tags = metaTags(await (await fetch(`${env.base}${url}`)).text());
    assert.equal(tags['og:title'], title, url);
    assert.ok(tags['og:description']?.length > 20, url);
    assert.equal(tags['twitter:card'], 'summary_large_image', url);
    assert.equal(tags['og:url'], `${env.base}${url.split('&')[0].replace('?measure=role', '')}`, url);
    assert.ok(tags['og:image'].startsWith(`${env.base}/render/`), tags['og:image']);
    const img = await fetch(tags['og:image']);
    assert.equal(img.status, 200, tags['og:image']);
    assert.equal(img.headers.get('content-type'), 'image/png');
    assert.deepEqual(pngSize(Buffer.from(await img.arrayBuffer())), [Number(tags['og:image:width']), Number(tags['og:image:height'])]);
    assert.deepEqual([tags['og:image:width'], tags['og:image:height']], ['1200', '630']);
  }
  const panel = metaTags(await (await fetch(`${env.base}/?la=${code}`)).text());
  assert.match(panel['og:description'], new RegExp(`^${la.region_name} · ${count} partnerships?`));
  assert.match(metaTags(await (await fetch(`${env.base}/embed?measure=role`)).text())['og:image'], /measure=role/);
});

test('link previews use --public-url for absolute addresses', async () => {
  const other = await start(['--public-url', 'https://maps.example.org']);
  try {
    const tags = metaTags(await (await fetch(`${other.base}/compare?la=E06000001`)).text());
    assert.equal(tags['og:url'], 'https://maps.example.org/compare?la=E06000001');
    assert.equal(tags['og:image'], 'https://maps.example.org/render/england.png?w=1200&h=630&la=E06000001&similar=E06000001');
  } finally {
    await other.stop();
  }
});
