"""Whom to believe: ``TRUSTED_PROXIES``, ``ALLOWED_HOSTS`` and redirects (payments/web/proxies.py),
and chunked bodies through the test client (payments/web/chunked.py)."""

import io
import json

import pytest

from payments.bank.signature import sign
from payments.extensions import db
from payments.patterns import MAX_BODY, MAX_WEBHOOK_BODY
from payments.settings import ConfigError
from tests.apps import app_with_tables

SECRET = "proxies test secret"


def make_app(tmp_path, **config):
    """Return an app on its own SQLite file with extra settings."""
    return app_with_tables(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "RATE_LIMIT_CREATE": "",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'px.sqlite'}",
            **config,
        },
        str(tmp_path),
    )


@pytest.fixture
def made(tmp_path):
    """Return a maker of apps whose engines are disposed after the test."""
    apps = []

    def maker(**config):
        app = make_app(tmp_path, **config)
        apps.append(app)
        return app

    yield maker
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def seen_by_app(app, peer: str, headers: dict) -> dict:
    """Return the client address and scheme the app sees for a request from ``peer``."""
    if "_seen" not in app.view_functions:

        @app.get("/_seen")
        def _seen():
            from flask import request

            return {
                "address": request.remote_addr,
                "scheme": request.scheme,
                "host_header": request.environ.get("HTTP_X_FORWARDED_HOST"),
            }

    return (
        app.test_client()
        .get("/_seen", headers=headers, environ_base={"REMOTE_ADDR": peer})
        .get_json()
    )


FORGED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
}


def test_forwarded_headers_from_a_trusted_proxy_are_believed(made):
    app = made(TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8")
    assert seen_by_app(app, "10.1.2.3", FORGED) == {
        "address": "203.0.113.9",
        "scheme": "https",
        "host_header": None,
    }


def test_forwarded_headers_from_anyone_else_are_ignored(made):
    app = made(TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8")
    assert seen_by_app(app, "198.51.100.4", FORGED) == {
        "address": "198.51.100.4",
        "scheme": "http",
        "host_header": None,
    }


def test_without_trusted_proxies_nobody_is_believed(made):
    app = made()
    assert seen_by_app(app, "127.0.0.1", FORGED)["address"] == "127.0.0.1"


def test_a_chain_of_trusted_proxies_gives_the_first_untrusted_address(made):
    app = made(TRUSTED_PROXIES="10.0.0.0/8")
    # The client's own claim (first) is not believed; the outer proxy's view of it is.
    headers = {"X-Forwarded-For": "192.0.2.66, 203.0.113.9, 10.0.0.5"}
    assert seen_by_app(app, "10.0.0.7", headers)["address"] == "203.0.113.9"
    garbage = {"X-Forwarded-For": "not-an-address"}
    assert seen_by_app(app, "10.0.0.7", garbage)["address"] == "10.0.0.7"


def test_the_rate_limit_counts_forwarded_clients_only_behind_a_trusted_proxy(made):
    for proxies, codes in (("127.0.0.1", [201, 201]), ("10.0.0.0/8", [201, 429])):
        app = made(TRUSTED_PROXIES=proxies, RATE_LIMIT_CREATE="1/minute")
        client = app.test_client()  # connects from 127.0.0.1
        assert [
            client.post(
                "/payments/pix", json={"value": 1}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
            ).status_code
            for n in (1, 2)
        ] == codes


@pytest.mark.parametrize(
    "value, problem",
    [
        ("1", "TRUSTED_PROXIES: '1' is a count of proxies, which is no longer accepted"),
        ("0", "TRUSTED_PROXIES: '0' is a count of proxies"),
        (2, "TRUSTED_PROXIES: '2' is a count of proxies"),
        ("127.0.0.1,nginx", "TRUSTED_PROXIES: 'nginx' is not an IP address or CIDR range"),
        ("10.0.0.0/33", "TRUSTED_PROXIES: '10.0.0.0/33' is not an IP address or CIDR range"),
    ],
)
def test_trusted_proxies_that_are_not_addresses_stop_the_start(tmp_path, value, problem):
    with pytest.raises(ConfigError, match="^" + problem.replace("(", r"\(")):
        make_app(tmp_path, TRUSTED_PROXIES=value)


def test_trusted_proxies_accept_addresses_ranges_and_ipv6(made):
    app = made(TRUSTED_PROXIES=" 127.0.0.1 , 10.0.0.0/8,::1,")
    assert [str(n) for n in app.config["TRUSTED_PROXIES"]] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]


def test_a_request_for_another_host_is_400_json(made):
    app = made(ALLOWED_HOSTS="pay.example.com, 127.0.0.1")
    client = app.test_client()
    for host in ("pay.example.com", "PAY.example.com:8443", "127.0.0.1:5000"):
        assert client.get("/health", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "pay.example.com.evil.example", ""):
        response = client.get("/health", headers={"Host": host})
        assert response.status_code == 400, host
        assert response.get_json() == {
            "message": "This server does not answer for the host named in the Host header"
        }
    # Socket.IO is behind the same door.
    refused = client.get("/socket.io/?EIO=4&transport=polling", headers={"Host": "evil.example"})
    assert refused.status_code == 400


def test_without_allowed_hosts_any_host_is_served(made):
    app = made()
    assert app.test_client().get("/health", headers={"Host": "anything.example"}).status_code == 200


def test_a_bad_allowed_host_stops_the_start(tmp_path):
    with pytest.raises(
        ConfigError, match="ALLOWED_HOSTS: 'http://pay.example.com/' is not a host name"
    ):
        make_app(tmp_path, ALLOWED_HOSTS="http://pay.example.com/")


@pytest.mark.parametrize("allowed", [None, "evil.example,pay.example.com"])
def test_a_308_never_points_at_the_host_the_client_sent(made, allowed):
    app = made(ALLOWED_HOSTS=allowed)

    @app.get("/section/")
    def section():
        return {}

    response = app.test_client().get("/section?x=1", headers={"Host": "evil.example"})
    assert response.status_code == 308
    assert response.headers["Location"] == "/section/?x=1"
    assert b"evil.example" not in response.data
    assert response.get_json() == {"message": "Moved to /section/?x=1"}


def test_a_redirect_the_app_chose_elsewhere_is_kept(made):
    app = made()

    @app.get("/away")
    def away():
        from flask import redirect

        return redirect("https://bank.example/return", 302)

    response = app.test_client().get("/away", headers={"Host": "evil.example"})
    assert response.headers["Location"] == "https://bank.example/return"


def chunked_post(client, path: str, body: bytes, headers: dict):
    """POST ``body`` as a server hands a chunked body to the app: no length, input terminated."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_signed_notice_without_content_length_is_read(made):
    app = made(PIX_WEBHOOK_SECRET=SECRET)
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    body = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 10}).encode()
    response = chunked_post(
        client,
        "/payments/pix/confirmation",
        body,
        {"Content-Type": "application/json", "X-Webhook-Signature": sign(SECRET, body)},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["payment"]["status"] == "paid"


@pytest.mark.parametrize(
    "path, limit", [("/payments/pix/confirmation", MAX_WEBHOOK_BODY), ("/payments/pix", MAX_BODY)]
)
def test_a_body_without_content_length_keeps_the_size_limit(made, path, limit):
    app = made()
    client = app.test_client()
    for size, status in ((limit + 1, 413), (limit * 3, 413)):
        body = b'{"value": 1, "x": "' + b"x" * (size - 21) + b'"}'
        assert len(body) == size
        response = chunked_post(client, path, body, {"Content-Type": "application/json"})
        assert response.status_code == status, size
        assert "message" in response.get_json()
    # Exactly the limit is read whole (then judged on its content, never cut short).
    body = b'{"value": 1, "x": "' + b"x" * (limit - 21) + b'"}'
    response = chunked_post(client, path, body, {"Content-Type": "application/json"})
    assert response.status_code != 413


def test_the_old_proxy_count_stops_the_server_with_one_line(tmp_path):
    from tests.test_start import start, the_line

    done = start(tmp_path, "eventlet", TRUSTED_PROXIES="1")
    assert the_line(done) == (
        "error: TRUSTED_PROXIES: '1' is a count of proxies, which is no longer accepted: give "
        "the proxies' addresses or CIDR ranges, e.g. 127.0.0.1,10.0.0.0/8 (unset: trust none)"
    )
