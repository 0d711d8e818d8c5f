// partnership-map: the interactive map (`/`) and the embeddable map (`/embed`).
// Everything comes from this server: style, tiles, glyphs, MapLibre itself and the JSON API.
// Filters run in the browser with feature-state (no tile refetch). Text from the data is only
// ever inserted with textContent. State lives in the URL (query + #map=zoom/lat/lon).
// "Map as of": the day shown (`date=`; none means today) picks the tiles, the LA list and the
// panel, all from the server's dated API (`?date=`); the vesting dates come from
// /api/reorganisations.
// The embed also speaks a small postMessage protocol with its host page (see "embedding API"
// at the end, and the README).
import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';

const EMBED = document.body.dataset.mode === 'embed';
const SOURCE = 'partnership-map';
const LAYER = 'local_authorities';
const GROUPS = ['form', 'focus', 'phase', 'role', 'region', 'la_type', 'fsm', 'rural'];
const $ = (id) => document.getElementById(id);

// ---------- measures and legend (Okabe–Ito / ColorBrewer YlGnBu: colour-blind safe) ----------
const NO_DATA = '#d4d4d4';
export const MEASURES = {
  count: {
    label: 'Number of partnerships',
    color: ['step', ['get', 'partnership_count'], '#ffffcc', 1, '#c7e9b4', 2, '#7fcdbb', 3, '#41b6c4', 5, '#2c7fb8', 8, '#253494'],
    legend: [['0 (LA role only)', '#ffffcc'], ['1', '#c7e9b4'], ['2', '#7fcdbb'], ['3–4', '#41b6c4'], ['5–7', '#2c7fb8'], ['8 or more', '#253494']],
  },
  role: {
    label: "LA's role in school improvement",
    color: ['case',
      ['!', ['get', 'has_role_entry']], '#f2f2f2',
      ['>=', ['+', ['to-number', ['get', 'role_funder']], ['to-number', ['get', 'role_convener']], ['to-number', ['get', 'role_deliverer']], ['to-number', ['get', 'role_traded_service']]], 2], '#56b4e9',
      ['get', 'role_convener'], '#0072b2',
      ['get', 'role_deliverer'], '#e69f00',
      ['get', 'role_funder'], '#009e73',
      ['get', 'role_traded_service'], '#cc79a7',
      '#f2f2f2'],
    legend: [['Several roles', '#56b4e9'], ['Convener', '#0072b2'], ['Deliverer', '#e69f00'], ['Funder', '#009e73'], ['Traded service', '#cc79a7'], ['No LA-role entry', '#f2f2f2']],
  },
  verified: {
    label: 'Verified by the LA',
    color: ['case', ['get', 'verified'], '#0072b2', '#f0f0f0'],
    legend: [['Verified', '#0072b2'], ['Not yet verified', '#f0f0f0']],
  },
};

// ---------- state <-> URL ----------
function emptyState() {
  return { measure: 'count', filters: Object.fromEntries(GROUPS.map((g) => [g, []])), verified: false, similar: '', la: '', list: false, date: '' };
}

// Today in England (the server's clock) and the `date=` the server served this page for.
const TODAY = document.body.dataset.today || '';
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
// The first day the server has a map of.
const RECORD_START = document.body.dataset.recordStart || '';

function readUrl(search = location.search) {
  const p = new URLSearchParams(search);
  const s = emptyState();
  if (MEASURES[p.get('measure')]) s.measure = p.get('measure');
  for (const g of GROUPS) s.filters[g] = (p.get(g) || '').split(',').filter(Boolean);
  s.verified = p.get('verified') === '1';
  s.similar = p.get('similar') || '';
  s.la = p.get('la') || '';
  s.list = p.get('list') === '1';
  const d = p.get('date') || '';
  s.date = DAY_RE.test(d) && d !== TODAY ? d : '';
  return s;
}

function query(s, { forEmbed = false } = {}) {
  const p = new URLSearchParams();
  if (s.measure !== 'count') p.set('measure', s.measure);
  for (const g of GROUPS) if (s.filters[g].length) p.set(g, s.filters[g].join(','));
  if (s.verified) p.set('verified', '1');
  if (s.similar) p.set('similar', s.similar);
  if (!forEmbed && s.la) p.set('la', s.la);
  if (!forEmbed && s.list) p.set('list', '1');
  if (s.date) p.set('date', s.date);
  return p.toString();
}

let state = readUrl();
// A date the server has no map for (before its records start) falls back to today, and says so.
let refusedDate = '';
if (state.date && state.date !== document.body.dataset.date) {
  refusedDate = state.date;
  state.date = '';
  if (!EMBED) history.replaceState(null, '', `${location.pathname}${query(state) ? `?${query(state)}` : ''}${location.hash}`);
}

/** `?date=…` (with `sep` first) for the day shown, or nothing for today's map. */
function dateQuery(sep = '?') { return state.date ? `${sep}date=${state.date}` : ''; }

/** The address of the current view (what "Share" offers). */
function viewUrl(s = state) {
  const q = query(s);
  return `${location.origin}${location.pathname}${q ? `?${q}` : ''}${location.hash}`;
}

function pushUrl() {
  if (EMBED) return;
  const q = query(state);
  const url = `${location.pathname}${q ? `?${q}` : ''}${location.hash}`;
  if (url !== `${location.pathname}${location.search}${location.hash}`) history.pushState(null, '', url);
}

// ---------- data ----------
const las = [];
const byCode = new Map();
// The day the loaded LAs are of (YYYY-MM-DD) and their data's date.
let shownDay = state.date || TODAY;

/** The LAs in force on the day of `state.date`, from `/api/las?date=`. */
async function loadLas() {
  const res = await fetch(`/api/las${dateQuery()}`);
  if (!res.ok) throw new Error(`/api/las${dateQuery()}: HTTP ${res.status}`);
  const j = await res.json();
  las.length = 0;
  byCode.clear();
  for (const la of j.local_authorities) { las.push(la); byCode.set(la.code, la); }
  shownDay = j.date;
  if ($('data-as-of') && j.data_as_of) $('data-as-of').textContent = j.data_as_of;
  return j;
}

function fsmBand(la) {
  const v = la.fsm_primary_pct;
  if (typeof v !== 'number') return '';
  return v < 20 ? 'low' : v <= 30 ? 'mid' : 'high';
}

function matches(la) {
  const f = state.filters;
  const any = (list, test) => list.length === 0 || list.some(test);
  return any(f.form, (v) => la[`form_${v}`] > 0)
    && any(f.focus, (v) => la[`focus_${v}`] === true)
    && any(f.phase, (v) => la[`phase_${v}`] === true)
    && any(f.role, (v) => la[`role_${v}`] === true)
    && any(f.region, (v) => la.region === v)
    && any(f.la_type, (v) => la.la_type === v)
    && any(f.fsm, (v) => fsmBand(la) === v)
    && any(f.rural, (v) => la.rural_urban === v)
    && (!state.verified || la.verified === true);
}

function matching() { return las.filter(matches); }

// ---------- map ----------
// Read before the map exists: MapLibre writes its own `map=` hash as soon as it has a view.
const VIEW_IN_URL = location.hash.includes('map=');
const map = new maplibregl.Map({
  container: 'map',
  style: `/styles/default.json${dateQuery()}`,
  hash: EMBED ? false : 'map',
  attributionControl: { compact: true },
  dragRotate: false,
  pitchWithRotate: false,
});
map.touchZoomRotate.disableRotation();
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');

const ready = Promise.all([
  loadLas(),
  new Promise((resolve) => map.on('load', resolve)),
]);

function fitEngland() {
  let b = [180, 90, -180, -90];
  for (const la of las) b = [Math.min(b[0], la.bbox[0]), Math.min(b[1], la.bbox[1]), Math.max(b[2], la.bbox[2]), Math.max(b[3], la.bbox[3])];
  // Keep England clear of the attribution, which is expanded at first and can wrap to 3 lines.
  const attrib = map.getContainer().querySelector('.maplibregl-ctrl-attrib');
  const bottom = 20 + (attrib ? attrib.offsetHeight : 30);
  map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: { top: 20, bottom, left: 20, right: 20 }, animate: false });
}

function addHighlightLayers() {
  map.addLayer({
    id: 'la-similar', type: 'line', source: SOURCE, 'source-layer': LAYER,
    paint: {
      'line-color': '#d55e00',
      'line-width': 3,
      'line-opacity': ['case', ['>', ['coalesce', ['feature-state', 'similar'], 0], 0], 1, 0],
    },
  });
  map.addLayer({
    id: 'la-selected', type: 'line', source: SOURCE, 'source-layer': LAYER,
    paint: {
      'line-color': '#000000',
      'line-width': 3.5,
      'line-opacity': ['case', ['boolean', ['feature-state', 'selected'], false], 1, 0],
    },
  }, 'la-labels');
  const dim = ['case', ['boolean', ['feature-state', 'match'], true], 0.9, 0.12];
  map.setPaintProperty('la-fill', 'fill-opacity', dim);
  map.setPaintProperty('la-fill-no-data', 'fill-opacity', dim);
}

function setState(code, values) {
  map.setFeatureState({ source: SOURCE, sourceLayer: LAYER, id: code }, values);
}

// ---------- rendering ----------
function renderLegend() {
  const m = MEASURES[state.measure];
  const el = $('legend');
  el.replaceChildren();
  const h = document.createElement('h2');
  h.textContent = m.label;
  const when = document.createElement('p');
  when.className = 'legend-date';
  when.textContent = shownDay === TODAY ? `Councils as of today, ${longDate(shownDay)}` : `Councils as of ${longDate(shownDay)}`;
  const ul = document.createElement('ul');
  // "No data yet" only while some LA has no evidence at all (none since the 2026 release).
  const noData = las.some((la) => !la.has_data) ? [['No data yet', NO_DATA]] : [];
  for (const [label, color] of [...m.legend, ...noData]) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = color;
    li.append(sw, ` ${label}`);
    ul.append(li);
  }
  el.append(h, when, ul);
  if (state.similar) {
    const p = document.createElement('p');
    p.className = 'legend-note';
    p.textContent = 'Orange outline: statistical neighbours';
    el.append(p);
  }
}

function applyFilters() {
  const set = new Set(matching().map((la) => la.code));
  for (const la of las) setState(la.code, { match: set.has(la.code) });
  if ($('match-count')) $('match-count').textContent = `${set.size} of ${las.length} LAs match`;
  renderList();
  return set;
}

function applyMeasure() {
  map.setPaintProperty('la-fill', 'fill-color', MEASURES[state.measure].color);
  renderLegend();
}

let lastSelected = '';
let lastSimilar = [];
function applySelection() {
  if (lastSelected) setState(lastSelected, { selected: false });
  if (state.la && byCode.has(state.la)) setState(state.la, { selected: true });
  lastSelected = state.la;
}

function applySimilar() {
  for (const c of lastSimilar) setState(c, { similar: 0 });
  lastSimilar = [];
  const box = $('similar-list');
  const la = byCode.get(state.similar);
  if (!la) { if (box) box.hidden = true; renderLegend(); return; }
  const codes = [la.code, ...la.stat_neighbours];
  codes.forEach((c, i) => setState(c, { similar: i + 1 }));
  lastSimilar = codes;
  if (box) {
    const ol = box.querySelector('ol');
    ol.replaceChildren();
    la.stat_neighbours.forEach((c, i) => {
      const n = byCode.get(c);
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'link';
      b.textContent = n ? n.name : c;
      b.addEventListener('click', () => select(c, { zoom: true }));
      li.append(b, ` (${la.stat_neighbours_closeness[i] || ''})`);
      ol.append(li);
    });
    box.querySelector('h2').textContent = `${la.name} and its 10 statistical neighbours`;
    box.hidden = false;
  }
  renderLegend();
}

function fitCodes(codes) {
  let b = null;
  for (const c of codes) {
    const la = byCode.get(c);
    if (!la) continue;
    b = b ? [Math.min(b[0], la.bbox[0]), Math.min(b[1], la.bbox[1]), Math.max(b[2], la.bbox[2]), Math.max(b[3], la.bbox[3])] : [...la.bbox];
  }
  if (b) map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 40, maxZoom: 10, duration: 0 });
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function link(href, text) {
  const a = el('a', text);
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function words(s) { return String(s).replace(/_/g, ' '); }

function sources(urls, date) {
  const ul = el('ul', null, 'sources');
  for (const u of urls) {
    const li = el('li');
    let host = u;
    try { host = new URL(u).hostname.replace(/^www\./, ''); } catch { /* shown as is */ }
    li.append(link(u, host), ` (evidence: ${date})`);
    ul.append(li);
  }
  return ul;
}

/** The details panel's heading: the section is labelled by it (aria-labelledby="details-h"). */
function detailsHeading(text) {
  const h = el('h2', text);
  h.id = 'details-h';
  return h;
}

// ---------- days ----------
const LONG_DATE = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
/** `2027-04-01` → `1 April 2027`. */
export function longDate(day) {
  const [y, m, d] = String(day).split('-').map(Number);
  return Number.isFinite(d) ? LONG_DATE.format(new Date(Date.UTC(y, m - 1, d))) : String(day);
}

/** `nodes` joined as English prose: `a`, `a and b`, `a, b and c`. */
function andList(nodes) {
  const out = [];
  nodes.forEach((n, i) => {
    if (i > 0) out.push(i === nodes.length - 1 ? ' and ' : ', ');
    out.push(n);
  });
  return out;
}

/** A link to LA `code` on `day`: the map of that day with the LA selected. */
function dayLink(code, name, day) {
  const a = el('a', name);
  a.href = viewUrl({ ...state, la: code, date: day === TODAY ? '' : day, similar: '' });
  a.dataset.day = day;
  a.dataset.la = code;
  a.addEventListener('click', (e) => {
    if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    goTo(code, day);
  });
  return a;
}

/** Before and after of a reorganised LA `h` (`history` of /api/las/{code}) on the day shown. */
function historyParts(name, h, inForce) {
  const out = [];
  if (!inForce && h.valid_to && shownDay >= h.valid_to) {
    out.push(el('p', `${name} was abolished: it was in force until ${longDate(dayBefore(h.valid_to))}.`, 'gone'));
  }
  if (!inForce && shownDay < h.valid_from) {
    const p = el('p', null, 'gone');
    p.append(`${name} is a new council from ${longDate(h.valid_from)}. `, dayLink(state.la, `See the map of ${longDate(h.valid_from)}`, h.valid_from), '.');
    out.push(p);
  }
  if (h.replaces.length) {
    // Grouped by the predecessors' last day (one vesting date in practice).
    for (const day of [...new Set(h.replaces.map((r) => r.date))]) {
      const those = h.replaces.filter((r) => r.date === day);
      const p = el('p', null, 'replaces');
      p.append('Replaces ', ...andList(those.map((r) => dayLink(r.code, r.name, r.date || h.valid_from))), day ? ` (until ${longDate(day)}).` : '.');
      out.push(p);
    }
  }
  if (h.replaced_by.length) {
    for (const day of [...new Set(h.replaced_by.map((r) => r.date))]) {
      const those = h.replaced_by.filter((r) => r.date === day);
      const p = el('p', null, 'replaced-by');
      p.append(shownDay < day ? 'To be replaced by ' : 'Replaced by ', ...andList(those.map((r) => dayLink(r.code, r.name, r.date))), ` on ${longDate(day)}.`);
      out.push(p);
    }
  }
  return out;
}

/** The day before `day` (an abolished LA's last day is the one before its `valid_to`). */
function dayBefore(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

const inheritedNote = (from) => el('p', `Inherited from ${from}, not yet confirmed for the new council.`, 'inherited');

async function renderDetails() {
  const box = $('details');
  if (!box) return;
  if (!state.la) {
    box.replaceChildren(detailsHeading('Local authority'), el('p', 'Select a local authority on the map, in the list view or with the search.', 'hint'));
    return;
  }
  const code = state.la;
  const day = shownDay;
  const res = await fetch(`/api/las/${encodeURIComponent(code)}${dateQuery()}`);
  if (state.la !== code || shownDay !== day) return; // a newer selection or day won
  if (!res.ok) { box.replaceChildren(detailsHeading('Local authority'), el('p', 'No such local authority.', 'error')); return; }
  const d = await res.json();
  if (d.local_authority.code !== state.la) return;
  const la = d.local_authority;
  const h = d.history || { replaces: [], replaced_by: [], valid_from: '', valid_to: null };
  const parts = [detailsHeading(la.name)];
  if (d.in_force === false) {
    // A council of another day: when it was in force and which councils replaced it (or it replaces).
    parts.push(el('p', `Not a council on ${longDate(day)}.`, 'meta'));
    const hist = el('div', null, 'history');
    hist.append(...historyParts(la.name, h, false));
    parts.push(hist);
    box.replaceChildren(...parts);
    return;
  }
  parts.push(el('p', [la.region, words(la.la_type), la.london_inner_outer ? `${la.london_inner_outer} London` : ''].filter(Boolean).join(' · '), 'meta'));
  const hist = historyParts(la.name, h, true);
  if (hist.length) {
    const box2 = el('div', null, 'history');
    box2.append(...hist);
    parts.push(box2);
  }
  const verification = el('p', la.verified ? `Verified by the LA on ${la.verified_date || 'an unrecorded date'}.` : 'Not yet verified by the LA.', la.verified ? 'verified' : 'unverified');
  parts.push(verification);
  if (!la.verified && !state.date) {
    // When the LA was last asked to verify (GET /api/las/{code}/verification), filled in after.
    fetch(`/api/las/${encodeURIComponent(la.code)}/verification`).then((r) => (r.ok ? r.json() : null)).then((v) => {
      if (v && v.last_invited && !v.verified) verification.textContent = `Not yet verified (last invited ${v.last_invited.slice(0, 10)}).`;
    }).catch(() => {});
  }
  parts.push(el('p', `Data as of ${d.data_as_of || 'unknown'}.`, 'hint'));
  const changes = el('section', null, 'what-changed');
  changes.setAttribute('aria-labelledby', 'what-changed-h');

  parts.push(el('h3', "The LA's role in school improvement"));
  if (d.role) {
    if (d.role.inherited_from) parts.push(inheritedNote(d.role.inherited_from));
    const roles = ['funder', 'convener', 'deliverer', 'traded_service'].filter((r) => d.role[r]).map(words);
    parts.push(el('p', roles.length ? `Roles: ${roles.join(', ')}.` : 'No role flagged.', 'roles'));
    parts.push(el('p', d.role.summary));
    parts.push(sources(d.role.source_urls, d.role.evidence_date));
  } else {
    parts.push(el('p', 'No LA-role entry yet.', 'hint'));
  }

  parts.push(el('h3', `Partnerships (${d.partnerships.length})`));
  if (!d.partnerships.length) parts.push(el('p', 'None recorded yet.', 'hint'));
  const list = el('div', null, 'partnerships');
  for (const p of d.partnerships) {
    const art = el('article', null, 'partnership');
    art.append(el('h4', p.name));
    if (p.inherited_from) art.append(inheritedNote(p.inherited_from));
    const dl = el('dl');
    const row = (k, v) => { dl.append(el('dt', k), el('dd', v)); };
    row('Form', words(p.form));
    row('Phases', p.phases.map(words).join(', '));
    row('Focus', p.focus.map(words).join(', '));
    if (p.la_names.length > 1) row('Covers', p.la_names.join('; '));
    art.append(dl);
    if (p.notes) art.append(el('p', p.notes));
    if (p.website) { const w = el('p'); w.append('Website: ', link(p.website, p.website)); art.append(w); }
    art.append(el('p', 'Sources:', 'sources-h'), sources(p.source_urls, p.evidence_date));
    list.append(art);
  }
  parts.push(list);

  const unpublished = [['neighbours_status', 'Statistical neighbours: not yet published.'], ['figures_status', 'Context figures (pupils, free school meals, rurality): not yet published.']]
    .filter(([k]) => d[k] === 'not_yet_published');
  if (unpublished.length) {
    parts.push(el('h3', 'Statistical neighbours and figures'));
    for (const [, text] of unpublished) parts.push(el('p', text, 'not-published'));
    if (d.status_note) parts.push(el('p', d.status_note, 'hint'));
  }

  const actions = el('div', null, 'actions-row');
  const existsToday = (la.valid_from || h.valid_from || '') <= TODAY && !((la.valid_to || h.valid_to) && TODAY >= (la.valid_to || h.valid_to));
  if (la.stat_neighbours?.length && existsToday) {
    const compare = el('a', 'Compare with similar LAs', 'button');
    compare.href = `/compare?la=${encodeURIComponent(la.code)}`;
    compare.id = 'compare-similar';
    actions.append(compare);
  }
  if (existsToday) {
    const correct = el('a', 'Suggest a correction', 'button');
    correct.href = `/contribute?la=${encodeURIComponent(la.code)}`;
    correct.id = 'suggest-correction';
    actions.append(correct);
  }
  if (la.stat_neighbours?.length) {
    const sim = el('button', 'Show similar LAs');
    sim.type = 'button';
    sim.addEventListener('click', () => { state.similar = la.code; $('similar').value = la.code; applySimilar(); fitCodes(lastSimilar); pushUrl(); });
    actions.append(sim);
  }
  parts.push(actions);
  parts.push(changes);
  box.replaceChildren(...parts);
  renderChanges(changes, la.code);
}

// ---------- "What changed": the LA's public change history ----------
async function renderChanges(box, code) {
  const h = el('h3', 'What changed');
  h.id = 'what-changed-h';
  const res = await fetch(`/api/changes?la=${encodeURIComponent(code)}&limit=10`);
  if (!res.ok || state.la !== code) return;
  const { changes } = await res.json();
  const feed = el('a', 'Feed of changes');
  feed.href = `/changes.atom?la=${encodeURIComponent(code)}`;
  feed.type = 'application/atom+xml';
  if (!changes.length) {
    box.replaceChildren(h, el('p', 'No changes since the data release.', 'hint'), feed);
    return;
  }
  const ol = el('ol', null, 'changes');
  for (const c of changes) {
    const li = el('li');
    const time = el('time', c.time.slice(0, 10));
    time.dateTime = c.time;
    li.append(time, ` ${c.summary}`);
    if (c.reason) li.append(el('p', `Why: ${c.reason}`, 'hint'));
    ol.append(li);
  }
  box.replaceChildren(h, ol, feed);
}

// ---------- list view ----------
let sortKey = 'name';
let sortDir = 1;
function renderList() {
  const section = $('list-view');
  if (!section) return;
  section.hidden = !state.list;
  $('toggle-list')?.setAttribute('aria-pressed', String(state.list));
  if (!state.list) return;
  const rows = matching().sort((a, b) => {
    const x = a[sortKey] ?? ''; const y = b[sortKey] ?? '';
    return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * sortDir;
  });
  const tbody = section.querySelector('tbody');
  tbody.replaceChildren();
  for (const la of rows) {
    const tr = el('tr');
    const th = el('th');
    th.scope = 'row';
    const b = el('button', la.name, 'link');
    b.type = 'button';
    b.addEventListener('click', () => select(la.code, { zoom: true }));
    th.append(b);
    tr.append(th, el('td', la.region), el('td', words(la.la_type)), el('td', String(la.partnership_count)), el('td', la.verified ? 'Yes' : 'No'));
    tbody.append(tr);
  }
  $('list-caption').textContent = `${rows.length} local authorities matching the filters, sorted by ${sortKey.replace(/_/g, ' ')}`;
  for (const th of section.querySelectorAll('th[scope=col]')) {
    const k = th.querySelector('button').dataset.sort;
    if (k === sortKey) th.setAttribute('aria-sort', sortDir === 1 ? 'ascending' : 'descending'); else th.removeAttribute('aria-sort');
  }
}

// ---------- selection and search ----------
function select(code, { zoom = false, push = true } = {}) {
  if (!byCode.has(code)) return;
  state.la = code;
  applySelection();
  announceSelect(code);
  if (zoom) fitCodes([code]);
  renderDetails();
  if (push) pushUrl();
  if (window.matchMedia('(max-width: 600px)').matches) $('panel')?.classList.add('open');
}

export function normalise(s) {
  return String(s).toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, ' ').trim();
}

function search(q) {
  const tokens = normalise(q).split(' ').filter(Boolean);
  if (!tokens.length) return [];
  const whole = normalise(q);
  return las
    .map((la) => ({ la, name: normalise(la.name), words: normalise(la.name).split(' ') }))
    .filter((x) => tokens.every((t) => x.words.some((w) => w.startsWith(t))) || x.la.code.toLowerCase() === whole)
    .sort((a, b) => (b.name.startsWith(whole) - a.name.startsWith(whole)) || a.name.localeCompare(b.name))
    .slice(0, 8)
    .map((x) => x.la);
}

function setupSearch() {
  const input = $('search');
  const list = $('search-results');
  if (!input) return;
  let active = -1;
  let results = [];
  const close = () => { list.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); active = -1; };
  const choose = (la) => { input.value = la.name; close(); select(la.code, { zoom: true }); };
  const paint = () => {
    list.replaceChildren();
    results.forEach((la, i) => {
      const li = el('li', la.name);
      li.id = `search-option-${i}`;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === active));
      li.addEventListener('mousedown', (e) => { e.preventDefault(); choose(la); });
      list.append(li);
    });
    if (active >= 0) input.setAttribute('aria-activedescendant', `search-option-${active}`);
    list.hidden = results.length === 0;
    input.setAttribute('aria-expanded', String(results.length > 0));
  };
  input.addEventListener('input', () => { results = search(input.value); active = results.length ? 0 : -1; paint(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && results.length) { active = (active + 1) % results.length; paint(); e.preventDefault(); }
    else if (e.key === 'ArrowUp' && results.length) { active = (active - 1 + results.length) % results.length; paint(); e.preventDefault(); }
    else if (e.key === 'Enter' && active >= 0) { choose(results[active]); e.preventDefault(); }
    else if (e.key === 'Escape') close();
  });
  input.addEventListener('blur', () => setTimeout(close, 100));
}

// ---------- controls ----------
function syncControls() {
  if (EMBED) return;
  $('measure').value = state.measure;
  $('similar').value = state.similar;
  $('verified-only').checked = state.verified;
  for (const g of GROUPS) {
    for (const box of document.querySelectorAll(`input[name="${g}"]`)) box.checked = state.filters[g].includes(box.value);
  }
}

// ---------- "Map as of": the day shown ----------
let dayLoad = 0;

/** Load the map of `state.date` (today's when empty): its LAs, then its tiles (the dated
 * TileJSON of the day's style), and re-apply filters, selection and panel to it. */
async function switchDay() {
  const n = ++dayLoad;
  delete document.body.dataset.shown;
  const [, style] = await Promise.all([
    loadLas(),
    fetch(`/styles/default.json${dateQuery()}`).then((r) => {
      if (!r.ok) throw new Error(`style of ${state.date || 'today'}: HTTP ${r.status}`);
      return r.json();
    }),
  ]);
  if (n !== dayLoad) return;
  const src = style.sources[SOURCE];
  const source = map.getSource(SOURCE);
  if (src.tiles) source.setTiles(src.tiles); else source.setUrl(src.url);
  if (state.similar && !byCode.has(state.similar)) state.similar = '';
  fillSimilarOptions();
  applyAll();
  renderDay();
  map.once('idle', () => { if (n === dayLoad) document.body.dataset.shown = shownDay; });
}

/** Show the map of `day` (`YYYY-MM-DD`; today's is kept out of the URL). */
async function setDate(day, { push = true } = {}) {
  const want = !day || day === TODAY ? '' : day;
  if (want === state.date && shownDay === (want || TODAY)) { renderDay(); return; }
  state.date = want;
  refusedDate = '';
  if (push) pushUrl();
  await switchDay();
}

/** Follow a link of the panel: LA `code` on `day`. */
async function goTo(code, day) {
  state.la = code;
  await setDate(day, { push: false });
  applySelection();
  renderDetails();
  if (byCode.has(code)) fitCodes([code]);
  pushUrl();
}

/** The "LAs similar to…" choices: the LAs of the day shown. */
function fillSimilarOptions() {
  const select = $('similar');
  if (!select) return;
  const none = select.querySelector('option[value=""]');
  const opts = [...las].sort((a, b) => a.name.localeCompare(b.name)).map((la) => {
    const o = el('option', la.name);
    o.value = la.code;
    return o;
  });
  select.replaceChildren(none, ...opts);
  select.value = state.similar;
}

let vesting = [];

/** The date control: its value, which mark is pressed, and the sentence saying which day it is. */
function renderDay() {
  document.body.dataset.day = shownDay;
  const input = $('map-date');
  if (!input) return;
  input.value = shownDay;
  for (const b of document.querySelectorAll('#date-marks button')) b.setAttribute('aria-pressed', String(b.dataset.day === shownDay));
  let text;
  if (shownDay === TODAY) text = `Showing the councils in force today, ${longDate(shownDay)}.`;
  else if (shownDay > TODAY) text = `Showing the councils of ${longDate(shownDay)}, a future day, as decided so far (today is ${longDate(TODAY)}).`;
  else text = `Showing the councils and data of ${longDate(shownDay)}, as published then (today is ${longDate(TODAY)}).`;
  if (refusedDate) text = `There is no map for ${refusedDate}: the map's records start on ${longDate(input.min)}. ${text}`;
  $('date-shown').textContent = text;
}

/** "Today" and one button per vesting date, from /api/reorganisations. */
async function setupDateControl() {
  const input = $('map-date');
  if (!input) return;
  input.addEventListener('change', () => {
    if (!input.value) return;
    if (!input.validity.valid) {
      $('date-shown').textContent = `The map's records start on ${longDate(input.min)}: choose ${longDate(input.min)} or later.`;
      return;
    }
    setDate(input.value);
  });
  const res = await fetch('/api/reorganisations');
  if (!res.ok) return;
  const j = await res.json();
  vesting = j.vesting_dates;
  if (j.record_start) input.min = j.record_start;
  const mark = (day, text) => {
    const b = el('button', text);
    b.type = 'button';
    b.dataset.day = day;
    b.addEventListener('click', () => setDate(day));
    return b;
  };
  const marks = [mark(TODAY, `Today (${longDate(TODAY)})`)];
  for (const v of vesting) {
    const made = v.new.map((n) => n.name);
    const what = made.length <= 3 ? `${made.join(made.length === 2 ? ' and ' : ', ')} replace ${v.abolished.map((a) => a.name).join(', ')}` : `${made.length} new councils`;
    marks.push(mark(v.date, `${longDate(v.date)}: ${what}`));
  }
  $('date-marks').replaceChildren(...marks);
  renderDay();
}

function applyAll({ zoomToSimilar = false } = {}) {
  applyMeasure();
  applyFilters();
  applySelection();
  applySimilar();
  if (zoomToSimilar && state.similar) fitCodes(lastSimilar);
  renderDetails();
  syncControls();
}

function setupControls() {
  $('measure').addEventListener('change', (e) => { state.measure = e.target.value; applyMeasure(); pushUrl(); });
  $('similar').addEventListener('change', (e) => { state.similar = e.target.value; applySimilar(); if (state.similar) fitCodes(lastSimilar); pushUrl(); });
  $('verified-only').addEventListener('change', (e) => { state.verified = e.target.checked; applyFilters(); pushUrl(); });
  for (const g of GROUPS) {
    for (const box of document.querySelectorAll(`input[name="${g}"]`)) {
      box.addEventListener('change', () => {
        state.filters[g] = [...document.querySelectorAll(`input[name="${g}"]:checked`)].map((b) => b.value);
        applyFilters();
        pushUrl();
      });
    }
  }
  $('clear').addEventListener('click', () => {
    const keep = { la: state.la, list: state.list, date: state.date };
    state = { ...emptyState(), ...keep };
    applyAll();
    pushUrl();
  });
  $('toggle-list').addEventListener('click', () => { state.list = !state.list; renderList(); pushUrl(); });
  $('toggle-panel').addEventListener('click', () => {
    const p = $('panel');
    const open = p.classList.toggle('open');
    p.classList.toggle('closed', !open);
    $('toggle-panel').setAttribute('aria-expanded', String(open));
  });
  for (const b of document.querySelectorAll('#list-view th button')) {
    b.addEventListener('click', () => {
      const k = b.dataset.sort;
      sortDir = k === sortKey ? -sortDir : 1;
      sortKey = k;
      renderList();
    });
  }
  $('open-share').addEventListener('click', () => {
    const q = query(state, { forEmbed: true });
    const embedUrl = `${location.origin}/embed${q ? `?${q}` : ''}`;
    $('share-url').value = viewUrl();
    $('share-embed').value = `<iframe src="${embedUrl}" title="Map of area-based education partnerships in England" width="100%" height="480" style="border:0" loading="lazy"></iframe>`;
    $('share').showModal();
  });
  window.addEventListener('popstate', () => {
    state = readUrl();
    if ((state.date || TODAY) !== shownDay) switchDay(); else { applyAll(); renderDay(); }
  });
}

map.on('click', (e) => {
  const f = map.queryRenderedFeatures(e.point, { layers: ['la-fill', 'la-fill-no-data'] })[0];
  if (!f) return;
  if (EMBED) {
    select(f.properties.code);
    const la = byCode.get(f.properties.code);
    const div = el('div');
    div.append(el('strong', la.name), el('br'), `${la.partnership_count} partnership(s)`, el('br'));
    const a = link(`/?la=${encodeURIComponent(la.code)}${dateQuery('&')}`, 'Open in the full map');
    div.append(a);
    new maplibregl.Popup().setLngLat(e.lngLat).setDOMContent(div).addTo(map);
    return;
  }
  select(f.properties.code);
});
// Hover: name and partnership count next to the pointer (desktop).
const hover = new maplibregl.Popup({ closeButton: false, closeOnClick: false, className: 'hover-tip', offset: 12 });
map.on('mousemove', (e) => {
  const f = map.queryRenderedFeatures(e.point, { layers: ['la-fill', 'la-fill-no-data'] })[0];
  map.getCanvas().style.cursor = f ? 'pointer' : '';
  const la = f && byCode.get(f.properties.code);
  if (!la) { hover.remove(); return; }
  const n = la.partnership_count;
  hover.setLngLat(e.lngLat).setText(`${la.name}: ${n} partnership${n === 1 ? '' : 's'}${la.has_data ? '' : ' (no data yet)'}`).addTo(map);
});
map.getCanvas().addEventListener('mouseleave', () => hover.remove());

// Keyboard: with the map focused, arrows pan (MapLibre), Enter or Space selects the LA at the centre.
map.getCanvas().setAttribute('aria-label', 'Map. Arrow keys pan, plus and minus zoom, Enter selects the local authority at the centre.');
map.getCanvas().addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' && e.key !== ' ') return;
  const c = map.project(map.getCenter());
  const f = map.queryRenderedFeatures(c, { layers: ['la-fill', 'la-fill-no-data'] })[0];
  if (!f) return;
  e.preventDefault();
  select(f.properties.code);
});

ready.then(() => {
  addHighlightLayers();
  if (EMBED || !VIEW_IN_URL) {
    if (state.la && !EMBED && byCode.has(state.la)) fitCodes([state.la]); else if (byCode.has(state.similar)) fitCodes([state.similar, ...(byCode.get(state.similar)?.stat_neighbours || [])]); else fitEngland();
  }
  if (!EMBED) { setupControls(); setupSearch(); fillSimilarOptions(); setupDateControl(); }
  if (EMBED) updateOpenFull();
  applyAll();
  renderDay();
  map.once('idle', () => { document.body.dataset.ready = 'true'; document.body.dataset.shown = shownDay; });
  announceReady();
});

function updateOpenFull() {
  const q = query(state);
  $('open-full').href = `/${q ? `?${q}` : ''}`;
}

// For same-origin scripts, tests and power users: the MapLibre map itself as `window.map`, and
// the data and current matches under `window.partnershipMap`.
window.map = map;
window.partnershipMap = { map, ready, matching: () => matching().map((la) => la.code), state: () => state, search: (q) => search(q).map((la) => la.name), day: () => shownDay, inForce: (code) => byCode.has(code), loading: () => (state.date || TODAY) !== shownDay, setDate, viewUrl: () => viewUrl() };

// ---------- embedding API: postMessage protocol, version 1 (README "Embed the map") ----------
// Only in /embed, and only when framed. The embed announces `ready`, reports `select` (code and
// name) whenever an LA is selected, by the user or by a command, `filtered` (how many LAs
// match) after a `filter` command, and `dated` (the day shown and how many LAs it has) after a
// `date` command. It accepts `select`, `filter`, `fitBounds` and `date` from any origin:
// the embed is public and read-only, and its messages carry only public data, so they are posted
// to any origin too. Every command is checked strictly; anything malformed is ignored.
const PROTOCOL = 'partnership-map:';
const PROTOCOL_VERSION = 1;
const FRAMED = EMBED && window.parent !== window;
const FILTER_KEYS = new Set(['measure', ...GROUPS, 'verified', 'similar']);

function post(type, fields = {}) {
  if (FRAMED) window.parent.postMessage({ type: `${PROTOCOL}${type}`, v: PROTOCOL_VERSION, ...fields }, '*');
}
function announceReady() { post('ready'); }
function announceSelect(code) { post('select', { code, name: byCode.get(code).name }); }

const isPlainObject = (x) => x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype;
const hasExactly = (o, keys) => Object.keys(o).length === keys.length && keys.every((k) => Object.hasOwn(o, k));

// Legal filter values, from the data itself (so they cannot drift from the tiles).
function legalValues(group) {
  if (group === 'fsm') return new Set(['low', 'mid', 'high']);
  const field = { region: 'region', la_type: 'la_type', rural: 'rural_urban' }[group];
  if (field) return new Set(las.map((la) => la[field]).filter((v) => typeof v === 'string'));
  const prefix = `${group}_`;
  return new Set(las.flatMap((la) => Object.keys(la).filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))));
}

/** The URL query a `filter` command stands for, or null if its `params` are malformed. */
function filterQuery(params) {
  if (!isPlainObject(params)) return null;
  for (const [k, v] of Object.entries(params)) {
    if (!FILTER_KEYS.has(k) || typeof v !== 'string' || v.length > 2000) return null;
    if (k === 'measure' && !Object.hasOwn(MEASURES, v)) return null;
    if (k === 'verified' && v !== '1' && v !== '0') return null;
    if (k === 'similar' && v !== '' && !byCode.has(v)) return null;
    if (GROUPS.includes(k) && v !== '') {
      const legal = legalValues(k);
      if (!v.split(',').every((x) => legal.has(x))) return null;
    }
  }
  return new URLSearchParams(params).toString();
}

/** A real calendar day written YYYY-MM-DD. */
const isDay = (d) => DAY_RE.test(d) && new Date(`${d}T00:00:00Z`).toISOString().slice(0, 10) === d;

const isBbox = (b) => Array.isArray(b) && b.length === 4 && b.every((n) => typeof n === 'number' && Number.isFinite(n))
  && b[0] >= -180 && b[0] <= b[2] && b[2] <= 180 && b[1] >= -90 && b[1] <= b[3] && b[3] <= 90;

async function onCommand(msg) {
  if (!isPlainObject(msg) || typeof msg.type !== 'string' || msg.v !== PROTOCOL_VERSION) return;
  switch (msg.type) {
    case `${PROTOCOL}select`:
      if (hasExactly(msg, ['type', 'v', 'code']) && typeof msg.code === 'string' && byCode.has(msg.code)) {
        select(msg.code, { zoom: true });
      }
      break;
    case `${PROTOCOL}filter`: {
      const q = hasExactly(msg, ['type', 'v', 'params']) ? filterQuery(msg.params) : null;
      if (q === null) return;
      state = { ...readUrl(q), la: state.la, list: state.list, date: state.date };
      applyAll();
      updateOpenFull();
      post('filtered', { matching: matching().length });
      break;
    }
    case `${PROTOCOL}date`: {
      // The map of another day ('' for today's), as loading `/embed?date=…` would; a day the
      // server has no map for is ignored like any malformed command, and the map stays.
      if (!hasExactly(msg, ['type', 'v', 'date']) || typeof msg.date !== 'string') return;
      if (msg.date !== '' && (!isDay(msg.date) || msg.date < RECORD_START)) return;
      const before = state.date;
      try {
        await setDate(msg.date, { push: false });
      } catch {
        state.date = before;
        await setDate(before, { push: false }).catch(() => {});
        document.body.dataset.shown = shownDay;
        return;
      }
      updateOpenFull();
      post('dated', { date: shownDay, las: las.length });
      break;
    }
    case `${PROTOCOL}fitBounds`:
      if (hasExactly(msg, ['type', 'v', 'bbox']) && isBbox(msg.bbox)) {
        const [w, s, e, n] = msg.bbox;
        map.fitBounds([[w, s], [e, n]], { padding: 20, duration: 0 });
      }
      break;
    default:
  }
}

if (EMBED) {
  // Commands that arrive before the map and data are ready wait for them, in order.
  // A `date` command takes a moment: the next command waits for it.
  let commands = ready;
  window.addEventListener('message', (e) => {
    if (e.source !== window) commands = commands.then(() => onCommand(e.data)).catch(() => {});
  });
}
