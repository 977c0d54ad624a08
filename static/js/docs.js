// Start Swagger UI on /docs. A file, not an inline script: the CSP allows only 'self' scripts.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null // never ask validator.swagger.io (no third-party requests)
  });
})();
