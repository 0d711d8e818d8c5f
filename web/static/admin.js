// partnership-map: the review queue. The token lives only in this tab's sessionStorage.
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
    const b = await res.json().catch(() => ({}));
    throw new Error(b.error || 'Not found.');
  }
  return res;
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text); // text only, never HTML
  return td;
}

async function load() {
  $('error').textContent = '';
  try {
    const status = $('status').value;
    const res = await api(`/api/admin/submissions?status=${encodeURIComponent(status)}&limit=${LIMIT}&offset=${offset}`);
    const page = await res.json();
    if (!res.ok) throw new Error(page.error || res.statusText);
    $('queue').hidden = false;
    $('summary').textContent = `${page.total} submission(s); showing ${page.items.length ? offset + 1 : 0}–${offset + page.items.length}.`;
    const tbody = $('items').tBodies[0];
    tbody.replaceChildren();
    for (const s of page.items) {
      const tr = document.createElement('tr');
      tr.append(cell(s.reference), cell(s.la_code + (s.partnership_id ? ` / ${s.partnership_id}` : '')), cell(s.kind), cell(s.message),
        cell([s.name, s.organisation, s.email].filter(Boolean).join(', ') || '(deleted)'), cell(s.status + (s.review_note ? `: ${s.review_note}` : '')));
      const td = document.createElement('td');
      for (const st of ['accepted', 'rejected', 'duplicate']) {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = st;
        b.addEventListener('click', () => review(s.reference, st));
        td.append(b, ' ');
      }
      tr.append(td);
      tbody.append(tr);
    }
    $('prev').disabled = offset === 0;
    $('next').disabled = page.next_offset == null;
  } catch (e) {
    $('error').textContent = e.message;
  }
}

async function review(ref, status) {
  const note = prompt(`Note for ${ref} (${status}):`, '') ?? '';
  const res = await api(`/api/admin/submissions/${ref}/review`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status, note }),
  });
  const body = await res.json();
  if (!res.ok) { $('error').textContent = body.error; return; }
  if (body.instruction) alert(body.instruction);
  load();
}

$('token-form').addEventListener('submit', (e) => { e.preventDefault(); sessionStorage.setItem(KEY, $('token').value); $('token').value = ''; offset = 0; load(); });
$('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); $('queue').hidden = true; });
$('status').addEventListener('change', () => { offset = 0; load(); });
$('refresh').addEventListener('click', load);
$('prev').addEventListener('click', () => { offset = Math.max(0, offset - LIMIT); load(); });
$('next').addEventListener('click', () => { offset += LIMIT; load(); });
$('export').addEventListener('click', async () => {
  try {
    const res = await api(`/api/admin/submissions.csv?status=${encodeURIComponent($('status').value)}`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url; a.download = 'partnership-map-submissions.csv'; a.click();
    URL.revokeObjectURL(url);
  } catch (e) { $('error').textContent = e.message; }
});
$('reload').addEventListener('click', async () => {
  try {
    const res = await api('/admin/reload', { method: 'POST' });
    const body = await res.json();
    $('summary').textContent = res.ok
      ? `Reloaded: data version ${body.data_version}, data as of ${body.data_as_of || 'unknown'}.`
      : `Reload refused, still serving ${body.data_version}: ${(body.problems || []).join(' | ')}`;
  } catch (e) { $('error').textContent = e.message; }
});
if (token()) load();
