"""The OpenAPI description matches the app's routes, and /docs needs nothing from outside."""

import re
from html.parser import HTMLParser

import schemathesis

#: Endpoints that are not part of the HTTP API: pages and assets for browsers.
NOT_API = {"static", "site.socketio_client", "docs.page", "docs.asset"}

METHODS = {"get", "post", "put", "patch", "delete"}


def shape(path: str) -> str:
    """Return a path with every parameter written ``{}`` (names may differ, places may not)."""
    return re.sub(r"\{[^{}]+\}", "{}", path)


def spec_operations(spec: dict) -> set[tuple[str, str]]:
    """Return (METHOD, path shape) of every operation the spec describes."""
    return {
        (method.upper(), shape(path))
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def app_operations(app) -> set[tuple[str, str]]:
    """Return (METHOD, path shape) of every API route of the app."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API:
            continue
        path = re.sub(r"<[^<>]+>", "{}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operations.add((method, path))
    return operations


def test_openapi_is_valid_openapi_3(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["servers"] == [{"url": "/"}]
    # schemathesis validates the document against the OpenAPI 3 meta-schema when loading it.
    schema = schemathesis.openapi.from_dict(spec)
    assert len(list(schema.get_all_operations())) == len(spec_operations(spec))


def test_every_api_route_is_described_with_its_methods(app, client):
    spec = client.get("/openapi.json").get_json()
    missing = app_operations(app) - spec_operations(spec)
    assert not missing, f"routes of the app missing from /openapi.json: {sorted(missing)}"


def test_every_described_operation_is_a_route_of_the_app(app, client):
    spec = client.get("/openapi.json").get_json()
    missing = spec_operations(spec) - app_operations(app)
    assert not missing, f"operations of /openapi.json the app does not serve: {sorted(missing)}"


def test_contract_status_codes_are_described(client):
    paths = client.get("/openapi.json").get_json()["paths"]

    def codes(path, method):
        return set(paths[path][method]["responses"])

    assert {"201", "400", "413", "415", "429"} <= codes("/payments/pix", "post")
    assert {"200", "400", "404"} <= codes("/payments/pix/{payment_id}/status", "get")
    assert {"200", "404"} <= codes("/payments/pix/qr_code/{qr_code}", "get")
    assert {"200", "400", "401", "404", "409", "413", "415", "503"} <= codes(
        "/payments/pix/confirmation", "post")
    assert {"200", "400", "401"} <= codes("/payments/pix/confirmation/pix", "post")
    assert {"200", "503"} <= codes("/health", "get")
    events = paths["/payments/pix/{payment_id}/events"]["get"]["responses"]["200"]
    assert list(events["content"]) == ["text/event-stream"]


def test_the_spec_maximum_follows_the_configured_maximum(app, client):
    spec = client.get("/openapi.json").get_json()
    number = spec["components"]["schemas"]["CreatePayment"]["properties"]["value"]["anyOf"][0]
    assert number["maximum"] == 1000000
    app.config["PIX_MAX_CENTS"] = 12345
    spec = client.get("/openapi.json").get_json()
    value = spec["components"]["schemas"]["CreatePayment"]["properties"]["value"]
    assert value["anyOf"][0]["maximum"] == 123.45


class _Assets(HTMLParser):
    """Collect what a page loads and whether it has inline scripts or styles."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])
        if tag == "style" or "style" in attrs or any(name.startswith("on") for name in attrs):
            self.inline.append(tag)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append("script")


def page_assets(html: str) -> _Assets:
    """Return the assets and inline code of an HTML page."""
    parser = _Assets()
    parser.feed(html)
    return parser


def test_docs_page_loads_only_local_assets_and_no_inline_code(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assets = page_assets(response.get_data(as_text=True))
    assert assets.inline == []
    assert any(url.endswith("swagger-ui-bundle.js") for url in assets.urls)
    assert any(url.endswith("/static/js/docs.js") for url in assets.urls)
    for url in assets.urls:
        assert url.startswith("/"), f"{url} is not served by the app"
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert len(asset.data) > 0


def test_docs_assets_serve_only_the_swagger_ui_files(client):
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2F__init__.py").status_code == 404
    with client.get("/docs/assets/swagger-ui.css") as css:
        assert css.mimetype == "text/css"
