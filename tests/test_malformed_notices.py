"""Malformed notices of every shape, on both webhook routes: 400 JSON with a message, never 5xx."""

import json

import pytest

from payments.bank.models import PixReceipt
from payments.charges.models import Payment
from payments.extensions import db

MB = "x" * 1_000_000
UUID = "5e53bbf4-cdf1-4a2f-b137-551c4b462ef1"
E2E = "E12345678202611231005abcdef12345"
GOOD_ITEM = {"endToEndId": E2E, "txid": "TXID", "valor": "150.50",
             "horario": "2026-11-23T10:05:00.000Z"}


def item(**changes):
    data = {**GOOD_ITEM, **changes}
    return {k: v for k, v in data.items() if v is not ...}


NESTED = json.loads("[" * 500 + "]" * 500)

# Bodies for POST /confirmation; "BPI" stands for the charge's bank_payment_id.
CONFIRMATION_BODIES = [
    {"bank_payment_id": "BPI", "value": "150.50", "status": MB},
    {"bank_payment_id": MB, "value": 150.5},
    {"bank_payment_id": "BPI", "value": MB},
    {"bank_payment_id": "BPI", "value": "9" * 1_000_000},
    {"bank_payment_id": "BPI", "value": 150.5, "status": "APPROVED"},
    {"bank_payment_id": "BPI", "value": 150.5, "status": "paid"},
    {"bank_payment_id": "BPI", "value": 150.5, "status": ""},
    {"bank_payment_id": "BPI", "value": 150.5, "status": {"approved": True}},
    {"bank_payment_id": "BPI", "value": True},
    {"bank_payment_id": "BPI", "value": [150.5]},
    {"bank_payment_id": "BPI", "value": {"amount": 150.5}},
    {"bank_payment_id": "BPI", "value": "150,50"},
    {"bank_payment_id": "BPI", "value": "1e2"},
    {"bank_payment_id": "BPI", "value": 0},
    {"bank_payment_id": "BPI", "value": 150.505},
    {"bank_payment_id": "BPI", "value": 10**30},
    {"bank_payment_id": "BPI", "value": None},
    {"bank_payment_id": None, "value": None, "status": None},
    {"bank_payment_id": {"id": "BPI"}, "value": 150.5},
    {"bank_payment_id": NESTED, "value": NESTED, "status": NESTED},
    {"bank_payment_id": "BPI" + "\u0000", "value": 150.5},
    {"bank_payment_id": "BPİ", "value": 150.5},
    {"pix": [GOOD_ITEM]},
]

PIX_BODIES = [
    {},
    {"pix": None},
    {"pix": []},
    {"pix": {}},
    {"pix": "E123"},
    {"pix": GOOD_ITEM},
    {"pix": [None]},
    {"pix": [[GOOD_ITEM]]},
    {"pix": ["E123"]},
    {"pix": NESTED},
    {"pix": [item(endToEndId=...)]},
    {"pix": [item(endToEndId=None)]},
    {"pix": [item(endToEndId=12345)]},
    {"pix": [item(endToEndId=MB)]},
    {"pix": [item(endToEndId="E-1234")]},
    {"pix": [item(txid=...)]},
    {"pix": [item(txid=None)]},
    {"pix": [item(txid=MB)]},
    {"pix": [item(txid=["TXID"])]},
    {"pix": [item(txid="has space")]},
    {"pix": [item(valor=...)]},
    {"pix": [item(valor=150.5)]},
    {"pix": [item(valor=150)]},
    {"pix": [item(valor="150.5")]},
    {"pix": [item(valor="150")]},
    {"pix": [item(valor="0.00")]},
    {"pix": [item(valor="-1.00")]},
    {"pix": [item(valor=MB)]},
    {"pix": [item(valor=None)]},
    {"pix": [item(horario=...)]},
    {"pix": [item(horario=None)]},
    {"pix": [item(horario="yesterday")]},
    {"pix": [item(horario="2026-11-23T10:05:00")]},  # no offset
    {"pix": [item(horario=MB)]},
    {"pix": [item(horario=1795000000)]},
    {"pix": [item(devolucoes="DEVOLVIDO")]},
    {"pix": [item(devolucoes=[None])]},
    {"pix": [item(devolucoes=[{"rtrId": "D1", "valor": "1.00", "status": "FEITO"}])]},
    {"pix": [item(devolucoes=[{"rtrId": None, "valor": "1.00", "status": "DEVOLVIDO"}])]},
    {"pix": [item(devolucoes=[{"rtrId": "D1", "valor": 1, "status": "DEVOLVIDO"}])]},
    {"pix": [item(devolucoes=[{"rtrId": "D1", "valor": "1.00", "status": None}])]},
    {"pix": [item(devolucoes=NESTED)]},
    {"pix": [GOOD_ITEM] * 101},
    {"bank_payment_id": UUID, "value": 150.5},
]

RAW_BODIES = ["", "null", "[]", '"pix"', "42", "true", "{", "{'pix': []}", '{"pix": NaN}',
              '{"pix": Infinity}', "[" * 100_000, '{"value": 1' + "0" * 5000 + "}",
              b"\xff\xfe{}".decode("latin-1"), "{\"pix\": []}\u0000"]


@pytest.fixture
def charge(create):
    return create(150.5)


def unchanged(app, payment) -> bool:
    with app.app_context():
        row = db.session.query(Payment).filter_by(public_id=payment["id"]).one()
        return row.status == "pending" and db.session.query(PixReceipt).count() == 0


def post(client, route, body):
    data = body.encode("latin-1") if isinstance(body, str) else body
    return client.post(route, data=data, content_type="application/json")


def assert_clear_400(response):
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.is_json
    message = response.get_json()["message"]
    assert isinstance(message, str) and 0 < len(message) < 300


@pytest.mark.parametrize("body", CONFIRMATION_BODIES)
def test_malformed_confirmation_is_400(client, app, charge, body):
    text = json.dumps(body).replace('"BPI"', json.dumps(charge["bank_payment_id"]))

    response = post(client, "/payments/pix/confirmation", text.encode())

    assert_clear_400(response)
    assert unchanged(app, charge)


@pytest.mark.parametrize("body", PIX_BODIES)
def test_malformed_pix_notice_is_400(client, app, charge, body):
    text = json.dumps(body).replace('"TXID"', json.dumps(charge["txid"]))

    response = post(client, "/payments/pix/confirmation/pix", text.encode())

    assert_clear_400(response)
    assert unchanged(app, charge)


@pytest.mark.parametrize("route", ["/payments/pix/confirmation", "/payments/pix/confirmation/pix"])
@pytest.mark.parametrize("raw", RAW_BODIES)
def test_body_that_is_not_a_json_object_is_400(client, app, charge, route, raw):
    response = post(client, route, raw)

    assert_clear_400(response)
    assert unchanged(app, charge)


@pytest.mark.parametrize("route", ["/payments/pix/confirmation", "/payments/pix/confirmation/pix"])
def test_body_over_the_limit_is_413_json(client, app, charge, route):
    response = post(client, route, json.dumps({"pix": "x" * 1_100_000}).encode())

    assert response.status_code == 413
    assert response.get_json()["message"]
    assert unchanged(app, charge)


def test_a_notice_beyond_what_a_br_code_carries_is_malformed_below_it_a_mismatch(create, client):
    payment = create(10)
    notice = {"bank_payment_id": payment["bank_payment_id"]}

    beyond = client.post("/payments/pix/confirmation", json={**notice, "value": "10000000000.00"})
    largest = client.post("/payments/pix/confirmation", json={**notice, "value": "9999999999.99"})

    assert beyond.status_code == 400  # eleven digits of reais: field 54 holds ten
    assert largest.status_code == 409  # a value a BR Code could carry, not this charge's
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "pending"
