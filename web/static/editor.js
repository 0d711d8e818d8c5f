// partnership-map: the research team's editor (part of /admin). It builds a change in the JSON
// format of POST /api/admin/edits, previews it (dry_run), and publishes it after confirmation.
// Field errors from the server (422) are shown next to their fields. Text is only ever inserted
// with textContent; no inline script (the vocabularies come from a JSON data block).
const $ = (id) => document.getElementById(id);
const VOCAB = JSON.parse($('vocabulary').textContent);

let api = null; // set by init(): (path, options) => Promise<Response>
let las = []; // [{code, name}]
let current = null; // the change being edited: {kind, la, id, original, submission}
let pending = null; // the body awaiting confirmation

const words = (s) => String(s).replace(/_/g, ' ');

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// ---------- field specs (API names, as in /api/partnerships and the CSV columns) ----------
const PARTNERSHIP = [
  { name: 'id', label: 'Id (a-z, 0-9, -)', type: 'text', createOnly: true, hint: 'A stable slug, e.g. hull-learning-partnership. It cannot change later.' },
  { name: 'name', label: 'Name', type: 'text' },
  { name: 'la_codes', label: 'Local authorities it covers', type: 'las' },
  { name: 'form', label: 'Form', type: 'select', options: VOCAB.form },
  { name: 'phases', label: 'Phases', type: 'checks', options: VOCAB.phases },
  { name: 'focus', label: 'Focus', type: 'checks', options: VOCAB.focus },
  { name: 'la_involvement', label: "LA's involvement", type: 'select', options: VOCAB.la_involvement },
  { name: 'legal_form', label: 'Legal form', type: 'select', options: VOCAB.legal_form },
  { name: 'membership', label: 'Membership', type: 'text' },
  { name: 'founded', label: 'Year founded (if a source states it)', type: 'year' },
  { name: 'website', label: 'Website', type: 'url' },
  { name: 'source_urls', label: 'Sources (one URL per line)', type: 'lines' },
  { name: 'evidence_date', label: 'Evidence date (a year, a span like 2015/2023, or "undated")', type: 'text' },
  { name: 'notes', label: 'Notes', type: 'textarea' },
];
const ROLE = [
  ...VOCAB.roles.map((r) => ({ name: r, label: words(r), type: 'flag' })),
  { name: 'summary', label: 'Summary', type: 'textarea' },
  { name: 'source_urls', label: 'Sources (one URL per line)', type: 'lines' },
  { name: 'evidence_date', label: 'Evidence date (a year, a span like 2015/2023, or "undated")', type: 'text' },
];
const VERIFY = [
  { name: 'verified', label: 'The LA has verified its summary', type: 'flag' },
  { name: 'date', label: 'Date it verified', type: 'date' },
];

function fieldId(name) { return `ed-f-${name}`; }

function control(spec, value) {
  const wrap = el(spec.type === 'checks' ? 'fieldset' : 'div', null, 'field');
  wrap.dataset.field = spec.name;
  const id = fieldId(spec.name);
  const err = el('p', null, 'error');
  err.id = `${id}-error`;
  err.hidden = true;
  let input;
  if (spec.type === 'checks') {
    wrap.append(el('legend', spec.label));
    const box = el('div', null, 'checks');
    for (const o of spec.options) {
      const c = el('div', null, 'choice');
      const i = el('input');
      i.type = 'checkbox';
      i.id = `${id}-${o}`;
      i.value = o;
      i.name = spec.name;
      i.checked = Array.isArray(value) && value.includes(o);
      const l = el('label', words(o));
      l.htmlFor = i.id;
      c.append(i, l);
      box.append(c);
    }
    wrap.append(box, err);
    wrap.setAttribute('aria-describedby', err.id);
    return wrap;
  }
  if (spec.type === 'flag') {
    wrap.classList.add('choice');
    input = el('input');
    input.type = 'checkbox';
    input.checked = value === true;
    input.id = id;
    const l = el('label', spec.label);
    l.htmlFor = id;
    wrap.append(input, l, err);
    input.setAttribute('aria-describedby', err.id);
    return wrap;
  }
  const label = el('label', spec.label);
  label.htmlFor = id;
  wrap.append(label);
  if (spec.hint) { const h = el('p', spec.hint, 'hint'); h.id = `${id}-hint`; wrap.append(h); }
  if (spec.type === 'select') {
    input = el('select');
    for (const o of spec.options) { const opt = el('option', words(o)); opt.value = o; input.append(opt); }
    input.value = value ?? spec.options[0];
  } else if (spec.type === 'las') {
    input = el('select');
    input.multiple = true;
    input.size = 6;
    for (const la of las) { const opt = el('option', la.name); opt.value = la.code; opt.selected = (value || []).includes(la.code); input.append(opt); }
  } else if (spec.type === 'textarea' || spec.type === 'lines') {
    input = el('textarea');
    input.rows = spec.type === 'lines' ? 3 : 4;
    input.value = spec.type === 'lines' ? (value || []).join('\n') : (value ?? '');
  } else {
    input = el('input');
    input.type = { url: 'url', date: 'date', year: 'text' }[spec.type] || 'text';
    if (spec.type === 'year') input.inputMode = 'numeric';
    input.value = value ?? '';
  }
  input.id = id;
  input.setAttribute('aria-describedby', [spec.hint ? `${id}-hint` : '', err.id].filter(Boolean).join(' '));
  wrap.append(input, err);
  return wrap;
}

function read(spec) {
  const id = fieldId(spec.name);
  if (spec.type === 'checks') return [...document.querySelectorAll(`input[name="${spec.name}"]:checked`)].map((i) => i.value);
  const i = $(id);
  if (spec.type === 'flag') return i.checked;
  if (spec.type === 'las') return [...i.selectedOptions].map((o) => o.value);
  if (spec.type === 'lines') return i.value.split('\n').map((s) => s.trim()).filter(Boolean);
  if (spec.type === 'year') { const v = i.value.trim(); return v === '' ? null : (/^\d+$/.test(v) ? Number(v) : v); }
  if (spec.type === 'url') { const v = i.value.trim(); return v === '' ? null : v; }
  return i.value.trim();
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
  || ((a == null || a === '' || (Array.isArray(a) && !a.length) || a === false) && (b == null || b === '' || (Array.isArray(b) && !b.length) || b === false));

// ---------- errors ----------
function clearErrors() {
  $('ed-errors').hidden = true;
  $('ed-errors').replaceChildren();
  for (const e of document.querySelectorAll('#edit-form .error')) { e.hidden = true; e.textContent = ''; }
  for (const e of document.querySelectorAll('#edit-form [aria-invalid]')) e.removeAttribute('aria-invalid');
}

function showErrors(fields, general) {
  const box = $('ed-errors');
  box.replaceChildren(el('h3', 'The change was not made'));
  const ul = el('ul');
  for (const [name, msg] of Object.entries(fields || {})) {
    const wrap = document.querySelector(`#edit-form [data-field="${CSS.escape(name)}"]`);
    const li = el('li');
    if (wrap && name !== '_') {
      const target = wrap.matches('input, textarea, select') ? wrap : wrap.querySelector('input, textarea, select');
      const errP = wrap.matches('input, textarea, select') ? null : wrap.querySelector(':scope > .error');
      if (errP) { errP.textContent = msg; errP.hidden = false; }
      if (target) target.setAttribute('aria-invalid', 'true');
      const a = el('a', `${words(name)}: ${msg}`);
      a.href = `#${target ? target.id : ''}`;
      a.addEventListener('click', (e) => { e.preventDefault(); target?.focus(); });
      li.append(a);
    } else {
      li.textContent = name === '_' ? msg : `${words(name)}: ${msg}`;
    }
    ul.append(li);
  }
  if (general) ul.append(el('li', general));
  box.append(ul);
  box.hidden = false;
  box.focus();
}

// ---------- choosing what to edit ----------
// The LA list loads once, and only the latest partnership list is shown: the editor opened from
// a URL (/admin?la=…) must not have its LA or partnership reset by the start-up load finishing
// after it.
let lasLoaded = null;
let fillSeq = 0;

async function fillPartnerships(code, selected) {
  const seq = ++fillSeq;
  const res = await fetch(`/api/partnerships?la=${encodeURIComponent(code)}`);
  const body = await res.json();
  if (seq !== fillSeq) return; // a newer choice of LA won
  const sel = $('ed-partnership');
  sel.replaceChildren();
  for (const p of body.partnerships || []) { const o = el('option', p.name); o.value = p.id; sel.append(o); }
  if (selected) sel.value = selected;
}

function syncChooser() {
  const needsPartnership = ['partnership.update', 'partnership.retire'].includes($('ed-action').value);
  $('ed-partnership-field').hidden = !needsPartnership;
  $('ed-partnership').required = needsPartnership;
}

/**
 * Open the editor: from a submission ("Apply…"), an LA's verification answer (`verification`,
 * with what the LA `asked`), an LA, or a partnership.
 */
export async function openEditor({ la, partnership = '', kind = '', submission = '', verification = '', asked = '' } = {}) {
  await loadLas();
  $('ed-la').value = la || las[0]?.code || '';
  const action = kind || (partnership ? 'partnership.update' : 'la_role.set');
  $('ed-action').value = action;
  syncChooser();
  await fillPartnerships($('ed-la').value, partnership);
  await openForm(submission, verification, asked);
  $('editor').scrollIntoView();
}

function loadLas() {
  lasLoaded ??= (async () => {
    const res = await fetch('/api/las');
    const body = await res.json();
    las = body.local_authorities.map((l) => ({ code: l.code, name: l.name })).sort((a, b) => a.name.localeCompare(b.name));
    const sel = $('ed-la');
    sel.replaceChildren();
    for (const la of las) { const o = el('option', la.name); o.value = la.code; sel.append(o); }
  })().catch((e) => { lasLoaded = null; throw e; });
  return lasLoaded;
}

async function openForm(submission = '', verification = '', asked = '') {
  clearErrors();
  $('preview').hidden = true;
  $('ed-done').textContent = '';
  const code = $('ed-la').value;
  const kind = $('ed-action').value;
  const la = las.find((l) => l.code === code);
  const detail = await (await fetch(`/api/las/${encodeURIComponent(code)}`)).json();
  let specs = [];
  let values = {};
  let title = '';
  const id = $('ed-partnership').value;
  if (kind.startsWith('partnership.')) {
    const p = detail.partnerships.find((x) => x.id === id);
    if (kind !== 'partnership.create' && !p) { showErrors({}, `${la.name} has no partnership to ${kind === 'partnership.retire' ? 'retire' : 'update'}.`); return; }
    if (kind === 'partnership.create') {
      specs = PARTNERSHIP;
      values = { la_codes: [code], form: 'school_led_network', la_involvement: 'unknown', legal_form: 'unknown', evidence_date: String(new Date().getFullYear()) };
      title = `Add a partnership in ${la.name}`;
    } else if (kind === 'partnership.update') {
      specs = PARTNERSHIP.filter((s) => !s.createOnly);
      values = p;
      title = `Update ${p.name}`;
    } else {
      specs = [];
      values = p;
      title = `Retire ${p.name}`;
    }
  } else if (kind === 'la_role.set') {
    specs = ROLE;
    values = detail.role || {};
    title = detail.role ? `Update the role of ${la.name}` : `Add the role of ${la.name}`;
  } else {
    specs = VERIFY;
    values = { verified: detail.local_authority.verified === true, date: detail.local_authority.verified_date || new Date().toISOString().slice(0, 10) };
    title = `Verification by ${la.name}`;
  }
  current = { kind, la: code, id, original: values, specs, exists: kind === 'la_role.set' ? !!detail.role : true };
  $('ed-title').textContent = title;
  $('ed-from').textContent = submission ? `Prefilled from submission ${submission}: accepting it is part of publishing this change.`
    : (verification ? `Opened from the LA's verification answer ${verification}: this change is linked to it.` : '');
  $('ed-asked').textContent = asked ? `The LA asks: ${asked}` : '';
  $('ed-asked').hidden = !asked;
  const box = $('ed-fields');
  box.replaceChildren(...specs.map((s) => control(s, values[s.name])));
  if (kind === 'partnership.retire') box.append(el('p', `${values.name} will be taken off the map. Its history stays, and the retirement can be undone.`));
  $('ed-reason').value = verification ? 'The LA asked for this change when it checked its summary on the map.' : '';
  $('ed-submission').value = submission;
  $('ed-verification').value = verification;
  $('edit-form').hidden = false;
  (box.querySelector('input, select, textarea') || $('ed-reason')).focus();
}

/** The change as the API takes it, from the form. */
function buildBody() {
  const { kind, la, id, original, specs, exists } = current;
  const body = { kind, reason: $('ed-reason').value.trim() };
  const sub = $('ed-submission').value.trim();
  if (sub) body.submission = sub;
  const answer = $('ed-verification').value.trim();
  if (answer) body.verification = answer;
  const values = Object.fromEntries(specs.map((s) => [s.name, read(s)]));
  if (kind === 'partnership.create') body.partnership = values;
  else if (kind === 'partnership.retire') body.id = id;
  else if (kind === 'la.verify') { body.la = la; body.verified = values.verified; if (values.verified) body.date = values.date; }
  else {
    // Only the fields that differ: the change and its history stay minimal.
    const fields = Object.fromEntries(Object.entries(values).filter(([k, v]) => !exists || !same(v, original[k])));
    if (kind === 'partnership.update') { body.id = id; body.fields = fields; } else { body.la = la; body.fields = fields; }
  }
  return body;
}

function show(v) {
  if (v == null) return '(empty)';
  if (Array.isArray(v)) return v.map(words).join(', ');
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

async function preview(e) {
  e.preventDefault();
  clearErrors();
  const body = buildBody();
  if (body.fields && !Object.keys(body.fields).length) { showErrors({ _: 'Nothing was changed in the form.' }); return; }
  const res = await api('/api/admin/edits?dry_run=true', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const out = await res.json();
  if (!res.ok) { showErrors(out.fields, out.fields ? '' : out.error); return; }
  pending = body;
  $('preview-summary').textContent = out.summary;
  const tbody = $('preview-table').tBodies[0];
  tbody.replaceChildren();
  for (const c of out.changes) {
    const tr = el('tr');
    const th = el('th', words(c.field));
    th.scope = 'row';
    tr.append(th, el('td', show(c.old)), el('td', show(c.new)));
    tbody.append(tr);
  }
  $('preview-version').textContent = `Data version ${out.previous_version} → ${out.data_version}.`;
  $('edit-form').hidden = true;
  $('preview').hidden = false;
  $('preview').focus();
}

async function publish() {
  if (!pending) return;
  const res = await api('/api/admin/edits', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(pending) });
  const out = await res.json();
  if (!res.ok) { $('preview').hidden = true; $('edit-form').hidden = false; showErrors(out.fields, out.fields ? '' : out.error); return; }
  pending = null;
  $('preview').hidden = true;
  const done = $('ed-done');
  done.replaceChildren(`Published change ${out.change}: ${out.summary}. Data version ${out.data_version}. `);
  const a = el('a', 'See it on the map');
  a.href = `/?la=${encodeURIComponent(out.la_codes[0] || current.la)}`;
  done.append(a);
  done.focus();
  document.dispatchEvent(new CustomEvent('partnership-map:published', { detail: out }));
}

/** Wire up the editor; `apiFn` sends authorised requests. */
export function init(apiFn) {
  api = apiFn;
  loadLas().then(() => fillPartnerships($('ed-la').value)).catch(() => {});
  $('ed-la').addEventListener('change', () => fillPartnerships($('ed-la').value));
  $('ed-action').addEventListener('change', syncChooser);
  $('choose').addEventListener('submit', (e) => { e.preventDefault(); openForm(); });
  $('edit-form').addEventListener('submit', preview);
  $('ed-cancel').addEventListener('click', () => { $('edit-form').hidden = true; clearErrors(); });
  $('back').addEventListener('click', () => { $('preview').hidden = true; $('edit-form').hidden = false; $('ed-reason').focus(); });
  $('publish').addEventListener('click', publish);
  syncChooser();
}
