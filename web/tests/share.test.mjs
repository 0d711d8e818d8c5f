// Browser tests of taking the map away: the server's pictures use the web map's own measures
// (its MapLibre expressions evaluated for every LA), "Download CSV" and "Download image" on the
// map, and printing the LA panel and the comparison view to PDF with Chromium (page.pdf),
// checked with pdftotext, pdfinfo and pdfimages from poppler-utils.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expression } from '@maplibre/maplibre-gl-style-spec';
import { start, open, csvRows, parseCsv, split, artifacts, pdfText, pdfPages, pdfImages } from './support.mjs';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.stop(); });

const api = async (p) => (await fetch(`${env.base}${p}`)).json();

/** A colour as [r, g, b] 0–255, from "#rrggbb", "rgb(…)" or a style-spec Color. */
function rgb(c) {
  if (typeof c === 'string' && c.startsWith('#')) return [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16));
  if (typeof c === 'string') return c.match(/[\d.]+/g).slice(0, 3).map(Number);
  return [c.r, c.g, c.b].map((v) => Math.round((v / (c.a || 1)) * 255));
}

function svgFills(svg) {
  const group = svg.slice(svg.indexOf('<g id="las"'), svg.indexOf('</g>', svg.indexOf('<g id="las"')));
  return Object.fromEntries([...group.matchAll(/<path data-code="(E\d{8})" fill="(#[0-9a-f]{6})"/g)].map((m) => [m[1], m[2]]));
}

function svgLegend(svg) {
  return [...svg.matchAll(/<g class="legend-item"><rect [^>]*fill="(#[0-9a-f]{6})"[^>]*\/><text [^>]*>([^<]*)<\/text><\/g>/g)].map((m) => [m[2].replace(/&amp;/g, '&').replace(/&apos;/g, "'"), m[1]]);
}

test('the server draws every LA in the colour the web map gives it, with the same legend, for every measure', async () => {
  const { page, problems, close } = await open(env.browser, `${env.base}/`);
  const measures = await page.evaluate(async () => (await import('/static/map.js')).MEASURES);
  const las = (await api('/api/las')).local_authorities;
  const noData = las.some((la) => !la.has_data);
  for (const [key, m] of Object.entries(measures)) {
    const svg = await (await fetch(`${env.base}/render/england.svg?measure=${key}&w=600`)).text();
    const fills = svgFills(svg);
    const expr = expression.createExpression(m.color, { type: 'color', 'property-type': 'data-driven', expression: { interpolated: false, parameters: ['zoom', 'feature'] } });
    assert.equal(expr.result, 'success', JSON.stringify(expr.value));
    for (const la of las) {
      // The style draws LAs without data in its own grey layer, whatever the measure.
      const want = la.has_data ? rgb(expr.value.evaluate({ zoom: 6 }, { type: 3, properties: la })) : rgb('#d4d4d4');
      assert.deepEqual(rgb(fills[la.code]), want, `${key}: ${la.name}`);
    }
    const legend = [...m.legend, ...(noData ? [['No data yet', '#d4d4d4']] : [])];
    assert.deepEqual(svgLegend(svg), legend, `${key} legend`);
    assert.ok(svg.includes(`>${m.label.replace(/'/g, '&apos;')}</text>`), `${key} legend title`);
  }
  assert.deepEqual(problems, []);
  await close();
});

test('"Download CSV" saves exactly the LAs matching the filters, with their attributes', async () => {
  const las = csvRows('local_authorities.csv');
  const codeOf = new Map(las.map((r) => [r.name, r.code]));
  const count = new Map();
  const companies = new Set();
  for (const p of csvRows('partnerships.csv')) {
    for (const n of split(p.la_names)) {
      count.set(codeOf.get(n), (count.get(codeOf.get(n)) || 0) + 1);
      if (p.form === 'school_led_company') companies.add(codeOf.get(n));
    }
  }
  const { page, problems, close } = await open(env.browser, `${env.base}/?form=school_led_company`, { acceptDownloads: true });
  assert.ok(await page.isVisible('#download-csv'));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
  assert.match(download.suggestedFilename(), /^partnership-map-las-filtered-\d{4}-\d{2}-\d{2}\.csv$/);
  const file = path.join(artifacts, 'download-las.csv');
  await download.saveAs(file);
  const rows = parseCsv(readFileSync(file, 'utf8'));
  assert.deepEqual(rows.map((r) => r.code).sort(), [...companies].sort());
  for (const r of rows) {
    assert.equal(Number(r.partnership_count), count.get(r.code) || 0, r.name);
    assert.ok(Number(r.form_school_led_company) > 0, r.name);
    assert.equal(r.name, las.find((l) => l.code === r.code).name);
  }
  assert.ok(!('bbox' in rows[0]) && 'stat_neighbours' in rows[0] && 'fsm_primary_pct' in rows[0]);
  assert.deepEqual(problems, []);
  await close();
});

/** tEXt chunks of a PNG: keyword → text. */
function pngText(buf) {
  const out = {};
  for (let at = 8; at < buf.length;) {
    const len = buf.readUInt32BE(at);
    const type = buf.subarray(at + 4, at + 8).toString('latin1');
    if (type === 'tEXt') {
      const data = buf.subarray(at + 8, at + 8 + len);
      const nul = data.indexOf(0);
      out[data.subarray(0, nul).toString('latin1')] = data.subarray(nul + 1).toString('latin1');
    }
    at += 12 + len;
  }
  return out;
}

test('"Download image" saves the current view with its legend and attribution as a PNG', async () => {
  const { page, problems, close } = await open(env.browser, `${env.base}/?measure=role`, { acceptDownloads: true });
  await page.waitForFunction(() => window.partnershipMap.map.areTilesLoaded());
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-image')]);
  assert.match(download.suggestedFilename(), /^partnership-map-england-\d{4}-\d{2}-\d{2}\.png$/);
  const file = path.join(artifacts, 'download-view.png');
  await download.saveAs(file);
  const bytes = readFileSync(file);
  const text = pngText(bytes);
  assert.match(text.Copyright, /Office for National Statistics/);
  assert.match(text.Source, /measure=role/);
  // Decode it in the page and compare with the map as drawn now.
  const legendColours = (await page.evaluate(async () => (await import('/static/map.js')).MEASURES.role.legend)).map(([, c]) => c);
  const check = await page.evaluate(async ({ b64, colours }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width; c.height = img.height;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const { map } = window.partnershipMap;
    const live = await new Promise((resolve) => {
      map.once('render', () => {
        const m = document.createElement('canvas');
        m.width = map.getCanvas().width; m.height = map.getCanvas().height;
        m.getContext('2d').drawImage(map.getCanvas(), 0, 0);
        resolve(m.getContext('2d').getImageData(0, 0, m.width, m.height));
      });
      map.triggerRepaint();
    });
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    // The top of the picture is the map: the same pixels as the live canvas.
    let same = 0; let total = 0;
    for (let y = 5; y < live.height; y += 37) {
      for (let x = 5; x < live.width; x += 41) {
        const i = (y * c.width + x) * 4; const j = (y * live.width + x) * 4;
        total += 1;
        if ([0, 1, 2].every((k) => Math.abs(data[i + k] - live.data[j + k]) <= 2)) same += 1;
      }
    }
    // Below it, the strip: every legend colour as a solid swatch, and dark text.
    const hex = (i) => `#${[0, 1, 2].map((k) => data[i + k].toString(16).padStart(2, '0')).join('')}`;
    const swatches = Object.fromEntries(colours.map((col) => [col, 0]));
    let ink = 0;
    for (let y = live.height; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const i = (y * c.width + x) * 4;
        const h = hex(i);
        if (h in swatches) swatches[h] += 1;
        if (data[i] < 110 && data[i + 1] < 110 && data[i + 2] < 110) ink += 1;
      }
    }
    return { width: c.width, height: c.height, mapWidth: live.width, mapHeight: live.height, same, total, swatches, ink };
  }, { b64: bytes.toString('base64'), colours: legendColours });
  assert.equal(check.width, check.mapWidth);
  assert.ok(check.height > check.mapHeight + 40, `a legend strip below the map (${check.height} vs ${check.mapHeight})`);
  assert.ok(check.same / check.total > 0.98, `map pixels match the view: ${check.same}/${check.total}`);
  for (const [col, n] of Object.entries(check.swatches)) assert.ok(n >= 100, `legend swatch ${col}: ${n} px`);
  assert.ok(check.ink > 1500, `attribution and legend text: ${check.ink} dark px`);
  assert.deepEqual(problems, []);
  await close();
});

test('the LA panel prints with the map picture, every partnership, sources as URLs and the data date', async () => {
  const code = 'E09000002';
  const las = csvRows('local_authorities.csv');
  const name = las.find((l) => l.code === code).name;
  const ps = csvRows('partnerships.csv').filter((p) => split(p.la_names).includes(name));
  const { page, problems, close } = await open(env.browser, `${env.base}/?la=${code}`);
  await page.waitForSelector(`#details h2:has-text("${name}")`);
  await page.waitForFunction((c) => {
    const img = document.querySelector('#print-map img');
    return img.src.includes(`/render/la/${c}.png`) && img.complete && img.naturalWidth === 1200;
  }, code, { timeout: 30000 });
  const file = path.join(artifacts, 'print-la-panel.pdf');
  await page.pdf({ path: file, format: 'A4', printBackground: true });
  const text = pdfText(file).replace(/\s+/g, ' ');
  const flat = text.replace(/ /g, '');
  assert.ok(text.includes(name), 'LA name');
  for (const p of ps) {
    assert.ok(text.includes(p.name), `partnership ${p.name}`);
    for (const u of split(p.source_urls)) assert.ok(flat.includes(u.replace(/\s/g, '')), `source URL ${u}`);
  }
  assert.match(text, /Data as of \d{4}-\d{2}-\d{2}/);
  assert.match(text, /Office for National Statistics/);
  assert.ok(!text.includes('Colour by'), 'the filters are not printed');
  const pages = pdfPages(file);
  assert.ok(pages >= 1 && pages <= 4, `${pages} pages`);
  const images = pdfImages(file);
  assert.deepEqual(images.map((i) => i.page), [1], `one picture, on page 1: ${JSON.stringify(images)}`);
  assert.deepEqual([images[0].width, images[0].height], [1200, 630], 'the server-drawn picture, not the canvas');
  assert.deepEqual(problems, []);
  await close();
});

test('the comparison view prints landscape, every LA and the partnerships behind the figures', async () => {
  const code = 'E08000025';
  const las = new Map(csvRows('local_authorities.csv').map((r) => [r.code, r]));
  const names = [code, ...split(las.get(code).stat_neighbours)].map((c) => las.get(c).name);
  const ps = csvRows('partnerships.csv').filter((p) => split(p.la_names).includes(las.get(code).name));
  const { page, problems, close } = await open(env.browser, `${env.base}/compare?la=${code}`, { waitReady: false });
  await page.waitForFunction(() => { const i = document.querySelector('.map-picture img'); return i.complete && i.naturalWidth > 0; });
  const file = path.join(artifacts, 'print-compare.pdf');
  await page.pdf({ path: file, preferCSSPageSize: true, printBackground: true });
  const text = pdfText(file).replace(/\s+/g, ' ');
  for (const n of names) assert.ok(text.includes(n), `LA ${n}`);
  for (const p of ps) assert.ok(text.includes(p.name), `partnership ${p.name}`);
  assert.ok(text.includes('What these LAs have that yours does not'));
  assert.match(text, /Printed from http:\/\/127\.0\.0\.1:\d+\/compare\?la=E08000025/);
  assert.ok(!text.includes('Update the comparison'), 'the form is not printed');
  const pages = pdfPages(file);
  assert.ok(pages >= 2 && pages <= 20, `${pages} pages`);
  const info = (await import('node:child_process')).execFileSync('pdfinfo', [file], { encoding: 'utf8' });
  const [, w, h] = info.match(/Page size:\s+([\d.]+) x ([\d.]+)/);
  assert.ok(Number(w) > Number(h), `landscape (${w} x ${h})`);
  assert.ok(pdfImages(file).some((i) => i.page === 1), 'the map picture is on the first page');
  assert.deepEqual(problems, []);
  await close();
});
