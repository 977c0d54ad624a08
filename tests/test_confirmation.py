"""POST /payments/pix/confirmation: the bank's notice, applied exactly once."""

from datetime import timedelta

import pytest

from payments.charges.models import Payment, utcnow
from payments.extensions import db


def stored(app, payment) -> Payment:
    with app.app_context():
        return db.session.query(Payment).filter_by(public_id=payment["id"]).one()


def expire_now(app, payment) -> None:
    """Move the charge's expiry into the past, as time passing would."""
    with app.app_context():
        row = db.session.query(Payment).filter_by(public_id=payment["id"]).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_approved_notice_marks_the_charge_paid(create, notify, app, client):
    payment = create(150.5)

    response = notify(payment)

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "The payment has been confirmed"
    assert body["payment"]["status"] == "paid"
    assert body["payment"]["paid"] is True
    assert body["payment"]["paid_at"] is not None
    assert stored(app, payment).status == "paid"
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "paid"


def test_value_may_be_a_decimal_string(create, notify):
    payment = create("1500.50")

    assert notify(payment, value="1500.50").status_code == 200


def test_repeated_notice_is_200_and_changes_nothing(create, notify, app):
    payment = create()
    first = notify(payment).get_json()
    paid_at = stored(app, payment).paid_at

    again = notify(payment)

    assert again.status_code == 200
    assert again.get_json()["message"] == "The payment has been confirmed"
    assert again.get_json()["payment"]["paid_at"] == first["payment"]["paid_at"]
    assert stored(app, payment).paid_at == paid_at


@pytest.mark.parametrize("value", [150.49, 150.51, 1, "150.00"])
def test_different_value_is_409_and_changes_nothing(create, notify, app, value):
    payment = create(150.5)

    response = notify(payment, value=value)

    assert response.status_code == 409
    assert "value" in response.get_json()["message"]
    assert stored(app, payment).status == "pending"


def test_expired_charge_is_409_and_reads_expired(create, notify, app, client):
    payment = create()
    expire_now(app, payment)

    response = notify(payment)

    assert response.status_code == 409
    assert "expired" in response.get_json()["message"]
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "expired"
    assert stored(app, payment).paid_at is None


def test_charge_past_expiry_reads_expired_without_any_notice(create, app, client):
    payment = create()
    expire_now(app, payment)

    body = client.get(f"/payments/pix/{payment['id']}/status").get_json()

    assert body["status"] == "expired"
    assert body["paid"] is False


def test_refused_then_approved_is_409(create, notify, app):
    payment = create()

    refused = notify(payment, status="refused")
    approved = notify(payment)

    assert refused.status_code == 200
    assert refused.get_json()["message"] == "The payment has been refused"
    assert approved.status_code == 409
    assert stored(app, payment).status == "refused"


def test_paid_then_refunded(create, notify, app):
    payment = create()
    notify(payment)

    response = notify(payment, status="refunded")

    assert response.status_code == 200
    assert response.get_json()["message"] == "The payment has been refunded"
    assert response.get_json()["payment"]["status"] == "refunded"
    assert response.get_json()["payment"]["paid"] is False


def test_refund_of_a_pending_charge_is_409(create, notify, app):
    payment = create()

    assert notify(payment, status="refunded").status_code == 409
    assert stored(app, payment).status == "pending"


def test_unknown_bank_payment_id_is_404(notify):
    ghost = {"bank_payment_id": "5e53bbf4-cdf1-4a2f-b137-551c4b462ef1", "value": 10}

    response = notify(ghost)

    assert response.status_code == 404
    assert response.is_json


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        '{"value": 150.5}',
        '{"bank_payment_id": null, "value": 150.5}',
        '{"bank_payment_id": 12, "value": 150.5}',
        '{"bank_payment_id": ["x"], "value": 150.5}',
        '{"bank_payment_id": "not-a-uuid", "value": 150.5}',
        '{"bank_payment_id": "%s"}',
        '{"bank_payment_id": "%s", "value": null}',
        '{"bank_payment_id": "%s", "value": "abc"}',
        '{"bank_payment_id": "%s", "value": -150.5}',
        '{"bank_payment_id": "%s", "value": 150.5, "status": "paid"}',
        '{"bank_payment_id": "%s", "value": 150.5, "status": null}',
        '{"bank_payment_id": "%s", "value": 150.5, "status": 1}',
        '{"bank_payment_id": "%s", "value": 150.5, "status": ["approved"]}',
        "[]",
        "nope",
    ],
)
def test_malformed_notice_is_400_and_changes_nothing(create, client, app, body):
    payment = create(150.5)
    if "%s" in body:
        body = body % payment["bank_payment_id"]

    response = client.post("/payments/pix/confirmation", data=body,
                           content_type="application/json")

    assert response.status_code == 400, body
    assert response.get_json()["message"]
    assert stored(app, payment).status == "pending"


def test_notice_not_json_is_415(create, client, app):
    payment = create()

    response = client.post("/payments/pix/confirmation",
                           data=f"bank_payment_id={payment['bank_payment_id']}&value=150.5")

    assert response.status_code == 415
    assert stored(app, payment).status == "pending"
