// Invitation mails on /admin, in real headless Chromium: the release binary runs with --smtp-url
// pointing at a port where no SMTP server listens yet. The team starts a round for 3 LAs with an
// address for each (the addresses box); the round is created, and the Mail column lists the 3
// failures with the SMTP client's reason. The test then starts a real SMTP server on that port
// (python -m aiosmtpd from the test venv, writing a Maildir), the team presses "Retry failed
// mails", and 3 mails arrive, each to its LA's address with a link that opens that LA's page.
// axe-core finds no violation on /admin with the failures shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { launchBrowser, root, startServer, tempDir } from './helpers.mjs';

const AXE = readFileSync(path.join(root, 'web/node_modules/axe-core/axe.min.js'), 'utf8');
const TOKEN = 'verification-mail-browser-token-0123456789';
const PLYMOUTH = 'E06000026';
const PYTHON = process.env.PARTNERSHIP_MAP_GDAL_PYTHON || path.join(root, 'target/gdal-venv/bin/python');
const address = (code) => `officer.${code.toLowerCase()}@council.example.org`;
let dir;
let port;
let server;
let base;
let browser;
let smtp;

/** A free loopback port (bound, then released). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/** Whether an SMTP server greets on `port` (its 220 line). */
function greets(p) {
  return new Promise((resolve) => {
    const s = net.connect(p, '127.0.0.1');
    s.setTimeout(2000);
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('220')); });
    s.once('error', () => resolve(false));
    s.once('timeout', () => { s.destroy(); resolve(false); });
  });
}

/** `python -m aiosmtpd` on `port`, writing to the Maildir `maildir`; fails the test if it does not start. */
async function startSmtp(maildir) {
  const child = spawn(PYTHON, ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = null;
  child.on('exit', (code) => { exited = code; });
  child.on('error', (e) => { exited = e.message; });
  const deadline = Date.now() + 20000;
  while (!(await greets(port))) {
    assert.equal(exited, null, `aiosmtpd exited (${exited}): is it in the test venv (${PYTHON})?`);
    assert.ok(Date.now() < deadline, 'aiosmtpd did not listen within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

/** The mails in `maildir`, decoded by Python's mailbox and email modules. */
function mails(maildir) {
  const script = [
    'import json, mailbox, sys',
    'print(json.dumps([{"rcpt": m["X-RcptTo"], "subject": m["Subject"], "body": m.get_payload(decode=True).decode(m.get_content_charset() or "us-ascii")}',
    '                  for _, m in mailbox.Maildir(sys.argv[1], create=False).items()]))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script, maildir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(async () => {
  dir = tempDir('pm-verification-mail-');
  port = await freePort();
  const tokens = path.join(dir, 'editors.tsv');
  writeFileSync(tokens, `# name<TAB>token\nAsha Patel\t${TOKEN}\n`);
  ({ server, base } = await startServer(['--max-zoom', '8', '--db', path.join(dir, 'pm.db'), '--admin-tokens-file', tokens,
    '--smtp-url', `smtp://127.0.0.1:${port}`, '--mail-from', 'Research team <research@map.example.org>']));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  smtp?.kill('SIGTERM');
});

test('failed invitation mails are listed on /admin and the retry button mails fresh links', async () => {
  const las = (await (await fetch(`${base}/api/las`)).json()).local_authorities;
  const chosen = [...las.map((l) => l.code).filter((c) => c !== PLYMOUTH).slice(0, 2), PLYMOUTH];
  const nameOf = (code) => las.find((l) => l.code === code).name;

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const ap = await context.newPage();
  const problems = [];
  ap.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await ap.goto(`${base}/admin`);
  await ap.fill('#token', TOKEN);
  await ap.keyboard.press('Enter');
  await ap.waitForSelector('#workspace[aria-busy=false]:not([hidden])');
  await ap.fill('#vr-name', 'Mail round');
  await ap.check('#vr-chosen');
  await ap.selectOption('#vr-las', chosen);
  await ap.fill('#vr-recipients', chosen.map((c) => `${c} ${address(c)}`).join('\n'));
  const [download] = await Promise.all([ap.waitForEvent('download'), ap.click('#vr-form button[type=submit]')]);
  assert.ok(readFileSync(await download.path(), 'utf8').includes('/verify/'), 'the mail merge still comes');

  // No SMTP server yet: the round exists and its Mail cell lists the 3 failures with reasons.
  const row = ap.locator('#vr-campaigns tbody tr').first();
  await row.locator('text=0 sent, 3 failed').waitFor();
  const failures = await row.locator('ul.mail-failures li').allTextContents();
  assert.equal(failures.length, 3, failures.join('\n'));
  for (const code of chosen) {
    const line = failures.find((f) => f.startsWith(`${nameOf(code)}: `));
    assert.ok(line, `a failure for ${nameOf(code)}: ${failures.join(' | ')}`);
    assert.match(line, /connection/i);
    assert.ok(!line.includes(address(code)), 'no address on the page');
  }
  await ap.evaluate(AXE);
  const violations = (await ap.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }))).violations;
  assert.deepEqual(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), []);

  // The SMTP server starts; the retry button mails 3 fresh links.
  const maildir = path.join(dir, 'maildir');
  smtp = await startSmtp(maildir);
  await row.getByRole('button', { name: 'Retry failed mails of Mail round' }).click();
  await ap.waitForSelector('#vr-created:has-text("3 mail(s) retried")');
  assert.match(await ap.textContent('#vr-created'), /3 sent, 0 failed again/);
  await ap.locator('#vr-campaigns tbody tr').first().locator('text=3 sent, 0 failed').waitFor();
  const got = mails(maildir);
  assert.equal(got.length, 3);
  for (const code of chosen) {
    const m = got.find((x) => x.rcpt === address(code));
    assert.ok(m, `a mail to ${code}'s address`);
    assert.equal(m.subject, `Please check what the partnership map says about ${nameOf(code)}`);
    const link = m.body.match(/http:\/\/[0-9.:]+\/verify\/[A-Za-z0-9_-]{43}/)?.[0];
    assert.ok(link, m.body);
    const page = await fetch(link);
    assert.equal(page.status, 200, link);
    const html = await page.text();
    assert.ok(html.includes(`<h1>Check what the map says about ${nameOf(code).replace(/&/g, '&amp;')}</h1>`), `${code}'s page`);
  }
  assert.deepEqual(problems, []);
  await context.close();
});
