// Renders the OpenAPI description (/api/openapi.json) with Swagger UI, served by this binary
// from npm's swagger-ui-dist (no CDN). A separate file: the pages allow no inline script.
//
// Accessibility (web/tests/a11y.test.mjs runs axe on this page): Swagger UI draws the
// operations in a <main> of its own, so the page has no other; the plugin below puts the rest of
// what it draws (the API's title and description, the authorise button) in named regions, and
// gives the operations a level-2 heading so that its tag headings (h3) follow the title (h1).
// deepLinking stays off: with it, each operation's path is a link inside the button that opens
// the operation, a control nested in a control that keyboards and screen readers cannot tell
// apart. Each responses table is drawn with role="region", which hides that it is a table and
// repeats one unnamed landmark per open operation: the observer below takes the role off again
// whenever Swagger UI draws one. api.css darkens the method colours to AA contrast.
const region = (label) => (Original, system) => (props) => {
  const h = system.React.createElement;
  return h('div', { role: 'region', 'aria-label': label }, h(Original, props));
};

const Landmarks = () => ({
  wrapComponents: {
    InfoContainer: region('About this API'),
    ServersContainer: region('Servers'),
    SchemesContainer: region('Schemes'),
    AuthorizeBtnContainer: region('Authorisation'),
    operations: (Original, system) => (props) => {
      const h = system.React.createElement;
      return h(system.React.Fragment, null, h('h2', { className: 'visually-hidden' }, 'Operations'), h(Original, props));
    },
  },
});

function tablesAsTables(root) {
  for (const t of root.querySelectorAll('table[role=region]')) t.removeAttribute('role');
}

window.addEventListener('DOMContentLoaded', () => {
  const root = document.getElementById('swagger-ui');
  new MutationObserver(() => tablesAsTables(root)).observe(root, { childList: true, subtree: true });
  window.ui = window.SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: false,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    plugins: [Landmarks],
  });
});
