// partnership-map: verification rounds on /admin. Start a round (the mail merge is downloaded at
// once: its links are shown only then; with --smtp-url the server also mails them to the
// addresses given), follow each round's counts, mails (failures listed and retried) and files, and review the
// LAs' answers side by side with what the map says: accept (records la.verify), open a requested
// change in the editor (linked to the answer), or close. Text is only ever inserted with
// textContent; the API is called with the editor's token through `api`.
import { openEditor } from './editor.js';

const $ = (id) => document.getElementById(id);
const STATUSES = ['invited', 'opened', 'responded', 'verified', 'closed', 'expired', 'revoked'];
const VERDICTS = { correct: 'Correct', change: 'Needs a change', gone: 'No longer exists' };

let api = null;
let fail = () => {};
let lasLoaded = false;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function button(text, onClick, label) {
  const b = el('button', text);
  b.type = 'button';
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', () => onClick().catch(fail));
  return b;
}

const day = (t) => (t || '').slice(0, 10);

/** Save `blob` as `name` (the browser's download). */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function download(path, name) {
  const res = await api(path);
  if (!res.ok) throw new Error((await res.json()).error || res.statusText);
  save(await res.blob(), name);
}

async function fillLas() {
  if (lasLoaded) return;
  const body = await (await fetch('/api/las')).json();
  const sel = $('vr-las');
  const las = body.local_authorities.map((l) => [l.code, l.name]).sort((a, b) => a[1].localeCompare(b[1]));
  sel.replaceChildren(...las.map(([code, name]) => { const o = el('option', name); o.value = code; return o; }));
  lasLoaded = true;
}

function fieldError(name, message) {
  const p = $(`vr-${name}-error`);
  const input = $(`vr-${name}`);
  if (!p || !input) return false;
  p.textContent = message;
  p.hidden = false;
  input.setAttribute('aria-invalid', 'true');
  return true;
}

function clearErrors() {
  for (const p of document.querySelectorAll('#vr-form .error')) { p.hidden = true; p.textContent = ''; }
  for (const i of document.querySelectorAll('#vr-form [aria-invalid]')) i.removeAttribute('aria-invalid');
}

/** `{code: address}` from the lines "CODE address" of the addresses box, or null if empty. */
function recipients() {
  const out = {};
  for (const line of $('vr-recipients').value.split('\n')) {
    const [code, ...rest] = line.trim().split(/[\s,;]+/);
    if (code) out[code.toUpperCase()] = rest.join(' ');
  }
  return Object.keys(out).length ? out : null;
}

async function create(e) {
  e.preventDefault();
  clearErrors();
  const chosen = document.querySelector('input[name="vr-scope"]:checked').value === 'chosen';
  const body = {
    name: $('vr-name').value.trim(),
    las: chosen ? [...$('vr-las').selectedOptions].map((o) => o.value) : 'all',
    contact_role: $('vr-role').value.trim() || null,
    expires_in_days: Number($('vr-days').value),
  };
  const to = recipients();
  if (to) body.recipients = to;
  const res = await api('/api/verification/campaigns?format=csv', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!res.ok) {
    const out = await res.json();
    const fields = out.fields || {};
    const shown = Object.entries(fields).filter(([k, m]) => fieldError({ name: 'name', las: 'las', expires_in_days: 'days' }[k] || k, m));
    if (!shown.length) throw new Error(out.error);
    document.querySelector('#vr-form [aria-invalid]')?.focus();
    return;
  }
  const csv = await res.blob();
  const text = await csv.text();
  const rows = Math.max(0, text.trim().split('\n').length - 1);
  save(csv, `verification-mail-merge-${body.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase() || 'round'}.csv`);
  const done = $('vr-created');
  done.replaceChildren(`Round “${body.name}” started: ${rows} link(s). The mail merge has been downloaded; keep it safe, its links are shown only now. `);
  const again = el('a', 'Download it again');
  again.href = URL.createObjectURL(csv);
  again.download = 'verification-mail-merge.csv';
  done.append(again);
  done.focus();
  $('vr-form').reset();
  await load();
}

/** What the server's mail did for a round: counts, each failure and its reason, and a retry. */
function mailCell(c) {
  const td = el('td');
  const mailed = c.invitations.filter((i) => i.has_recipient);
  if (!mailed.length) {
    td.textContent = 'Not mailed';
    return td;
  }
  const n = (s) => mailed.filter((i) => i.mail_status === s).length;
  td.append(el('span', `${n('sent')} sent, ${n('failed')} failed${n('not_sent') ? `, ${n('not_sent')} not sent` : ''}`));
  const failed = mailed.filter((i) => i.mail_status === 'failed');
  if (!failed.length) return td;
  const ul = el('ul', null, 'mail-failures');
  for (const i of failed) ul.append(el('li', `${i.la_name}: ${i.mail_error || 'no reason given'}`));
  td.append(ul, button('Retry failed mails', async () => {
    const res = await api(`/api/verification/campaigns/${c.id}/mail/retry`, { method: 'POST' });
    const out = await res.json();
    if (!res.ok) throw new Error(out.error);
    const done = $('vr-created');
    done.textContent = `“${c.name}”: ${out.retried} mail(s) retried with fresh links (the old ones stop working): ${out.sent} sent, ${out.failed} failed again.`;
    done.focus();
    await load();
  }, `Retry failed mails of ${c.name}`));
  return td;
}

function campaignRow(c) {
  const tr = el('tr');
  tr.dataset.campaign = c.id;
  const th = el('th', c.name);
  th.scope = 'row';
  tr.append(th, el('td', day(c.created_at)));
  for (const s of STATUSES) tr.append(el('td', String(c.counts[s] ?? 0)));
  tr.append(mailCell(c));
  const td = el('td');
  td.append(
    button('Status CSV', () => download(`/api/verification/campaigns/${c.id}/status.csv`, `verification-${c.id}-status.csv`), `Status CSV of ${c.name}`), ' ',
    button('Reminder list', () => download(`/api/verification/campaigns/${c.id}/reminders.csv`, `verification-${c.id}-reminders.csv`), `Reminder list of ${c.name}`), ' ',
    button('Fresh links', async () => {
      if (!window.confirm(`Issue fresh links for every council of “${c.name}” that has not answered? Their old links stop working.`)) return;
      const res = await api(`/api/verification/campaigns/${c.id}/links?format=csv`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      if (!res.ok) throw new Error((await res.json()).error);
      save(await res.blob(), `verification-${c.id}-fresh-links.csv`);
      await load();
    }, `Fresh links for ${c.name}`),
  );
  tr.append(td);
  return tr;
}

function itemRow(a, it) {
  const tr = el('tr');
  tr.dataset.item = it.key;
  const th = el('th', it.title);
  th.scope = 'row';
  const said = el('td');
  for (const line of it.shown.lines) said.append(el('p', line));
  if (it.shown.sources.length) {
    const ul = el('ul', null, 'sources');
    for (const u of it.shown.sources) ul.append(el('li', u));
    said.append(ul);
  }
  if (!it.now) said.append(el('p', 'No longer on the map.', 'hint'));
  const answer = el('td');
  answer.append(el('p', VERDICTS[it.verdict] || it.verdict, `verdict ${it.verdict}`));
  if (it.message) answer.append(el('p', it.message));
  if (it.verdict !== 'correct' && !a.answer.outcome) {
    const url = new URL(it.editor_link, location.origin);
    answer.append(button('Open in the editor', () => openEditor({
      la: url.searchParams.get('la'),
      kind: url.searchParams.get('kind'),
      partnership: url.searchParams.get('partnership') || '',
      verification: a.answer.reference,
      asked: it.message || (it.verdict === 'gone' ? 'This no longer exists.' : ''),
    }), `Open in the editor: ${it.title}`));
  }
  tr.append(th, said, answer);
  return tr;
}

function answerBlock(a) {
  const art = el('article', null, 'vr-answer');
  art.dataset.reference = a.answer.reference;
  const h = el('h4', `${a.la_name}: answer ${a.answer.reference} of ${day(a.answer.updated_at)}`);
  h.id = `vr-${a.answer.reference}`;
  art.setAttribute('aria-labelledby', h.id);
  art.append(h);
  art.append(el('p', `From ${a.answer.name || '(deleted)'}${a.answer.job_title ? `, ${a.answer.job_title}` : ''}. ${a.all_confirmed ? 'Everything confirmed.' : `${a.requested_changes} change(s) asked for.`}`));
  const table = el('table');
  table.append(el('caption', 'What the map says and what the LA says'));
  const head = el('tr');
  for (const t of ['Item', 'What the map said', "The LA's answer"]) { const c = el('th', t); c.scope = 'col'; head.append(c); }
  const thead = el('thead');
  thead.append(head);
  const tbody = el('tbody');
  for (const it of a.items) tbody.append(itemRow(a, it));
  table.append(thead, tbody);
  art.append(table);
  if (a.answer.missing) {
    const p = el('p', `Missing, says the LA: ${a.answer.missing} `);
    p.append(button('Add a partnership in the editor', () => openEditor({
      la: a.answer.la_code, kind: 'partnership.create', verification: a.answer.reference, asked: a.answer.missing,
    }), `Add a partnership in the editor (${a.la_name})`));
    art.append(p);
  }
  if (a.answer.changes.length) art.append(el('p', `Linked changes: ${a.answer.changes.map((c) => `#${c}`).join(', ')}.`, 'linked'));
  const bar = el('div', null, 'toolbar');
  const settle = async (path, body) => {
    const res = await api(`/api/verification/responses/${a.answer.reference}/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const out = await res.json();
    if (!res.ok) throw new Error(out.error || Object.values(out.fields || {}).join(' '));
    $('vr-created').textContent = path === 'accept'
      ? `${a.la_name} is verified (change ${out.change}: ${out.summary}).`
      : `${a.answer.reference} closed without a verification.`;
    $('vr-created').focus();
    document.dispatchEvent(new CustomEvent('partnership-map:published', { detail: out }));
  };
  if (a.all_confirmed) {
    bar.append(button('Accept: record the verification', () => settle('accept', {}), `Accept: record the verification (${a.answer.reference}, ${a.la_name})`));
  } else {
    bar.append(button('Accept: the changes are handled', async () => {
      if (!window.confirm(`Have you published every change ${a.la_name} asked for? Accepting records that ${a.la_name} verified its summary on ${day(a.answer.updated_at)}.`)) return;
      await settle('accept', { changes_handled: true });
    }, `Accept: the changes are handled (${a.answer.reference}, ${a.la_name})`));
  }
  bar.append(button('Close without verifying', async () => {
    const note = prompt(`Why close ${a.answer.reference} without a verification? (seen by editors only)`, '');
    if (note == null) return;
    await settle('close', { note });
  }, `Close without verifying (${a.answer.reference}, ${a.la_name})`));
  art.append(bar);
  return art;
}

/** Load the rounds and the answers waiting for review. */
export async function load() {
  await fillLas();
  const res = await api('/api/verification/campaigns');
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  $('vr-campaigns').tBodies[0].replaceChildren(...body.campaigns.map(campaignRow));
  const res2 = await api('/api/verification/responses');
  const answers = await res2.json();
  if (!res2.ok) throw new Error(answers.error);
  const box = $('vr-answers');
  box.replaceChildren(...(answers.responses.length ? answers.responses.map(answerBlock) : [el('p', 'No answers waiting.', 'hint')]));
}

/** Wire up the section; `apiFn` sends authorised requests, `failFn` shows an error. */
export function init(apiFn, failFn) {
  api = apiFn;
  fail = failFn;
  $('vr-form').addEventListener('submit', (e) => create(e).catch(fail));
}
