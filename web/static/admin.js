// partnership-map: the research team's page. The token lives only in this tab's sessionStorage.
// The review queue ("Apply…" opens the editor on a submission), the editor (editor.js), the
// change log with undo, and conflicts between the log and the data files.
import { init as initEditor, openEditor } from './editor.js';
import { init as initVerification, load as loadVerification } from './verification.js';

const $ = (id) => document.getElementById(id);
const KEY = 'partnership-map-admin-token';
let offset = 0;
const LIMIT = 25;

function token() { return sessionStorage.getItem(KEY) || ''; }

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${token()}`, Accept: 'application/json', ...(options.headers || {}) },
  });
  if (res.status === 401) throw new Error('The token was not accepted.');
  if (res.status === 404 && path.startsWith('/api/admin')) {
    const b = await res.clone().json().catch(() => ({}));
    if ((b.error || '').includes('admin API is off')) throw new Error(b.error);
  }
  return res;
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text); // text only, never HTML
  return td;
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

function fail(e) { $('error').textContent = e.message; }

async function loadQueue() {
  const status = $('status').value;
  const res = await api(`/api/admin/submissions?status=${encodeURIComponent(status)}&limit=${LIMIT}&offset=${offset}`);
  const page = await res.json();
  if (!res.ok) throw new Error(page.error || res.statusText);
  $('summary').textContent = `${page.total} submission(s); showing ${page.items.length ? offset + 1 : 0}–${offset + page.items.length}.`;
  const tbody = $('items').tBodies[0];
  tbody.replaceChildren();
  for (const s of page.items) {
    const tr = document.createElement('tr');
    tr.dataset.reference = s.reference;
    const settled = s.change_id ? ` (change ${s.change_id})` : '';
    tr.append(cell(s.reference), cell(s.la_code + (s.partnership_id ? ` / ${s.partnership_id}` : '')), cell(s.kind), cell(s.message),
      cell([s.name, s.organisation, s.email].filter(Boolean).join(', ') || '(deleted)'),
      cell(s.status + settled + (s.review_note ? `: ${s.review_note}` : '') + (s.reviewed_by ? ` — ${s.reviewed_by}` : '')));
    const td = document.createElement('td');
    td.append(button('Apply…', () => openEditor({
      la: s.la_code,
      partnership: s.partnership_id || '',
      kind: s.kind === 'verification' ? 'la.verify' : (s.kind === 'la_role' ? 'la_role.set' : (s.kind === 'new_partnership' ? 'partnership.create' : (s.partnership_id ? 'partnership.update' : 'la_role.set'))),
      submission: s.reference,
    }).catch(fail)), ' ');
    for (const st of ['rejected', 'duplicate']) td.append(button(st, () => review(s.reference, st).catch(fail)), ' ');
    tr.append(td);
    tbody.append(tr);
  }
  $('prev').disabled = offset === 0;
  $('next').disabled = page.next_offset == null;
}

async function review(ref, status) {
  const note = prompt(`Note for ${ref} (${status}):`, '') ?? '';
  const res = await api(`/api/admin/submissions/${ref}/review`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status, note }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  await loadQueue();
}

async function loadLog() {
  const res = await api('/api/admin/changes?limit=100');
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  const tbody = $('changes').tBodies[0];
  tbody.replaceChildren();
  for (const c of body.changes) {
    const tr = document.createElement('tr');
    tr.dataset.change = c.id;
    const undo = button('Undo…', () => revert(c).catch(fail));
    undo.setAttribute('aria-label', `Undo change ${c.id}`);
    const td = document.createElement('td');
    td.append(undo);
    tr.append(cell(c.id), cell(c.created_at.replace('T', ' ').replace('Z', ' UTC')), cell(c.editor), cell(c.summary), cell(c.reason), td);
    tbody.append(tr);
  }
  const res2 = await api('/api/admin/conflicts');
  const conflicts = await res2.json();
  const box = $('conflicts');
  box.replaceChildren();
  if (conflicts.count) {
    const h = document.createElement('h3');
    h.textContent = `${conflicts.count} logged change(s) do not apply to the current data files`;
    const ul = document.createElement('ul');
    for (const k of conflicts.conflicts) {
      const li = document.createElement('li');
      li.textContent = `Change ${k.change} (${k.summary}): ${Object.entries(k.problems).map(([f, m]) => `${f}: ${m}`).join('; ')}`;
      ul.append(li);
    }
    box.className = 'error-summary';
    box.append(h, ul);
  }
}

async function revert(c) {
  const reason = prompt(`Why undo change ${c.id} (${c.summary})? The reason is public.`, '');
  if (!reason) return;
  const url = `/api/admin/changes/${c.id}/revert`;
  const opts = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ reason }) };
  const pre = await api(`${url}?dry_run=true`, opts);
  const p = await pre.json();
  if (!pre.ok) throw new Error(p.error);
  const lines = p.changes.map((f) => `${f.field}: ${JSON.stringify(f.old)} → ${JSON.stringify(f.new)}`).join('\n');
  if (!window.confirm(`${p.summary}\n\n${lines}\n\nPublish this undo?`)) return;
  const res = await api(url, opts);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error);
  $('summary').textContent = `Published change ${body.change}: ${body.summary}.`;
  await loadLog();
}

async function loadAll() {
  $('error').textContent = '';
  // aria-busy until the queue, the change log and the conflicts have all loaded.
  $('workspace').setAttribute('aria-busy', 'true');
  try {
    await loadQueue();
    $('workspace').hidden = false;
    await loadLog();
    await loadVerification();
  } catch (e) { fail(e); } finally { $('workspace').setAttribute('aria-busy', 'false'); }
}

$('token-form').addEventListener('submit', (e) => { e.preventDefault(); sessionStorage.setItem(KEY, $('token').value); $('token').value = ''; offset = 0; loadAll(); });
$('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); $('workspace').hidden = true; });
$('status').addEventListener('change', () => { offset = 0; loadQueue().catch(fail); });
$('refresh').addEventListener('click', () => loadAll());
$('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); loadQueue().catch(fail); });
$('next').addEventListener('click', () => { offset += LIMIT; loadQueue().catch(fail); });
$('export').addEventListener('click', async () => {
  try {
    const res = await api(`/api/admin/submissions.csv?status=${encodeURIComponent($('status').value)}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url; a.download = 'partnership-map-submissions.csv'; a.click();
    URL.revokeObjectURL(url);
  } catch (e) { fail(e); }
});
$('reload').addEventListener('click', async () => {
  try {
    const res = await api('/admin/reload', { method: 'POST' });
    const body = await res.json();
    $('summary').textContent = res.ok
      ? `Reloaded: data version ${body.data_version}, data as of ${body.data_as_of || 'unknown'}; ${body.changes.applied} logged change(s) applied, ${body.changes.conflicts.length} in conflict.`
      : `Reload refused, still serving ${body.data_version}: ${(body.problems || []).join(' | ')}`;
    await loadLog();
  } catch (e) { fail(e); }
});
document.addEventListener('partnership-map:published', () => { loadAll(); });

initEditor(api);
initVerification(api, fail);
// /admin?la=CODE[&partnership=ID][&kind=…][&submission=PM-…][&verification=VR-…] opens the editor there.
const params = new URLSearchParams(location.search);
if (token()) {
  loadAll().then(() => {
    if (params.get('la')) {
      openEditor({ la: params.get('la'), partnership: params.get('partnership') || '', kind: params.get('kind') || '', submission: params.get('submission') || '', verification: params.get('verification') || '' }).catch(fail);
    }
  });
}
