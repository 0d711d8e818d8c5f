// Browser test of "Map as of": the web map's date control, in real headless Chromium against the
// release binary. Setting the date to a vesting day (from /api/reorganisations, never written
// down here) redraws the map with that day's councils (as many as /api/las?date= counts), the
// panel of a new council says which councils it replaces, a council abolished that day says
// which replaced it, the URL and the share link keep the date, a reload restores it, and "Today"
// brings back today's councils with no date in the URL.
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
// From the server: today, the first vesting date, what it makes and abolishes, and the counts.
let today;
let vesting;
let onDay;
let onToday;

async function api(p) {
  const r = await fetch(`${base}${p}`);
  assert.equal(r.status, 200, `${p}: HTTP ${r.status}`);
  return r.json();
}

before(async () => {
  const dir = tempDir('pm-timeline-');
  ({ server, base } = await startServer(['--db', path.join(dir, 'pm.db')]));
  browser = await launchBrowser();
  const reorg = await api('/api/reorganisations');
  today = reorg.today;
  vesting = reorg.vesting_dates.find((v) => v.date > today);
  assert.ok(vesting, `a vesting date after today (${today}) in ${JSON.stringify(reorg.vesting_dates.map((v) => v.date))}`);
  onDay = await api(`/api/las?date=${vesting.date}`);
  onToday = await api('/api/las');
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

const LONG = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const longDate = (day) => { const [y, m, d] = day.split('-').map(Number); return LONG.format(new Date(Date.UTC(y, m - 1, d))); };
const dayBefore = (day) => { const [y, m, d] = day.split('-').map(Number); return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10); };
const codesOf = (list) => list.local_authorities.map((la) => la.code).sort();

async function open(url, viewport = { width: 1280, height: 800 }) {
  const { page, problems } = await recordingPage(browser, viewport);
  await page.goto(`${base}${url}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  return { page, problems };
}

/** Waits until the map shows `day` and its tiles are in, then returns the LA codes in the
 * loaded tiles. `day` is all England's councils of the day when the view is all England, or
 * some of them when it is zoomed in (`whole` false). */
async function shownCodes(page, day, want, { whole = true } = {}) {
  await page.waitForSelector(`body[data-shown="${day}"]`, { timeout: 60000 });
  await mapSettled(page, { timeout: 60000 });
  // Tiles of the old day may still be swapping out: wait until the codes drawn are the day's.
  await page.waitForFunction(([expected, all]) => {
    const m = window.partnershipMap.map;
    const got = [...new Set(m.querySourceFeatures('partnership-map', { sourceLayer: 'local_authorities' }).map((f) => f.properties.code))].sort();
    return all ? JSON.stringify(got) === JSON.stringify(expected) : got.length > 0 && got.every((c) => expected.includes(c));
  }, [want, whole], { timeout: 30000 }).catch(() => {});
  return page.evaluate(() => [...new Set(window.partnershipMap.map.querySourceFeatures('partnership-map', { sourceLayer: 'local_authorities' }).map((f) => f.properties.code))].sort());
}

/** The councils drawn in a zoomed-in view of `day`: all of them councils of that day. */
async function someShown(page, day, want) {
  const drawn = await shownCodes(page, day, want, { whole: false });
  assert.ok(drawn.length > 0, `${day}: nothing drawn`);
  const strays = drawn.filter((c) => !want.includes(c));
  assert.deepEqual(strays, [], `${day}: councils drawn that are not in force then`);
  return drawn;
}

test('the date control shows a vesting day: its councils, the new council\'s history, a URL and share link that keep the date', async () => {
  const { page, problems } = await open('/');
  // Today first: no date in the URL, the control on today, today's councils drawn.
  assert.equal(new URL(page.url()).searchParams.get('date'), null);
  assert.equal(await page.inputValue('#map-date'), today);
  assert.deepEqual(await shownCodes(page, today, codesOf(onToday)), codesOf(onToday));
  // The vesting dates are marked, from the server.
  await page.waitForSelector(`#date-marks button[data-day="${vesting.date}"]`);
  const mark = await page.textContent(`#date-marks button[data-day="${vesting.date}"]`);
  assert.match(mark, new RegExp(longDate(vesting.date)));

  // Set the date with the native date input.
  await page.fill('#map-date', vesting.date);
  const drawn = await shownCodes(page, vesting.date, codesOf(onDay));
  assert.equal(drawn.length, onDay.count, `the map draws ${drawn.length} councils, /api/las?date=${vesting.date} counts ${onDay.count}`);
  assert.deepEqual(drawn, codesOf(onDay));
  for (const n of vesting.new) assert.ok(drawn.includes(n.code), `${n.name} is drawn`);
  for (const a of vesting.abolished) assert.ok(!drawn.includes(a.code), `${a.name} is not drawn`);
  assert.equal(await page.textContent('#match-count'), `${onDay.count} of ${onDay.count} LAs match`);
  assert.equal(new URL(page.url()).searchParams.get('date'), vesting.date);
  assert.match(await page.textContent('#date-shown'), new RegExp(`councils of ${longDate(vesting.date)}`));
  assert.match(await page.textContent('#legend'), new RegExp(`Councils as of ${longDate(vesting.date)}`));
  assert.equal(await page.getAttribute(`#date-marks button[data-day="${vesting.date}"]`, 'aria-pressed'), 'true');

  // The panel of a new council: what it replaces and until when, inherited records marked.
  const made = vesting.new[0];
  const detail = await api(`/api/las/${made.code}?date=${vesting.date}`);
  await page.fill('#search', made.name);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#details h2:has-text("${made.name}")`);
  await page.waitForSelector('#details .replaces');
  const replaces = (await page.textContent('#details .replaces')).replace(/\s+/g, ' ');
  const lastDay = longDate(dayBefore(vesting.date));
  for (const r of detail.history.replaces) assert.match(replaces, new RegExp(`Replaces .*${r.name}.* \\(until ${lastDay}\\)`));
  const inherited = (detail.role?.inherited_from ? 1 : 0) + detail.partnerships.filter((p) => p.inherited_from).length;
  assert.ok(inherited > 0, 'the new council inherits something to mark');
  const marks = await page.$$eval('#details .inherited', (ps) => ps.map((p) => p.textContent));
  assert.equal(marks.length, inherited);
  for (const m of marks) assert.match(m, /^Inherited from .+, not yet confirmed for the new council\.$/);
  if (detail.neighbours_status === 'not_yet_published') {
    assert.match(await page.textContent('#details'), /Statistical neighbours: not yet published/);
  }
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('date'), vesting.date);
  assert.equal(url.searchParams.get('la'), made.code);

  // The share dialog offers this view: the same day and council.
  await page.click('#open-share');
  await page.waitForSelector('#share[open]');
  const shared = new URL(await page.inputValue('#share-url'));
  assert.equal(shared.searchParams.get('date'), vesting.date);
  assert.equal(shared.searchParams.get('la'), made.code);
  assert.match(await page.inputValue('#share-embed'), new RegExp(`date=${vesting.date}`));
  await page.keyboard.press('Escape');

  // A reload of the URL restores the day, the control and the panel.
  await mapSettled(page);
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { timeout: 60000 });
  // The view is the new council's (the URL keeps it too).
  assert.ok((await someShown(page, vesting.date, codesOf(onDay))).includes(made.code));
  assert.equal(await page.inputValue('#map-date'), vesting.date);
  await page.waitForSelector(`#details h2:has-text("${made.name}")`);
  await page.waitForSelector('#details .replaces');
  assert.equal(await page.textContent('#match-count'), `${onDay.count} of ${onDay.count} LAs match`);
  await page.screenshot({ path: path.join(artifacts, 'timeline-new-council.png') });

  // Its predecessor's link goes to the predecessor's last day, where it is still in force and
  // due to be replaced.
  const gone = vesting.abolished[0];
  await page.click(`#details .replaces a[data-la="${gone.code}"]`);
  const lastDayCodes = codesOf(await api(`/api/las?date=${dayBefore(vesting.date)}`));
  assert.ok((await someShown(page, dayBefore(vesting.date), lastDayCodes)).includes(gone.code), `${gone.name} drawn on its last day`);
  await page.waitForSelector(`#details h2:has-text("${gone.name}")`);
  await page.waitForSelector('#details .replaced-by');
  assert.match(await page.textContent('#details .replaced-by'), new RegExp(`^To be replaced by .* on ${longDate(vesting.date)}\\.$`));
  assert.equal(new URL(page.url()).searchParams.get('date'), dayBefore(vesting.date));
  assert.equal(new URL(page.url()).searchParams.get('la'), gone.code);
  await mapSettled(page);
  assert.deepEqual(problems, []);
  await page.close();
});

test('an abolished council on the vesting day says which councils replaced it; "Today" brings it back', async () => {
  const gone = vesting.abolished[0];
  const successors = vesting.new.filter((n) => n.replaces.some((r) => r.code === gone.code));
  const { page, problems } = await open(`/?date=${vesting.date}&la=${gone.code}`);
  assert.deepEqual(await shownCodes(page, vesting.date, codesOf(onDay)), codesOf(onDay));
  await page.waitForSelector(`#details h2:has-text("${gone.name}")`);
  await page.waitForSelector('#details .replaced-by');
  const text = (await page.textContent('#details .replaced-by')).replace(/\s+/g, ' ');
  assert.match(text, new RegExp(`^Replaced by .* on ${longDate(vesting.date)}\\.$`));
  for (const s of successors) assert.ok(text.includes(s.name), `${text} names ${s.name}`);
  const links = await page.$$eval('#details .replaced-by a', (as) => as.map((a) => ({ la: a.dataset.la, href: a.href })));
  assert.deepEqual(links.map((l) => l.la).sort(), successors.map((s) => s.code).sort());
  for (const l of links) {
    const u = new URL(l.href);
    assert.equal(u.searchParams.get('date'), vesting.date);
    assert.equal(u.searchParams.get('la'), l.la);
  }
  assert.match(await page.textContent('#details'), new RegExp(`was in force until ${longDate(dayBefore(vesting.date))}`));
  await page.screenshot({ path: path.join(artifacts, 'timeline-abolished-council.png') });

  // Back to today: the council is in force again, and the URL has no date.
  await mapSettled(page);
  await page.click(`#date-marks button[data-day="${today}"]`);
  const drawn = await shownCodes(page, today, codesOf(onToday));
  assert.deepEqual(drawn, codesOf(onToday));
  assert.ok(drawn.includes(gone.code), `${gone.name} is drawn today`);
  assert.equal(new URL(page.url()).searchParams.get('date'), null);
  assert.equal(new URL(page.url()).searchParams.get('la'), gone.code);
  assert.equal(await page.inputValue('#map-date'), today);
  assert.equal(await page.textContent('#match-count'), `${onToday.count} of ${onToday.count} LAs match`);
  await page.waitForSelector('#details .replaced-by:has-text("To be replaced by")');
  assert.match(await page.textContent('#details .meta'), new RegExp(onToday.local_authorities.find((la) => la.code === gone.code).region));
  // Browser history goes back to the vesting day.
  await mapSettled(page);
  await page.goBack();
  assert.deepEqual(await shownCodes(page, vesting.date, codesOf(onDay)), codesOf(onDay));
  assert.equal(await page.inputValue('#map-date'), vesting.date);
  await mapSettled(page);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a day with no map falls back to today and says so', async () => {
  const { page, problems } = await open('/?date=2020-01-01');
  assert.deepEqual(await shownCodes(page, today, codesOf(onToday)), codesOf(onToday));
  assert.equal(new URL(page.url()).searchParams.get('date'), null);
  assert.match(await page.textContent('#date-shown'), /There is no map for 2020-01-01/);
  await mapSettled(page);
  assert.deepEqual(problems, []);
  await page.close();
});
