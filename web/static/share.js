// partnership-map: taking the map view away. "Download image" saves the current view with its
// legend and attribution as a PNG; "Download CSV" saves the LAs that match the current filters;
// the print picture (#print-map, shown on paper instead of the canvas) follows the view.
// Kept apart from map.js: it only reads window.partnershipMap (map, ready, state, matching)
// and the legend map.js renders, so it never changes how the map behaves.
import '/static/map.js';

const pm = window.partnershipMap;
const $ = (id) => document.getElementById(id);

// ---------- the print picture ----------
/** The server-rendered picture of the current view (`/render/…`). */
export function pictureUrl(state) {
  const m = state.measure && state.measure !== 'count' ? `&measure=${encodeURIComponent(state.measure)}` : '';
  const d = state.date ? `&date=${encodeURIComponent(state.date)}` : '';
  if (state.la) return `/render/la/${encodeURIComponent(state.la)}.png?w=1200&h=630${m}${d}`;
  const sim = state.similar ? `&similar=${encodeURIComponent(state.similar)}` : '';
  return `/render/england.png?w=1200${m}${sim}${d}`;
}

function syncPrintPicture() {
  const img = document.querySelector('#print-map img');
  if (!img) return;
  // An LA that is not a council on the day shown (abolished, or not yet made) has no picture
  // of that day: England's is printed instead.
  const st = pm.state();
  // While another day loads, wait for it: the legend's redraw (observed below) calls again.
  if (pm.loading()) return;
  const want = new URL(pictureUrl(pm.inForce(st.la) ? st : { ...st, la: '' }), location.origin).href;
  if (img.src !== want) img.src = want;
}

// ---------- CSV of the matching LAs ----------
/** One CSV field: quoted when needed, and never read as a formula by a spreadsheet. */
export function csvField(v) {
  let s = v == null ? '' : Array.isArray(v) ? v.join(';') : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV text (with a byte-order mark for spreadsheets) of `las`, every attribute as a column. */
export function lasCsv(las) {
  const columns = [];
  for (const la of las) for (const k of Object.keys(la)) if (k !== 'bbox' && k !== 'label' && !columns.includes(k)) columns.push(k);
  const lines = [columns.join(',')];
  for (const la of las) lines.push(columns.map((c) => csvField(la[c])).join(','));
  return `\ufeff${lines.join('\r\n')}\r\n`;
}

function save(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function downloadCsv() {
  const date = pm.state().date;
  const data = await (await fetch(`/api/las${date ? `?date=${encodeURIComponent(date)}` : ''}`)).json();
  const codes = new Set(pm.matching());
  const rows = data.local_authorities.filter((la) => codes.has(la.code)).sort((a, b) => a.name.localeCompare(b.name));
  const filtered = rows.length < data.local_authorities.length ? '-filtered' : '';
  const day = date ? `-on-${date}` : '';
  save(new Blob([lasCsv(rows)], { type: 'text/csv;charset=utf-8' }), `partnership-map-las${filtered}${day}-${data.data_as_of || data.data_version}.csv`);
}

// ---------- PNG of the current view ----------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The PNG with tEXt chunks (keyword → Latin-1 text) inserted after its header chunk. */
export function withPngText(png, entries) {
  const enc = (s) => Uint8Array.from([...s].map((ch) => (ch.charCodeAt(0) < 256 ? ch.charCodeAt(0) : 63)));
  const chunks = entries.map(([k, v]) => {
    const data = new Uint8Array([...enc(k), 0, ...enc(v)]);
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(enc('tEXt'), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  });
  const ihdrEnd = 8 + 12 + new DataView(png.buffer, png.byteOffset).getUint32(8);
  const total = png.length + chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(total);
  out.set(png.subarray(0, ihdrEnd), 0);
  let at = ihdrEnd;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  out.set(png.subarray(ihdrEnd), at);
  return out;
}

/** The map canvas as drawn in the next frame (the WebGL buffer is only readable then). */
function grabMap(map) {
  return new Promise((resolve) => {
    map.once('render', () => {
      const src = map.getCanvas();
      const copy = document.createElement('canvas');
      copy.width = src.width;
      copy.height = src.height;
      copy.getContext('2d').drawImage(src, 0, 0);
      resolve(copy);
    });
    map.triggerRepaint();
  });
}

/** The legend as shown on the page: title, entries (label, colour) and any note. */
function legendFromPage() {
  const box = $('legend');
  return {
    title: box?.querySelector('h2')?.textContent || '',
    items: [...(box?.querySelectorAll('li') || [])].map((li) => ({ label: li.textContent.trim(), color: getComputedStyle(li.querySelector('.swatch')).backgroundColor })),
    note: box?.querySelector('.legend-note')?.textContent || '',
  };
}

function wrapText(ctx, text, max) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (line && ctx.measureText(next).width > max) { lines.push(line); line = word; } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** The view as one picture: the map, then a strip with the heading, legend and attribution. */
export function composeView(mapCanvas, { heading, legend, attribution, footer }) {
  const scale = mapCanvas.width / (pm.map.getContainer().clientWidth || mapCanvas.width);
  const px = (v) => Math.round(v * scale);
  const pad = px(12);
  const font = (size, weight = 400) => `${weight} ${px(size)}px "Open Sans", system-ui, sans-serif`;
  const measure = document.createElement('canvas').getContext('2d');
  // Lay out the legend entries in rows across the width.
  measure.font = font(12);
  const sw = px(16); const sh = px(12); const gap = px(18); const row = px(20);
  let x = pad; let rows = 1;
  const placed = legend.items.map((it) => {
    const w = sw + px(6) + measure.measureText(it.label).width;
    if (x + w > mapCanvas.width - pad && x > pad) { x = pad; rows += 1; }
    const at = { ...it, x, row: rows - 1 };
    x += w + gap;
    return at;
  });
  measure.font = font(10);
  const attr = wrapText(measure, attribution, mapCanvas.width - 2 * pad);
  const foot = wrapText(measure, footer, mapCanvas.width - 2 * pad);
  const headH = px(22);
  const stripH = pad + headH + rows * row + (legend.note ? row : 0) + px(6) + (attr.length + foot.length) * px(14) + pad;
  const out = document.createElement('canvas');
  out.width = mapCanvas.width;
  out.height = mapCanvas.height + stripH;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(mapCanvas, 0, 0);
  ctx.fillStyle = '#c8c8c8';
  ctx.fillRect(0, mapCanvas.height, out.width, Math.max(1, px(1)));
  let y = mapCanvas.height + pad;
  ctx.textBaseline = 'top';
  ctx.fillStyle = '#1b1b1b';
  ctx.font = font(14, 600);
  ctx.fillText(heading ? `${heading} · ${legend.title}` : legend.title, pad, y);
  y += headH;
  ctx.font = font(12);
  for (const it of placed) {
    const top = y + it.row * row;
    ctx.fillStyle = it.color;
    ctx.fillRect(it.x, top + (row - sh) / 2 - px(2), sw, sh);
    ctx.strokeStyle = '#767676';
    ctx.lineWidth = Math.max(1, px(1));
    ctx.strokeRect(it.x, top + (row - sh) / 2 - px(2), sw, sh);
    ctx.fillStyle = '#1b1b1b';
    ctx.fillText(it.label, it.x + sw + px(6), top + px(1));
  }
  y += rows * row;
  if (legend.note) { ctx.fillStyle = '#8a3b00'; ctx.fillText(legend.note, pad, y); y += row; }
  y += px(6);
  ctx.font = font(10);
  ctx.fillStyle = '#4a4a4a';
  for (const line of [...attr, ...foot]) { ctx.fillText(line, pad, y); y += px(14); }
  return out;
}

async function downloadImage() {
  const button = $('download-image');
  if (button) button.disabled = true;
  try {
    const { map } = pm;
    const st = pm.state();
    const attribution = map.getStyle().sources['partnership-map']?.attribution || '';
    const dataAsOf = $('data-as-of')?.textContent || '';
    const heading = st.la ? (document.querySelector('#details h2')?.textContent || '') : 'England';
    const canvas = composeView(await grabMap(map), {
      heading,
      legend: legendFromPage(),
      attribution,
      footer: `Councils as of ${pm.day()}. Data as of ${dataAsOf}. ${location.href}`,
    });
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const png = withPngText(new Uint8Array(await blob.arrayBuffer()), [
      ['Title', `partnership-map: ${heading}`],
      ['Source', location.href],
      ['Copyright', attribution],
      ['Creation Time', new Date().toISOString()],
    ]);
    const slug = (heading || 'map').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    save(new Blob([png], { type: 'image/png' }), `partnership-map-${slug}-${dataAsOf || 'view'}.png`);
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------- wiring ----------
pm.ready.then(() => {
  const box = document.querySelector('.downloads');
  if (box) box.hidden = false;
  $('download-image')?.addEventListener('click', () => { downloadImage(); });
  $('download-csv')?.addEventListener('click', () => { downloadCsv(); });
  syncPrintPicture();
  // map.js re-renders the details on a new selection and the legend on a new measure or
  // "similar" set: the print picture follows both.
  const watch = new MutationObserver(syncPrintPicture);
  for (const id of ['details', 'legend']) if ($(id)) watch.observe($(id), { childList: true });
  window.addEventListener('popstate', syncPrintPicture);
});

window.partnershipShare = { pictureUrl, lasCsv, downloadImage, downloadCsv };
