// Shared by the browser tests: start the release binary on a free loopback port, launch
// Debian's headless Chromium with the flags this machine needs (no background networking), and
// open pages that record what went wrong.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The release binary: under $CARGO_TARGET_DIR when it is set, as cargo builds it. */
export const binary = path.join(path.resolve(root, process.env.CARGO_TARGET_DIR || 'target'), 'release/partnership-map');

/** A throwaway directory for databases and files. */
export function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Start `partnership-map serve` with `args` and `env`; resolves to { server, base }. */
export async function startServer(args, env = {}) {
  const server = spawn(binary, ['serve', '--bind', '127.0.0.1:0', ...args], {
    cwd: root,
    env: { ...process.env, RUST_LOG: 'warn', ...env },
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
  return { server, base };
}

/** Headless Chromium from Debian's package. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  });
}

/** A new page (any frame of it included) that records console errors, page errors, failed
 * requests, HTTP errors and every request it makes. */
export async function recordingPage(browser, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  const problems = [];
  const requests = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on('request', (r) => requests.push(r.url()));
  return { page, problems, requests };
}

/** Waits until the map on `target` (a page or a frame) has its style and every tile in view:
 * before a navigation, so it aborts no tile request, or before reading what is drawn. */
export function mapSettled(target, options = {}) {
  return target.waitForFunction(() => window.partnershipMap.map.loaded() && window.partnershipMap.map.areTilesLoaded(), null, options);
}
