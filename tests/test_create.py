"""POST /payments/pix: create a charge, or refuse clearly and change nothing."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, inspect

from payments.charges import service as services
from payments.charges.models import Payment
from payments.extensions import db
from payments.pix.brcode import parse_brcode


def count_payments(app) -> int:
    with app.app_context():
        return db.session.query(Payment).count()


def test_create_returns_the_contract_payment_object(client):
    response = client.post("/payments/pix", json={"value": 1500.50})

    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "The payment has been created"
    payment = body["payment"]
    assert response.headers["Location"] == f"/payments/pix/{payment['id']}"
    assert payment["value"] == 1500.5
    assert payment["status"] == "pending"
    assert payment["paid"] is False
    assert payment["paid_at"] is None
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", payment["id"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        payment["bank_payment_id"])
    assert re.fullmatch(r"[A-Za-z0-9]{1,25}", payment["txid"])
    assert payment["qr_code"] == f"qr_code_payment_{payment['bank_payment_id']}"
    assert payment["qr_code_url"] == f"/payments/pix/qr_code/{payment['qr_code']}"
    assert payment["page_url"] == f"/payments/pix/{payment['id']}"


def test_create_payment_commits_one_insert_and_returns_the_row_loaded(app):
    with app.app_context():
        statements = []
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cursor, sql, *args: statements.append(sql.split()[0]))

        payment = services.create_payment(15050)

        assert statements == ["INSERT", "INSERT"]  # the charge and its event; no flush, no reload
        state = inspect(payment)
        assert state.detached and not state.expired_attributes  # nothing left to load
        data = payment.to_dict()
        assert statements == ["INSERT", "INSERT"]
        db.session.add(payment)  # a caller that goes on to change it attaches it
        db.session.refresh(payment)
        assert payment.to_dict() == data
    with app.app_context():  # committed: another session sees the same row
        assert db.session.get(Payment, payment.id).to_dict() == data


def test_times_are_iso_utc_and_expiry_follows_the_setting(client, app):
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]

    created = datetime.strptime(payment["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    expires = datetime.strptime(payment["expiration_date"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(datetime.now(UTC) - created) < timedelta(seconds=5)
    assert expires.replace(tzinfo=UTC) - created == timedelta(
        seconds=app.config["PIX_EXPIRATION_SECONDS"])


def test_pix_code_carries_receiver_amount_and_txid(client, app):
    payment = client.post("/payments/pix", json={"value": "1500.50"}).get_json()["payment"]

    code = parse_brcode(payment["pix_code"])
    assert code.amount_cents == 150050
    assert code.fields["54"] == "1500.50"
    assert code.txid == payment["txid"]
    assert code.key == app.config["PIX_KEY"]
    assert code.name == "LOJA EXEMPLO"
    assert code.city == "SAO PAULO"


def test_ids_and_txids_are_unique(client):
    payments = [client.post("/payments/pix", json={"value": 1}).get_json()["payment"]
                for _ in range(20)]

    for field in ("id", "txid", "bank_payment_id"):
        assert len({p[field] for p in payments}) == 20


@pytest.mark.parametrize(
    ("value", "cents", "shown"),
    [(150, 15000, 150), (150.5, 15050, 150.5), ("150.50", 15050, 150.5), ("0.01", 1, 0.01),
     (1000000, 100000000, 1000000), ("999999.99", 99999999, 999999.99), (1e2, 10000, 100)],
)
def test_accepted_amounts_are_stored_exactly(client, app, value, cents, shown):
    payment = client.post("/payments/pix", json={"value": value}).get_json()["payment"]

    assert payment["value"] == shown
    with app.app_context():
        stored = db.session.query(Payment).filter_by(public_id=payment["id"]).one()
        assert stored.amount_cents == cents
        assert isinstance(stored.amount_cents, int)


def test_value_is_returned_with_at_most_two_decimals(client):
    response = client.post("/payments/pix", data='{"value": 0.1}', content_type="application/json")

    assert b'"value":0.1' in response.data.replace(b" ", b"")


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        '{"value": null}',
        '{"value": true}',
        '{"value": false}',
        '{"value": -1}',
        '{"value": 0}',
        '{"value": 0.00}',
        '{"value": 1.234}',
        '{"value": "1.234"}',
        '{"value": NaN}',
        '{"value": Infinity}',
        '{"value": -Infinity}',
        '{"value": "NaN"}',
        '{"value": "abc"}',
        '{"value": ""}',
        '{"value": "1,50"}',
        '{"value": " 1"}',
        '{"value": "-1"}',
        '{"value": [1]}',
        '{"value": {"amount": 1}}',
        '{"value": 1000000.01}',
        '{"value": 99999999999999999999999}',
        '{"value": 1e400}',
        '{"value": ' + "9" * 5000 + "}",
        '{"value": 1',
        "not json",
        "[1, 2]",
        '"150"',
        "150",
        "null",
        "",
        '{"value": 1}{"value": 2}',
        "[" * 100000 + "]" * 100000,
    ],
)
def test_bad_bodies_are_400_json_and_create_nothing(client, app, body):
    response = client.post("/payments/pix", data=body, content_type="application/json")

    assert response.status_code in (400, 413), body[:80]
    assert response.is_json
    assert isinstance(response.get_json()["message"], str)
    assert response.get_json()["message"]
    assert count_payments(app) == 0


def test_invalid_utf8_is_400(client, app):
    response = client.post("/payments/pix", data=b'{"value": "\xff"}',
                           content_type="application/json")

    assert response.status_code == 400
    assert count_payments(app) == 0


def test_value_over_the_maximum_names_the_limit(client):
    response = client.post("/payments/pix", json={"value": "1000000.01"})

    assert response.status_code == 400
    assert "1000000.00" in response.get_json()["message"]


def test_body_that_is_not_json_is_415(client, app):
    response = client.post("/payments/pix", data="value=10",
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert "application/json" in response.get_json()["message"]
    assert count_payments(app) == 0


def test_body_over_64_kib_is_413(client, app):
    body = '{"value": 10, "pad": "' + "x" * (64 * 1024) + '"}'

    response = client.post("/payments/pix", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.is_json
    assert count_payments(app) == 0


def test_wrong_method_is_405_json(client):
    response = client.delete("/payments/pix")

    assert response.status_code == 405
    assert response.is_json
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))
