// The host site's script for web/tests/embed.test.mjs. It follows the README's snippet ("Embed
// the map: talk to it from your page"): it frames the embed, sends commands to the embed's
// origin only and listens to that origin only. For the test it takes the embed's URL from its
// own ?embed=, keeps every message in window.received and lists it in #log; with ?early=1 it
// sends two commands as soon as the frame has loaded, before the embed says `ready`.
const params = new URLSearchParams(location.search);
const frame = document.getElementById('pm');
frame.src = params.get('embed');
const origin = new URL(frame.src).origin;
const send = (msg) => frame.contentWindow.postMessage(msg, origin);

window.received = [];
window.partnershipMapEmbed = { send };
window.addEventListener('message', (e) => {
  if (e.origin !== origin || e.source !== frame.contentWindow) return;
  const m = e.data;
  window.received.push(m);
  const li = document.createElement('li');
  li.textContent = [String(m.type).replace('partnership-map:', ''), m.code, m.name, m.matching].filter((x) => x !== undefined).join(' ');
  document.getElementById('log').append(li);
});

if (params.get('early')) {
  frame.addEventListener('load', () => {
    send({ type: 'partnership-map:select', v: 1, code: 'E06000026' });
    send({ type: 'partnership-map:filter', v: 1, params: { region: 'South West' } });
  });
}
