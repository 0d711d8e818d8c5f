// Renders the OpenAPI description (/api/openapi.json) with Swagger UI, served by this binary
// from npm's swagger-ui-dist (no CDN). A separate file: the pages allow no inline script.
window.addEventListener('DOMContentLoaded', () => {
  window.ui = window.SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false
  });
});
