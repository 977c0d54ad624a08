"""Both webhook routes with PIX_WEBHOOK_SECRET set: only signed notices change anything."""

import json
import logging
import time

import pytest

from payments import create_app
from payments.bank.signature import sign
from payments.boot import warn_at_start
from payments.charges.models import Payment
from payments.extensions import db
from tests.apps import app_with_tables

SECRET = "test webhook secret"
ROUTES = ["/payments/pix/confirmation", "/payments/pix/confirmation/pix"]


@pytest.fixture
def app(tmp_path):
    """Return an app that requires signed webhooks."""
    app = app_with_tables(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}",
            "SECRET_KEY": "test",
            "PIX_WEBHOOK_SECRET": SECRET,
        },
        str(tmp_path),
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def body_for(route, payment) -> bytes:
    if route.endswith("/pix"):
        item = {"endToEndId": "E12345678202611231005abcdef12345", "txid": payment["txid"],
                "valor": "150.50", "horario": "2026-11-23T10:05:00.000Z"}
        return json.dumps({"pix": [item]}).encode()
    return json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 150.5}).encode()


def post(client, route, body, signature=None):
    headers = {} if signature is None else {"X-Webhook-Signature": signature}
    return client.post(route, data=body, content_type="application/json", headers=headers)


def status_of(app, payment) -> str:
    with app.app_context():
        return db.session.query(Payment).filter_by(public_id=payment["id"]).one().status


@pytest.mark.parametrize("route", ROUTES)
def test_signed_notice_is_applied(create, client, app, route):
    payment = create(150.5)
    body = body_for(route, payment)

    response = post(client, route, body, sign(SECRET, body))

    assert response.status_code == 200, response.get_json()
    assert status_of(app, payment) == "paid"


def _bad_signatures(body: bytes) -> dict[str, str | None]:
    now = int(time.time())
    return {
        "missing": None,
        "empty": "",
        "malformed": "sha256=abcdef",
        "no v1": f"t={now}",
        "wrong secret": sign("another secret", body, now),
        "other body": sign(SECRET, body + b" ", now),
        "stale": sign(SECRET, body, now - 301),
        # 10 s past the tolerance: the request reaches the check a moment after this signs
        # it, and at +301 a second boundary crossed in between made the notice acceptable.
        "future": sign(SECRET, body, now + 310),
        "junk": f"t={now},v1=ção",
    }


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("case", list(_bad_signatures(b"")))
def test_bad_signature_is_401_and_changes_nothing(create, client, app, route, case,
                                                  socket_client_for):
    payment = create(150.5)
    sio = socket_client_for(payment["id"])
    sio.get_received()
    body = body_for(route, payment)

    response = post(client, route, body, _bad_signatures(body)[case])

    assert response.status_code == 401
    assert response.get_json()["message"].startswith("Invalid webhook signature")
    assert status_of(app, payment) == "pending"
    assert sio.get_received() == []


@pytest.mark.parametrize("route", ROUTES)
def test_signature_is_checked_before_the_body(client, route):
    response = post(client, route, b"not json at all")

    assert response.status_code == 401


def test_unsigned_app_accepts_unsigned_notices_and_warns_at_start(tmp_path, caplog):
    app = app_with_tables({"TESTING": True, "SECRET_KEY": "t",
                           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'u.sqlite'}"},
                          str(tmp_path))
    with caplog.at_level(logging.WARNING):
        warn_at_start(app)  # what the server's start says
    warnings = [r for r in caplog.records if "PIX_WEBHOOK_SECRET" in r.getMessage()]
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]

    response = client.post("/payments/pix/confirmation",
                           json={"bank_payment_id": payment["bank_payment_id"], "value": 10})

    assert len(warnings) == 1
    assert "unsigned" in warnings[0].getMessage()
    assert response.status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_signed_app_does_not_warn(tmp_path, caplog):
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "PIX_WEBHOOK_SECRET": "s",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 's.sqlite'}"},
                     instance_path=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        warn_at_start(app)

    assert not [r for r in caplog.records if "PIX_WEBHOOK_SECRET" in r.getMessage()]
    with app.app_context():
        db.engine.dispose()
