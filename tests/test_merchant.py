"""The merchant's API: keys, orders, the two views, listing and cancelling (Flask test client)."""

import json

import pytest

from payments.extensions import db
from payments.merchant.keys import key_id
from tests.apps import app_with_tables
from tests.views import MERCHANT_ONLY

KEY = "sk_test_" + "a" * 32
OLD_KEY = "sk_test_" + "b" * 32


@pytest.fixture
def keyed(tmp_path):
    """Return an app whose merchant routes need one of two API keys (a rotation)."""
    app = app_with_tables({"TESTING": True, "SECRET_KEY": "test",
                           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite'}",
                           "MERCHANT_API_KEYS": f"{KEY}, {OLD_KEY}"}, str(tmp_path))
    yield app
    with app.app_context():
        db.engine.dispose()


def bearer(key: str = KEY) -> dict:
    return {"Authorization": f"Bearer {key}"}


def create(client, headers=None, **body):
    response = client.post("/payments/pix", json={"value": 10, **body}, headers=headers or {})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["payment"]


# --- API keys --------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key-of-some-length"},
                                     {"Authorization": f"Basic {KEY}"},
                                     {"Authorization": "Bearer"}])
def test_merchant_routes_refuse_a_missing_or_wrong_key(keyed, headers):
    client = keyed.test_client()
    for method, path in [("post", "/payments/pix"), ("get", "/payments/pix"),
                         ("post", "/payments/pix/abcdefghijklmnopqrstuv/cancel")]:
        response = getattr(client, method)(path, json={"value": 10}, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.get_json()["message"]
    with keyed.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM payments")).scalar() == 0


def test_every_configured_key_works_so_one_can_be_rotated(keyed):
    client = keyed.test_client()
    assert create(client, bearer(KEY))["status"] == "pending"
    assert create(client, bearer(OLD_KEY))["status"] == "pending"


def test_a_key_is_never_echoed_in_an_answer(keyed):
    response = keyed.test_client().post("/payments/pix", json={"value": 10},
                                        headers=bearer("sk_test_" + "z" * 40))
    assert "z" * 40 not in response.get_data(as_text=True)


def test_keys_shorter_than_24_characters_stop_the_start(tmp_path):
    from payments import create_app
    from payments.settings import ConfigError

    with pytest.raises(ConfigError, match="MERCHANT_API_KEYS: key 2 must be at least 24"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "t",
                    "MERCHANT_API_KEYS": f"{KEY},short"}, instance_path=str(tmp_path))


def test_the_key_id_is_not_the_key():
    assert KEY not in key_id(KEY) and len(key_id(KEY)) == 16


# --- Two views -------------------------------------------------------------------------------

def test_status_with_a_valid_key_is_the_merchant_view_without_one_the_public(keyed):
    client = keyed.test_client()
    payment = create(client, bearer(), metadata={"order": "42"})
    path = f"/payments/pix/{payment['id']}/status"

    merchant = client.get(path, headers=bearer()).get_json()
    public = client.get(path).get_json()
    wrong = client.get(path, headers=bearer("sk_test_" + "c" * 32))

    assert merchant == payment
    assert merchant["metadata"] == {"order": "42"} and merchant["bank_payment_id"]
    assert not set(MERCHANT_ONLY) & set(public)
    assert public["qr_code_url"] == f"/payments/pix/{payment['id']}/qr.png"
    assert wrong.status_code == 401


def test_nothing_a_browser_gets_holds_the_bank_id_or_the_metadata(client, socket_client_for):
    payment = create(client, metadata={"secret_note": "internal-123"})
    secret_bits = [payment["bank_payment_id"], "internal-123", "secret_note", payment["qr_code"]]
    sio = socket_client_for(payment["id"])

    page = client.get(f"/payments/pix/{payment['id']}").get_data(as_text=True)
    status = client.get(f"/payments/pix/{payment['id']}/status").get_data(as_text=True)
    with client.get(f"/payments/pix/{payment['id']}/events", buffered=False) as stream:
        first_event = next(stream.response).decode()
    client.post("/payments/pix/confirmation", json={
        "bank_payment_id": payment["bank_payment_id"], "value": 10})
    events = json.dumps(sio.get_received())

    for text in (page, status, first_event, events):
        for bit in secret_bits:
            assert bit not in text
    assert '"paid"' in events


def test_the_public_qr_route_serves_the_same_png(client):
    payment = create(client)
    by_id = client.get(f"/payments/pix/{payment['id']}/qr.png")
    by_name = client.get(payment["qr_code_url"])

    assert by_id.status_code == 200 and by_id.mimetype == "image/png"
    assert by_id.data == by_name.data
    assert client.get("/payments/pix/abcdefghijklmnopqrstuv/qr.png").status_code == 404


# --- Orders ----------------------------------------------------------------------------------

def test_an_order_is_stored_and_returned(client):
    payment = create(client, description="Pedido 123: 2 camisetas", external_id="PED-123",
                     metadata={"customer": "c_9", "channel": "web"},
                     return_url="https://loja.example/pedidos/123", expires_in=600)

    assert payment["description"] == "Pedido 123: 2 camisetas"
    assert payment["external_id"] == "PED-123"
    assert payment["metadata"] == {"customer": "c_9", "channel": "web"}
    assert payment["return_url"] == "https://loja.example/pedidos/123"
    assert payment["updated_at"] == payment["created_at"]
    seconds = _seconds(payment["expiration_date"]) - _seconds(payment["created_at"])
    assert seconds == 600
    stored = client.get(f"/payments/pix/{payment['id']}/status",
                        headers={"Authorization": "Bearer any"}).get_json()
    assert stored == payment


def _seconds(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp())


def test_an_order_without_its_fields_has_them_empty(client):
    payment = create(client)
    assert (payment["description"], payment["external_id"], payment["metadata"],
            payment["return_url"]) == (None, None, {}, None)


@pytest.mark.parametrize(("body", "field"), [
    ({"order_id": "PED-123"}, "Unknown field: order_id"),
    ({"description": ""}, "description must not be empty"),
    ({"description": "x" * 141}, "description must be at most 140"),
    ({"description": "linha 1\nlinha 2"}, "description must not contain control"),
    ({"description": 5}, "description must be a string"),
    ({"external_id": "PED 123"}, "external_id must be 1 to 64"),
    ({"external_id": "x" * 65}, "external_id must be 1 to 64"),
    ({"metadata": {str(n): "v" for n in range(21)}}, "metadata must have at most 20 keys"),
    ({"metadata": {"k": 1}}, "metadata.k must be a string"),
    ({"metadata": {"k": "v" * 501}}, "metadata.k must be at most 500"),
    ({"metadata": {"k" * 41: "v"}}, "a key of metadata must be at most 40"),
    ({"metadata": ["k"]}, "metadata must be an object"),
    ({"return_url": "ftp://loja.example/x"}, "return_url must be an absolute"),
    ({"return_url": "/pedidos/1"}, "return_url must be an absolute"),
    ({"return_url": "https://" + "a" * 2050 + ".example"}, "return_url must be at most 2048"),
    ({"expires_in": 9}, "expires_in must be at least 10"),
    ({"expires_in": 604801}, "expires_in must be at most 604800"),
    ({"expires_in": "600"}, "expires_in must be a whole number"),
    ({"expires_in": 60.5}, "expires_in must be a whole number"),
    ({"expires_in": True}, "expires_in must be a whole number"),
])
def test_a_bad_order_field_is_400_naming_it_and_creates_nothing(client, app, body, field):
    response = client.post("/payments/pix", json={"value": 10, **body})

    assert response.status_code == 400
    assert response.get_json()["message"].startswith(field)
    with app.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM payments")).scalar() == 0


def test_http_return_urls_only_in_the_sandbox(tmp_path):
    sandbox = app_with_tables({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 's.sqlite'}",
                               "SECRET_KEY": "t"}, str(tmp_path))
    production = app_with_tables({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}", "SECRET_KEY": "t",
        "PAYMENTS_ENV": "production", "MERCHANT_API_KEYS": KEY, "PIX_WEBHOOK_SECRET": "s",
        "PIX_KEY": "loja@example.com"}, str(tmp_path))
    body = {"value": 10, "return_url": "http://loja.example/x"}

    assert sandbox.test_client().post("/payments/pix", json=body).status_code == 201
    refused = production.test_client().post("/payments/pix", json=body, headers=bearer())
    assert refused.status_code == 400
    assert "https" in refused.get_json()["message"]


# --- Listing ---------------------------------------------------------------------------------

def test_listing_is_newest_first_in_pages_that_never_repeat_or_skip(client):
    made = [create(client, external_id=f"PED-{n}")["id"] for n in range(7)]
    seen = []
    cursor = None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/payments/pix{query}").get_json()
        seen += [payment["id"] for payment in page["data"]]
        if len(seen) == 3:
            create(client)  # a charge created between pages: newer, so on no later page
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(made))


def test_listing_filters(client):
    paid = create(client, external_id="PED-1")
    create(client, external_id="PED-2")
    client.post("/payments/pix/confirmation", json={
        "bank_payment_id": paid["bank_payment_id"], "value": 10})

    def ids(query):
        response = client.get(f"/payments/pix?{query}")
        assert response.status_code == 200, response.get_json()
        return [payment["external_id"] for payment in response.get_json()["data"]]

    assert ids("status=paid") == ["PED-1"]
    assert ids("status=pending") == ["PED-2"]
    assert ids("external_id=PED-2") == ["PED-2"]
    assert ids("created_gte=2000-01-01T00:00:00Z") == ["PED-2", "PED-1"]
    assert ids("created_lt=2000-01-01T00:00:00Z") == []
    listed = client.get("/payments/pix").get_json()["data"][0]
    assert "bank_payment_id" in listed and "metadata" in listed  # the merchant's view


@pytest.mark.parametrize(("query", "message"), [
    ("limit=0", "limit must be at least 1"), ("limit=101", "limit must be at most 100"),
    ("limit=ten", "limit must be a whole number"), ("status=lost", "status must be one of"),
    ("created_gte=yesterday", "created_gte"), ("created_lt=2026-11-23T10:00:00", "created_lt"),
    ("cursor=bm9wZQ", "cursor must be a next_cursor"), ("cursor=%%%", "cursor must be"),
    ("sort=asc", "Unknown field: sort"), ("limit=1&limit=2", "limit must be given once"),
    ("external_id=a%20b", "external_id must be 1 to 64"),
])
def test_a_bad_listing_parameter_is_400_naming_it(client, query, message):
    response = client.get(f"/payments/pix?{query}")

    assert response.status_code == 400
    assert message in response.get_json()["message"]


# --- Cancelling ------------------------------------------------------------------------------

def test_cancel_a_pending_charge_once(client, socket_client_for):
    payment = create(client)
    sio = socket_client_for(payment["id"])
    sio.get_received()

    first = client.post(f"/payments/pix/{payment['id']}/cancel")
    again = client.post(f"/payments/pix/{payment['id']}/cancel", json={})

    assert first.status_code == 200
    assert first.get_json()["message"] == "The payment has been canceled"
    assert first.get_json()["payment"]["status"] == "canceled"
    assert again.status_code == 200 and again.get_json()["payment"]["status"] == "canceled"
    statuses = [m["args"][0]["status"] for m in sio.get_received() if m["name"] == "payment_status"]
    assert statuses == ["canceled"]  # one event, not two


def test_a_bank_notice_for_a_canceled_charge_is_409(client):
    payment = create(client)
    client.post(f"/payments/pix/{payment['id']}/cancel")

    response = client.post("/payments/pix/confirmation", json={
        "bank_payment_id": payment["bank_payment_id"], "value": 10})

    assert response.status_code == 409
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "canceled"


def test_only_a_pending_charge_can_be_canceled(client):
    payment = create(client)
    client.post("/payments/pix/confirmation", json={
        "bank_payment_id": payment["bank_payment_id"], "value": 10})

    response = client.post(f"/payments/pix/{payment['id']}/cancel")

    assert response.status_code == 409
    assert "paid" in response.get_json()["message"]
    assert client.post("/payments/pix/abcdefghijklmnopqrstuv/cancel").status_code == 404
    assert client.post(f"/payments/pix/{payment['id']}/cancel",
                       json={"reason": "x"}).status_code == 400


def test_the_canceled_page_says_so(client):
    payment = create(client)
    client.post(f"/payments/pix/{payment['id']}/cancel")

    html = client.get(f"/payments/pix/{payment['id']}").get_data(as_text=True)

    assert "Cobrança cancelada" in html


def test_every_answer_holds_to_its_declared_model(client):
    """The models that describe the answers in /openapi.json are what the routes send."""
    from payments.charges.schemas import Payment, PaymentList, PaymentMessage, PublicPayment

    created = client.post("/payments/pix", json={"value": 10, "metadata": {"a": "b"}})
    payment = created.get_json()["payment"]
    PaymentMessage.model_validate(created.get_json())
    PaymentList.model_validate(client.get("/payments/pix").get_json())
    Payment.model_validate(client.get(f"/payments/pix/{payment['id']}/status",
                                      headers={"Authorization": "Bearer x"}).get_json())
    PublicPayment.model_validate(client.get(f"/payments/pix/{payment['id']}/status").get_json())
    PaymentMessage.model_validate(client.post(f"/payments/pix/{payment['id']}/cancel").get_json())
    with pytest.raises(ValueError):  # extra="forbid": a field the model does not declare fails
        PublicPayment.model_validate(payment)
