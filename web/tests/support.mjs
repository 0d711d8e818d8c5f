// Shared by the browser tests of issue 14 (compare, pictures, print, downloads): start the
// release binary on a free loopback port with a throwaway database, launch Debian's Chromium
// with playwright-core, open pages that record every console error and failed request, and
// read the shipped CSV files directly (so expected values come from the data, not from code).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The release binary: under $CARGO_TARGET_DIR when it is set, as cargo builds it. */
export const binary = path.join(path.resolve(root, process.env.CARGO_TARGET_DIR || 'target'), 'release/partnership-map');
export const artifacts = path.join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

/** Start the server (with extra `args`) and Chromium; returns { base, browser, stop }. */
export async function start(args = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pm-browser-14-'));
  const server = spawn(binary, ['serve', '--bind', '127.0.0.1:0', '--db', path.join(dir, 'pm.db'), ...args], {
    cwd: root,
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`server exited (${code})`)));
    setTimeout(() => reject(new Error('server did not start')), 30000);
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
  return {
    base,
    browser,
    async stop() { await browser.close(); server.kill('SIGTERM'); },
  };
}

/** A page recording console errors, page errors, failed requests and HTTP errors. */
export async function open(browser, url, { viewport = { width: 1280, height: 800 }, javaScriptEnabled = true, waitReady = true, acceptDownloads = false } = {}) {
  const context = await browser.newContext({ viewport, javaScriptEnabled, acceptDownloads });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(url);
  if (waitReady) await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  return { page, problems, close: () => context.close() };
}

/** Rows of a shipped CSV file as objects (RFC 4180: quotes, doubled quotes, newlines in quotes). */
export function csvRows(file) {
  return parseCsv(readFileSync(path.join(root, 'data', file), 'utf8'));
}

export function parseCsv(text) {
  const rows = [];
  let row = []; let field = ''; let quoted = false;
  const s = text.replace(/^\ufeff/, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      row.push(field); field = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? ''])));
}

export const split = (v) => String(v || '').split(';').map((x) => x.trim()).filter(Boolean);

/** Text of a PDF (pdftotext from poppler-utils) and its page count (pdfinfo). */
export function pdfText(file) {
  return execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
}
export function pdfPages(file) {
  const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
  return Number(info.match(/^Pages:\s+(\d+)/m)[1]);
}
/** Images in a PDF, per page (pdfimages -list). */
export function pdfImages(file) {
  const out = execFileSync('pdfimages', ['-list', file], { encoding: 'utf8' });
  return out.split('\n').slice(2).filter(Boolean).map((l) => {
    const f = l.trim().split(/\s+/);
    return { page: Number(f[0]), width: Number(f[3]), height: Number(f[4]) };
  });
}
