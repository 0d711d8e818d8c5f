// partnership-map: progressive enhancement of the contribution form.
// Without this script the form still works as a plain POST. With it, fields are checked in the
// page (the server checks again), the partnership list follows the chosen LA, and the form is
// sent as JSON so the page can show the reference without reloading.
const form = document.getElementById('contribute');
const byLa = JSON.parse(document.getElementById('partnerships-by-la').textContent);
const result = document.getElementById('result');

function setError(name, message) {
  const field = form.elements[name];
  const input = field instanceof RadioNodeList ? field[0] : field;
  const id = `${name}-error`;
  let p = document.getElementById(id);
  if (!message) {
    if (p) p.remove();
    if (input && input.removeAttribute) input.removeAttribute('aria-invalid');
    return;
  }
  if (!p) {
    p = document.createElement('p');
    p.className = 'error';
    p.id = id;
    const container = input.closest('.field') || input.parentElement;
    container.appendChild(p);
  }
  p.textContent = message; // text only, never HTML
  if (input && input.setAttribute) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', id);
  }
}

function values() {
  const data = Object.fromEntries(new FormData(form).entries());
  data.consent = form.elements.consent.checked;
  return data;
}

// Mirrors src/submission.rs; the server's answer wins.
function check(v) {
  const e = {};
  if (!v.la) e.la = 'Choose the local authority this is about.';
  if (!v.kind) e.kind = 'Choose what kind of contribution this is.';
  const msg = (v.message || '').trim();
  if (msg.length < 10) e.message = 'Tell us what should change, in at least 10 characters.';
  else if (msg.length > 5000) e.message = 'Keep the message under 5000 characters.';
  if (!(v.name || '').trim()) e.name = 'Give your name, so we can follow up.';
  if (v.kind === 'verification' && !(v.organisation || '').trim()) e.organisation = 'Say which LA you verify for.';
  const email = (v.email || '').trim();
  if (!email) e.email = 'Give an email address, so we can follow up.';
  else if (!/^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(email)) e.email = 'This does not look like an email address.';
  if (!v.consent) e.consent = 'We can only store your details with your consent.';
  return e;
}

const FIELDS = ['la', 'partnership', 'kind', 'message', 'name', 'organisation', 'email', 'consent'];

function show(errors) {
  for (const f of FIELDS) setError(f, errors[f]);
  const first = FIELDS.find((f) => errors[f]);
  if (first) {
    const el = form.elements[first];
    (el instanceof RadioNodeList ? el[0] : el).focus();
  }
}

form.elements.la.addEventListener('change', () => {
  const select = form.elements.partnership;
  select.replaceChildren(new Option('None / the LA as a whole', ''));
  for (const p of byLa[form.elements.la.value] || []) select.add(new Option(p.name, p.id));
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const v = values();
  const errors = check(v);
  show(errors);
  if (Object.keys(errors).length) {
    result.textContent = 'Please check the highlighted fields.';
    return;
  }
  result.textContent = 'Sending…';
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const res = await fetch('/api/submissions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(v),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status === 201) {
      form.reset();
      const strong = document.createElement('strong');
      strong.id = 'reference';
      strong.textContent = body.id;
      result.replaceChildren('Thank you. Your submission is stored. Your reference is ', strong, '.');
      result.className = 'confirmation';
    } else if (res.status === 400 && body.fields) {
      show(body.fields);
      result.textContent = 'Please check the highlighted fields.';
    } else if (res.status === 429) {
      const mins = Math.ceil(Number(res.headers.get('Retry-After') || 60) / 60);
      result.textContent = `Too many submissions from your address. Please try again in ${mins} minutes.`;
    } else {
      result.textContent = body.error || `Something went wrong (${res.status}). Please try again.`;
    }
  } catch (err) {
    result.textContent = 'Could not reach the server. Please try again.';
  } finally {
    button.disabled = false;
  }
});
