"""A real Pix provider (API Pix), in process: the app against ``tests.psp_fake``'s provider.

What lives between processes (the simulator, a real server, the background loop) is in
``tests/test_psp_live.py``; here every rule is checked on the Flask test client.
"""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from payments.bank.models import WebhookDelivery
from payments.bank.signature import sign
from payments.charges.models import Payment
from payments.extensions import db, socketio
from payments.pix.brcode import parse_brcode
from payments.psp import leases
from payments.psp.client import client as psp_client
from payments.psp.client import parse_time
from payments.psp.models import PspRefund
from payments.psp.reconcile import LEASE, reconcile
from payments.psp.refunds import follow_open
from payments.settings import ConfigError
from tests.apps import app_with_tables
from tests.psp_fake import CONFIG, FakeProvider

SECRET = "bank-webhook-secret"
PIX_ROUTE = "/payments/pix/confirmation/pix"


def make_app(tmp_path, **extra):
    config = {"TESTING": True, "SECRET_KEY": "test",
              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'psp.sqlite'}", **extra}
    return app_with_tables(config, str(tmp_path))


@pytest.fixture
def provider():
    return FakeProvider()


@pytest.fixture
def app(tmp_path, provider):
    app = make_app(tmp_path, **CONFIG, PIX_WEBHOOK_SECRET=SECRET)
    psp_client(app).session.mount("http://psp.test", provider)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def create(client, value="150.50", **order):
    response = client.post("/payments/pix", json={"value": value, **order})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["payment"]


def callback(client, *items, headers=None):
    return client.post(PIX_ROUTE, data=json.dumps({"pix": list(items)}),
                       content_type="application/json", headers=headers or {})


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def status(client, payment) -> str:
    return client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"]


# --- create ------------------------------------------------------------------------------------


def test_create_makes_a_cob_at_the_provider_and_shows_its_code(client, provider, app):
    payment = create(client, "1500.50", description="Pedido 42", expires_in=600)

    txid = payment["txid"]
    assert 26 <= len(txid) <= 35 and txid.isascii() and txid.isalnum()
    cob = provider.cobs[txid]
    assert cob["valor"] == {"original": "1500.50"}
    assert cob["chave"] == app.config["PIX_KEY"]
    assert cob["solicitacaoPagador"] == "Pedido 42"
    assert cob["calendario"]["expiracao"] == 600
    assert payment["pix_code"] == cob["pixCopiaECola"]
    expires = parse_time(cob["calendario"]["criacao"]) + timedelta(seconds=600)
    assert payment["expiration_date"] == expires.replace(microsecond=0).isoformat()[:19] + "Z"


def test_the_dynamic_code_is_a_brcode_with_a_url_and_single_use(client):
    code = parse_brcode(create(client)["pix_code"])

    assert code.url is not None and code.key is None  # field 26 carries 25, the location
    assert code.point_of_initiation == "12"
    assert code.is_dynamic


def test_the_page_and_qr_image_work_with_the_dynamic_code(client):
    payment = create(client)

    page = client.get(payment["page_url"])
    image = client.get(f"/payments/pix/{payment['id']}/qr.png")

    assert page.status_code == 200 and payment["pix_code"] in page.get_data(as_text=True)
    assert image.status_code == 200 and image.mimetype == "image/png"


def test_provider_down_at_create_is_503_and_creates_nothing(client, provider, app):
    provider.down = True

    response = client.post("/payments/pix", json={"value": 10})

    assert response.status_code == 503
    assert "Pix provider" in response.get_json()["message"]
    assert count(app, Payment) == 0


def test_provider_refusing_is_502_naming_its_problem(client, provider, app):
    provider.fail_next = [400]

    response = client.post("/payments/pix", json={"value": 10})

    assert response.status_code == 502
    assert "Serviço indisponível" in response.get_json()["message"]
    assert count(app, Payment) == 0


def test_a_5xx_at_create_is_retried_since_put_cob_is_idempotent(client, provider):
    provider.fail_next = [503]

    payment = create(client)

    assert payment["txid"] in provider.cobs
    assert [call for call in provider.calls if call[0] == "PUT"][0][1].startswith("/v2/cob/")


def test_a_revoked_token_is_renewed_once_on_a_401(client, provider):
    create(client)
    provider.revoke()

    create(client)

    assert provider.calls.count(("POST", "/oauth/token")) == 2


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_removes_the_cob_at_the_provider(client, provider):
    payment = create(client)

    response = client.post(f"/payments/pix/{payment['id']}/cancel")

    assert response.status_code == 200
    assert provider.cobs[payment["txid"]]["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    assert status(client, payment) == "canceled"


def test_cancel_with_the_provider_down_changes_nothing(client, provider):
    payment = create(client)
    provider.down = True

    response = client.post(f"/payments/pix/{payment['id']}/cancel")

    assert response.status_code == 503
    assert status(client, payment) == "pending"


# --- callbacks ---------------------------------------------------------------------------------


def test_a_callback_confirmed_by_the_provider_pays_and_reaches_the_page(app, client, provider):
    payment = create(client)
    page = socketio.test_client(app, flask_test_client=client, auth={"payment_id": payment["id"]})
    page.get_received()

    response = callback(client, provider.pay(payment["txid"]))  # no signature: mutual TLS

    assert response.status_code == 200
    result = response.get_json()["results"][0]
    assert result["status"] == 200 and result["payment"]["status"] == "paid"
    events = [e for e in page.get_received() if e["name"] == "payment_status"]
    assert [e["args"][0]["status"] for e in events] == ["paid"]
    assert ("GET", f"/v2/pix/{result['endToEndId']}") in provider.calls
    page.disconnect()


def test_a_forged_callback_changes_nothing_and_the_log_says_so(app, client, provider):
    payment = create(client)
    forged = {"endToEndId": "E12345678202611231005abcdefghijk", "txid": payment["txid"],
              "valor": "150.50", "horario": "2026-11-23T10:05:00.000Z"}

    response = callback(client, forged)

    result = response.get_json()["results"][0]
    assert result["status"] == 404 and result["message"].startswith("Refused")
    assert status(client, payment) == "pending"
    with app.app_context():
        delivery = db.session.scalars(select(WebhookDelivery)).one()
        assert "Refused" in delivery.result and forged["endToEndId"] in delivery.result


def test_a_callback_whose_value_differs_from_the_providers_is_refused(client, provider):
    payment = create(client)
    item = provider.pay(payment["txid"])

    result = callback(client, {**item, "valor": "1.00"}).get_json()["results"][0]

    assert result["status"] == 409 and "forged" in result["message"]
    assert status(client, payment) == "pending"


def test_the_webhook_secret_still_guards_the_contract_route(client):
    payment = create(client)
    body = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 150.5})

    unsigned = client.post("/payments/pix/confirmation", data=body,
                           content_type="application/json")
    signed = client.post("/payments/pix/confirmation", data=body, content_type="application/json",
                         headers={"X-Webhook-Signature": sign(SECRET, body.encode())})

    assert unsigned.status_code == 401
    assert signed.status_code == 200


def test_the_provider_down_during_a_callback_applies_nothing(client, provider):
    payment = create(client)
    item = provider.pay(payment["txid"])
    provider.down = True

    result = callback(client, item).get_json()["results"][0]

    assert result["status"] == 503 and result["message"].startswith("Not verified")
    provider.down = False
    assert status(client, payment) == "pending"


# --- reconciliation ----------------------------------------------------------------------------


def test_reconciliation_applies_a_pix_no_callback_brought_once(app, client, provider):
    payments = [create(client) for _ in range(3)]
    for payment in payments[:2]:
        provider.pay(payment["txid"])  # the callbacks were lost

    with app.app_context():
        first = reconcile()
        second = reconcile()

    assert (first.listed, first.applied) == (2, 2)
    assert (second.listed, second.applied) == (2, 0)
    assert [status(client, p) for p in payments] == ["paid", "paid", "pending"]


def test_every_page_of_the_list_is_read(app, client, provider):
    for _ in range(5):
        provider.pay(create(client)["txid"])

    with app.app_context():
        listed = list(psp_client().list_pix(parse_time("2000-01-01T00:00:00Z"),
                                            parse_time("2100-01-01T00:00:00Z"), per_page=2))

    assert len({item["endToEndId"] for item in listed}) == 5
    assert sum(1 for call in provider.calls if call == ("GET", "/v2/pix")) == 3


def test_only_one_process_reconciles_at_a_time(app, client, provider):
    provider.pay(create(client)["txid"])
    with app.app_context():
        assert leases.acquire(LEASE, "another process", 60) is None  # held elsewhere

        assert reconcile() is None
        leases.release(LEASE, "another process")
        assert reconcile().applied == 1


def test_the_reconcile_command(app, client, provider):
    provider.pay(create(client)["txid"])

    result = app.test_cli_runner().invoke(args=["psp", "reconcile"])

    assert result.exit_code == 0, result.output
    assert "1 Pix listed, 1 payments changed" in result.output


# --- refunds -----------------------------------------------------------------------------------


def paid(client, provider, value="150.50"):
    payment = create(client, value)
    callback(client, provider.pay(payment["txid"]))
    assert status(client, payment) == "paid"
    return payment


def refund(client, payment, body=None, headers=None):
    return client.post(f"/payments/pix/{payment['id']}/refund", json=body or {},
                       headers=headers or {})


def test_a_partial_then_the_full_refund(app, client, provider):
    payment = paid(client, provider)

    first = refund(client, payment, {"value": "50.50"})
    assert first.status_code == 202, first.get_json()
    assert first.get_json()["refund"]["status"] == "processing"
    provider.settle(first.get_json()["refund"]["id"])
    with app.app_context():
        assert follow_open() == 1  # asked, in the background: settled
    assert status(client, payment) == "paid"

    rest = refund(client, payment)  # what remains: 100.00
    assert rest.status_code == 202
    assert rest.get_json()["refund"]["value"] == 100
    provider.settle(rest.get_json()["refund"]["id"])
    e2e = next(iter(provider.pix))
    callback(client, {k: v for k, v in provider.pix[e2e].items()})  # the callback brings it

    assert status(client, payment) == "refunded"
    with app.app_context():
        states = db.session.scalars(select(PspRefund.status)).all()
    assert states == ["DEVOLVIDO", "DEVOLVIDO"]


def test_a_refund_above_what_remains_is_refused(client, provider):
    payment = paid(client, provider)
    assert refund(client, payment, {"value": 100}).status_code == 202

    response = refund(client, payment, {"value": "50.51"})

    assert response.status_code == 409
    assert "more than what remains to refund, 50.50" in response.get_json()["message"]


def test_an_unpaid_charge_cannot_be_refunded(client):
    payment = create(client)

    response = refund(client, payment)

    assert response.status_code == 409
    assert "only a paid one" in response.get_json()["message"]


def test_a_refund_is_idempotent_under_its_key(client, provider):
    payment = paid(client, provider)
    headers = {"Idempotency-Key": "refund-1"}

    first = refund(client, payment, {"value": 10}, headers)
    again = refund(client, payment, {"value": 10}, headers)

    assert again.status_code == first.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sum(1 for call in provider.calls if call[0] == "PUT" and "devolucao" in call[1]) == 1


def test_a_refund_the_provider_did_not_hear_is_asked_again(app, client, provider):
    payment = paid(client, provider)
    provider.down = True
    response = refund(client, payment, {"value": 10})
    assert response.status_code == 202
    assert response.get_json()["refund"]["status"] == "requested"
    provider.down = False
    with app.app_context():
        row = db.session.scalars(select(PspRefund)).one()
        row.created_at -= timedelta(minutes=1)
        db.session.commit()

        follow_open()

        assert db.session.scalars(select(PspRefund.status)).one() == "EM_PROCESSAMENTO"


def test_unknown_fields_of_a_refund_are_400(client, provider):
    payment = paid(client, provider)

    response = refund(client, payment, {"amount": 10})

    assert response.status_code == 400 and "amount" in response.get_json()["message"]


# --- the webhook registration and the settings -------------------------------------------------


def test_register_webhook(app, provider):
    result = app.test_cli_runner().invoke(args=["psp", "register-webhook", "https://shop.example"])

    assert result.exit_code == 0, result.output
    assert provider.webhooks[app.config["PIX_KEY"]] == \
        "https://shop.example/payments/pix/confirmation"


@pytest.mark.parametrize(("settings", "problem"), [
    ({"PIX_PSP_URL": "https://psp.example/v2"}, "PIX_PSP_URL needs PIX_PSP_CLIENT_ID"),
    ({**CONFIG, "PIX_PSP_RECONCILE_SECONDS": "soon"}, "PIX_PSP_RECONCILE_SECONDS must be"),
    ({**CONFIG, "PIX_PSP_CERT": "/nonexistent.pem"}, "PIX_PSP_CERT and PIX_PSP_KEY go together"),
    ({"PIX_PSP_CLIENT_ID": "x"}, "set without PIX_PSP_URL"),
    ({**CONFIG, "PIX_PSP_URL": "psp.example"}, "must be an absolute https URL"),
])
def test_bad_provider_settings_stop_the_start(tmp_path, settings, problem):
    with pytest.raises(ConfigError, match=problem):
        make_app(tmp_path, **settings)


def test_production_wants_https_for_the_provider(tmp_path):
    with pytest.raises(ConfigError, match="PIX_PSP_URL must be https in production"):
        make_app(tmp_path, **CONFIG, PAYMENTS_ENV="production")


# --- static mode and both modes ------------------------------------------------------------------


def test_static_mode_refunds_say_they_need_a_provider(tmp_path):
    client = make_app(tmp_path).test_client()
    payment = create(client)

    response = refund(client, payment)

    assert response.status_code == 409
    assert "Refunds need a Pix provider" in response.get_json()["message"]


@pytest.fixture(params=["static", "provider"])
def any_mode(request, tmp_path):
    """A client in each mode: static BR Codes, or dynamic charges at the fake provider."""
    provider = None
    if request.param == "static":
        app = make_app(tmp_path)
    else:
        app = make_app(tmp_path, **CONFIG)
        provider = FakeProvider()
        psp_client(app).session.mount("http://psp.test", provider)
    yield request.param, app.test_client(), provider
    with app.app_context():
        db.engine.dispose()


def test_create_page_and_cancel_in_both_modes(any_mode):
    mode, client, _ = any_mode
    payment = create(client, "10.00")
    code = parse_brcode(payment["pix_code"])

    assert code.is_dynamic is (mode == "provider")
    assert code.point_of_initiation == "12"
    assert len(payment["txid"]) == (32 if mode == "provider" else 25)
    assert client.get(payment["page_url"]).status_code == 200
    assert client.post(f"/payments/pix/{payment['id']}/cancel").status_code == 200
    assert status(client, payment) == "canceled"


def test_an_api_pix_callback_pays_once_in_both_modes(any_mode):
    mode, client, provider = any_mode
    payment = create(client, "10.00")
    item = {"endToEndId": "E12345678202611231005abcdefghijk", "txid": payment["txid"],
            "valor": "10.00", "horario": "2026-11-23T10:05:00.000Z"}
    if provider is not None:
        item = provider.pay(payment["txid"])  # the provider must know it

    first = callback(client, item).get_json()["results"][0]
    again = callback(client, item).get_json()["results"][0]

    assert first["status"] == again["status"] == 200
    assert first["payment"]["status"] == again["payment"]["status"] == "paid"
    assert first["message"] == again["message"] == "The payment has been confirmed"


def test_the_token_is_kept_until_shortly_before_it_expires(app, client, provider):
    for _ in range(3):
        create(client)

    assert provider.calls.count(("POST", "/oauth/token")) == 1
    with app.app_context():
        session = psp_client().session
        session.token["expires_at"] = session.token["expires_at"] - 3600 + 20  # 20 s left
    create(client)

    assert provider.calls.count(("POST", "/oauth/token")) == 2
