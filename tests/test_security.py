"""Headers, limits, escaping and secrets: what an attacker or a misconfiguration would meet."""

import json
import logging
import urllib.error
import urllib.request

import pytest

from payments.extensions import db
from payments.pix import brcode as pix
from payments.web.security import CONTENT_SECURITY_POLICY, rate_limit_storage
from tests.apps import app_with_tables
from tests.test_openapi import page_assets

BIG = json.dumps({"value": 1, "padding": "x" * (64 * 1024)})


def make_app(tmp_path, **config):
    """Return an app on its own SQLite file with extra settings."""
    return app_with_tables({"TESTING": True, "SECRET_KEY": "test",
                            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'sec.sqlite'}",
                            **config}, str(tmp_path))


@pytest.fixture
def dispose():
    """Dispose the engines of apps a test made."""
    apps = []
    yield apps.append
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("path", ["/payments/pix/nope", "/health", "/openapi.json", "/docs"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_response_keeps_a_security_header_it_sets_itself(app, client):
    @app.get("/_test/framed")
    def framed():
        return "ok", 200, {"x-frame-options": "SAMEORIGIN"}

    response = client.get("/_test/framed")

    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_payment_pages_work_under_the_csp(client, create, notify):
    """The CSP forbids inline code: every page loads only its own files, which exist."""
    payment = create()
    pending = client.get(payment["page_url"])
    notify(payment)
    paid = client.get(payment["page_url"])
    missing = client.get("/payments/pix/unknown-payment-id-0000")
    for response in (pending, paid, missing):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assets = page_assets(response.get_data(as_text=True))
        assert assets.inline == [], "inline script or style would be blocked by the CSP"
        for url in assets.urls:
            assert url.startswith("/"), f"{url} is not the app's own"
            with client.get(url) as asset:
                assert asset.status_code == 200, url


def test_a_charge_body_over_64_kib_gets_413_json(client):
    response = client.post("/payments/pix", data=BIG, content_type="application/json")
    assert response.status_code == 413
    assert response.is_json and response.get_json()["message"]


# Webhooks may accept larger bodies than 64 KiB (an API Pix batch); over their limit, too, the
# answer is a 413 JSON error. 2 MiB is over any limit they set.
@pytest.mark.parametrize("path", ["/payments/pix/confirmation", "/payments/pix/confirmation/pix"])
def test_webhook_bodies_over_the_limit_get_413_json(client, path):
    huge = json.dumps({"pix": [], "padding": "x" * (2 * 1024 * 1024)})
    response = client.post(path, data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.is_json and response.get_json()["message"]


def test_charge_creation_is_limited_per_client_address(tmp_path, dispose):
    app = make_app(tmp_path, RATE_LIMIT_CREATE="2/minute")
    dispose(app)
    client = app.test_client()
    for _ in range(2):
        assert client.post("/payments/pix", json={"value": 10}).status_code == 201
    refused = client.post("/payments/pix", json={"value": 10})
    assert refused.status_code == 429
    assert refused.get_json() == {
        "message": "Too many payments created with this API key or from this address; "
                   "retry later"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    # Another address still may; reading is never limited.
    other = client.post("/payments/pix", json={"value": 10},
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 201
    assert client.get(other.get_json()["payment"]["page_url"] + "/status").status_code == 200


@pytest.mark.parametrize("proxies, limited", [(None, True), ("10.0.0.0/8", True),
                                              ("127.0.0.1", False)])
def test_behind_trusted_proxies_the_limit_counts_the_forwarded_client(
        tmp_path, dispose, proxies, limited):
    app = make_app(tmp_path, RATE_LIMIT_CREATE="1/minute", TRUSTED_PROXIES=proxies)
    dispose(app)
    client = app.test_client()
    codes = [client.post("/payments/pix", json={"value": 1},
                         headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
             for n in (1, 2)]
    # The test client connects from 127.0.0.1. Untrusted, the header is ignored: both come
    # from the proxy's address, one limit.
    assert codes == ([201, 429] if limited else [201, 201])


def test_an_empty_rate_limit_turns_it_off(tmp_path, dispose, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_CREATE", "")
    app = make_app(tmp_path)
    dispose(app)
    assert app.config["RATE_LIMIT_CREATE"] == ""
    client = app.test_client()
    assert all(client.post("/payments/pix", json={"value": 1}).status_code == 201
               for _ in range(70))


def test_a_malformed_rate_limit_stops_the_start(tmp_path):
    from payments.settings import ConfigError

    with pytest.raises(ConfigError, match="RATE_LIMIT_CREATE"):
        make_app(tmp_path, RATE_LIMIT_CREATE="lots")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        make_app(tmp_path, TRUSTED_PROXIES="all")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES: '1' is a count of proxies"):
        make_app(tmp_path, TRUSTED_PROXIES="1")


def test_rate_limit_counters_live_in_redis_when_the_queue_does():
    assert rate_limit_storage({}) == "memory://"
    assert rate_limit_storage({"SOCKETIO_MESSAGE_QUEUE": "redis://h:6379/7"}) == "redis://h:6379/7"
    assert rate_limit_storage({"SOCKETIO_MESSAGE_QUEUE": "redis://h/7",
                               "RATE_LIMIT_STORAGE_URI": "memory://"}) == "memory://"


def _socketio_handshake(app, origin):
    """Open an Engine.IO polling session from ``origin``; return the response."""
    client = app.test_client()
    return client.get("/socket.io/?EIO=4&transport=polling",
                      headers={"Origin": origin, "Host": "pay.example"})


def test_socketio_refuses_other_origins_by_default(app):
    assert app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] is None
    assert _socketio_handshake(app, "http://pay.example").status_code == 200
    refused = _socketio_handshake(app, "https://evil.example")
    assert refused.status_code == 400


def test_socketio_origins_come_from_the_setting(tmp_path, dispose):
    app = make_app(tmp_path, SOCKETIO_CORS_ALLOWED_ORIGINS="https://shop.example, https://b.example/")
    dispose(app)
    assert app.config["SOCKETIO_CORS_ALLOWED_ORIGINS"] == ["https://shop.example",
                                                           "https://b.example"]
    assert _socketio_handshake(app, "https://shop.example").status_code == 200
    assert _socketio_handshake(app, "https://b.example").status_code == 200
    assert _socketio_handshake(app, "https://evil.example").status_code == 400
    assert _socketio_handshake(app, "http://pay.example").status_code == 400


def test_debug_is_off_even_when_flask_debug_is_set(tmp_path, dispose, monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = make_app(tmp_path)
    dispose(app)
    assert app.debug is False


@pytest.mark.parametrize("env", [{}, {"FLASK_DEBUG": "1"}])
def test_the_werkzeug_debugger_is_never_reachable(tmp_path, env):
    from tests.live import LiveServer

    with LiveServer(tmp_path, env=env) as server:
        for path in ("/?__debugger__=yes&cmd=resource&f=debugger.js", "/console"):
            try:
                with urllib.request.urlopen(server.url + path, timeout=10) as response:
                    status, body = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
            assert status == 404, path
            assert b"Werkzeug" not in body and b"debugger" not in body.lower()
        assert "Debugger is active" not in server.log()


MARKUP = "<script>alert(1)</script>"


def test_templates_escape_the_merchant_name(tmp_path, dispose):
    app = make_app(tmp_path, PIX_MERCHANT_NAME=MARKUP)
    dispose(app)
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 5}).get_json()["payment"]
    for path in (payment["page_url"], "/payments/pix/unknown-payment-id-0000"):
        html = client.get(path).get_data(as_text=True)
        assert MARKUP not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    code = pix.parse_brcode(payment["pix_code"], strict=True)
    assert code.name == "<SCRIPT>ALERT(1)</SCRIPT>"[:25]  # printable ASCII, upper case


SECRET_KEY = "s3cr3t-key-never-shown-0123456789"
WEBHOOK_SECRET = "whsec-never-shown-9876543210"


def test_no_secret_in_answers_pages_or_logs(tmp_path, dispose, caplog):
    app = make_app(tmp_path, SECRET_KEY=SECRET_KEY, PIX_WEBHOOK_SECRET=WEBHOOK_SECRET)
    dispose(app)
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    payment = client.post("/payments/pix", json={"value": 5}).get_json()["payment"]
    answers = [
        client.get(payment["page_url"]),
        client.get(payment["page_url"] + "/status"),
        client.get("/openapi.json"),
        client.get("/docs"),
        client.get("/health"),
        client.get("/payments/pix/nope-nope-nope-nope"),
        client.post("/payments/pix", data="{", content_type="application/json"),
        client.post("/payments/pix/confirmation", data=json.dumps(
            {"bank_payment_id": payment["bank_payment_id"], "value": 5}),
            content_type="application/json",
            headers={"X-Webhook-Signature": "t=1,v1=00"}),
        client.post("/payments/pix/confirmation", data="not json",
                    content_type="application/json"),
    ]
    seen = "\n".join(r.get_data(as_text=True) + str(r.headers) for r in answers)
    seen += "\n".join(record.getMessage() for record in caplog.records)
    seen += caplog.text
    for secret in (SECRET_KEY, WEBHOOK_SECRET):
        assert secret not in seen


REDIS_DB = "redis://127.0.0.1:6379/7"  # this branch's Redis db on the shared server


def test_processes_sharing_redis_share_the_rate_limit(tmp_path, dispose):
    from tests.backends import _redis_answers
    from tests.requires import service

    service(_redis_answers(REDIS_DB), "Redis is not answering on 127.0.0.1:6379")
    import redis

    redis.Redis.from_url(REDIS_DB).flushdb()
    apps = []
    for name in ("a", "b"):  # two processes' apps, each with its own database
        (tmp_path / name).mkdir()
        apps.append(make_app(tmp_path / name, RATE_LIMIT_CREATE="2/minute",
                             RATE_LIMIT_STORAGE_URI=REDIS_DB))
        dispose(apps[-1])
    first, second = apps
    try:
        assert first.test_client().post("/payments/pix", json={"value": 1}).status_code == 201
        assert second.test_client().post("/payments/pix", json={"value": 1}).status_code == 201
        refused = first.test_client().post("/payments/pix", json={"value": 1})
        assert refused.status_code == 429 and refused.headers["Retry-After"]
    finally:
        redis.Redis.from_url(REDIS_DB).flushdb()
