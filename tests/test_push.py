"""Web Push: keys, subscriptions, a push per change through the outbox, the merchant's notify.

Every push goes to a fake push service on loopback (``tests/push_service.py``)
that checks the VAPID JWT and decrypts the body, as a real one and the
browser would.
"""

import base64
import json
import os
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from payments import create_app
from payments.charges.models import utcnow
from payments.events import relay
from payments.events.models import EventDelivery
from payments.extensions import db
from payments.push import keys, subscriptions
from payments.push.models import PushSubscription
from payments.settings import ConfigError
from tests.push_service import PushService, b64url, vapid_key_pair


@pytest.fixture
def service(app):
    """Return a fake push service that knows the app's VAPID public key."""
    with app.app_context():
        public_key = keys.public_key()
    with PushService(public_key) as service:
        yield service


@pytest.fixture
def subscribe(client):
    """Return a helper that subscribes a browser to a charge; returns the response."""

    def subscribe(payment, browser=None, body=None):
        body = body if body is not None else browser.subscription()
        return client.post(f"/payments/pix/{payment['id']}/push", json=body)

    return subscribe


def deliveries(app) -> list[EventDelivery]:
    with app.app_context():
        rows = db.session.scalars(
            select(EventDelivery).where(EventDelivery.kind == "push").order_by(EventDelivery.id)
        ).all()
        db.session.expunge_all()
        return rows


def make_due(app) -> None:
    """Bring every pending delivery's next attempt to now (as if its delay had passed)."""
    with app.app_context():
        db.session.execute(
            update(EventDelivery)
            .where(EventDelivery.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()


# --- keys -------------------------------------------------------------------------------------


def test_the_public_key_is_the_uncompressed_p256_point(client, create):
    payment = create()

    response = client.get(f"/payments/pix/{payment['id']}/push")

    assert response.status_code == 200
    key = response.get_json()["public_key"]
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4 and "=" not in key
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # on the curve


def test_the_public_key_of_an_unknown_charge_is_404(client):
    response = client.get("/payments/pix/nope-nope-nope-nope-nop/push")

    assert response.status_code == 404
    assert response.get_json()["message"]


def test_a_generated_key_is_made_once_private_and_kept(tmp_path):
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"}
    first = create_app(config, instance_path=str(tmp_path))
    second = create_app(config, instance_path=str(tmp_path))

    path = tmp_path / keys.KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with first.app_context():
        one = keys.public_key()
    with second.app_context():
        assert keys.public_key() == one
    assert "PRIVATE KEY" not in repr(dict(first.config))  # never in the config


def test_vapid_private_key_is_used_when_set(tmp_path):
    pem, expected = vapid_key_pair()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SECRET_KEY": "x",
            "VAPID_PRIVATE_KEY": pem.replace("\n", "\\n"),
        },
        instance_path=str(tmp_path),
    )

    with app.app_context():
        public = keys.public_key()
    assert public == expected
    assert not (tmp_path / keys.KEY_FILE).exists()


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("VAPID_PRIVATE_KEY", "not a key", "VAPID_PRIVATE_KEY must be an unencrypted PEM"),
        ("VAPID_SUBJECT", "admin@example.com", "VAPID_SUBJECT must be a mailto:"),
        ("VAPID_SUBJECT", "http://example.com", "VAPID_SUBJECT must be a mailto:"),
        ("PUSH_KEEP_SECONDS", "soon", "PUSH_KEEP_SECONDS must be"),
    ],
)
def test_bad_push_settings_stop_the_start(tmp_path, setting, value, words):
    with pytest.raises(ConfigError, match=words) as caught:
        create_app(
            {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", setting: value},
            instance_path=str(tmp_path),
        )
    assert "not a key" not in str(caught.value)  # a key's text is never repeated


def test_keygen_prints_a_p256_private_key(app):
    result = app.test_cli_runner().invoke(args=["push", "keygen"])

    assert result.exit_code == 0
    key = serialization.load_pem_private_key(result.output.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


# --- subscribe and unsubscribe ----------------------------------------------------------------


def test_subscribing_stores_the_subscription(app, create, subscribe, service):
    payment = create()
    browser = service.browser()

    response = subscribe(payment, browser)

    assert response.status_code == 201
    subscription_id = response.get_json()["id"]
    assert len(subscription_id) >= 22
    with app.app_context():
        stored = db.session.get(PushSubscription, subscription_id)
        assert stored.endpoint == browser.endpoint
        assert stored.auth == browser.subscription()["keys"]["auth"]


def test_the_same_browser_again_keeps_its_subscription(create, subscribe, service):
    payment = create()
    browser = service.browser()

    first = subscribe(payment, browser).get_json()["id"]
    again = subscribe(payment, browser)

    assert again.status_code == 201 and again.get_json()["id"] == first


def _with(subscription: dict, path: str, value) -> dict:
    body = json.loads(json.dumps(subscription))
    target = body
    *parents, last = path.split(".")
    for name in parents:
        target = target[name]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return body


NOT_ON_CURVE = b64url(b"\x04" + b"\x01" * 64)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("endpoint", "http://push.example.com/x", "endpoint"),
        ("endpoint", "ftp://127.0.0.1/x", "endpoint"),
        ("endpoint", "https://user:pw@push.example.com/x", "endpoint"),
        ("endpoint", "not a url", "endpoint"),
        ("endpoint", 12, "endpoint"),
        ("endpoint", "https://push.example.com/" + "x" * 2048, "endpoint"),
        ("endpoint", KeyError, "endpoint"),
        ("keys.p256dh", b64url(b"\x04" + b"\x01" * 31), "keys.p256dh"),
        ("keys.p256dh", NOT_ON_CURVE, "keys.p256dh"),
        ("keys.p256dh", "***", "keys.p256dh"),
        ("keys.p256dh", KeyError, "keys.p256dh"),
        ("keys.auth", b64url(os.urandom(15)), "keys.auth"),
        ("keys.auth", b64url(os.urandom(17)), "keys.auth"),
        ("keys.auth", None, "keys.auth"),
        ("keys", KeyError, "keys"),
        ("keys", "k", "keys"),
        ("expirationTime", "tomorrow", "expirationTime"),
    ],
)
def test_a_bad_subscription_is_400_naming_the_field(
    app, create, subscribe, service, path, value, field
):
    payment = create()
    body = _with(service.browser().subscription(), path, value)

    response = subscribe(payment, body=body)

    assert response.status_code == 400
    assert field in response.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(select(PushSubscription)) is None


def test_a_body_that_is_not_json_is_refused(client, create):
    payment = create()

    response = client.post(
        f"/payments/pix/{payment['id']}/push", data="x", content_type="text/plain"
    )

    assert response.status_code == 415


@pytest.fixture
def production(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.sqlite'}",
            "SECRET_KEY": "x" * 32,
            "PAYMENTS_ENV": "production",
            "PIX_WEBHOOK_SECRET": "s" * 32,
            "MERCHANT_API_KEYS": "k" * 32,
            "PIX_KEY": "+5511987654321",
        },
        instance_path=str(tmp_path),
    )
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:9/push/x",
        "https://127.0.0.1/push/x",
        "https://10.0.0.8/push/x",
        "https://[::1]/push/x",
        "https://169.254.169.254/latest",
    ],
)
def test_outside_sandbox_a_loopback_or_private_endpoint_is_refused(production, service, endpoint):
    client = production.test_client()
    created = client.post(
        "/payments/pix", json={"value": 10}, headers={"Authorization": "Bearer " + "k" * 32}
    ).get_json()["payment"]
    body = _with(service.browser().subscription(), "endpoint", endpoint)

    response = client.post(f"/payments/pix/{created['id']}/push", json=body)

    assert response.status_code == 400
    assert "endpoint" in response.get_json()["message"]
    good = _with(body, "endpoint", "https://fcm.googleapis.com/fcm/send/abc")
    assert client.post(f"/payments/pix/{created['id']}/push", json=good).status_code == 201


def test_subscribing_to_an_unknown_charge_is_404(subscribe, service):
    response = subscribe({"id": "nope-nope-nope-nope-nop"}, service.browser())

    assert response.status_code == 404


def test_a_charge_that_is_not_pending_is_409(create, notify, subscribe, service):
    payment = create()
    notify(payment)

    response = subscribe(payment, service.browser())

    assert response.status_code == 409
    assert "pending" in response.get_json()["message"]


def test_at_most_five_browsers_per_charge(create, subscribe, service):
    payment = create()
    answers = [subscribe(payment, service.browser()).status_code for _ in range(6)]

    assert answers == [201] * 5 + [409]
    assert subscribe(create(), service.browser()).status_code == 201  # per charge


def test_unsubscribing_deletes_it(app, client, create, subscribe, service):
    payment = create()
    subscription_id = subscribe(payment, service.browser()).get_json()["id"]
    path = f"/payments/pix/{payment['id']}/push/{subscription_id}"

    assert client.delete(path).status_code == 204
    assert client.delete(path).status_code == 404
    with app.app_context():
        assert db.session.get(PushSubscription, subscription_id) is None


def test_a_subscription_is_unsubscribed_only_through_its_own_charge(
    client, create, subscribe, service
):
    payment, other = create(), create()
    subscription_id = subscribe(payment, service.browser()).get_json()["id"]

    response = client.delete(f"/payments/pix/{other['id']}/push/{subscription_id}")

    assert response.status_code == 404
    assert client.delete(f"/payments/pix/{payment['id']}/push/{subscription_id}").status_code == 204


# --- a push per change ------------------------------------------------------------------------


def expected_paid(payment: dict) -> dict:
    return {
        "title": "Pagamento confirmado",
        "body": "Recebemos o seu Pix de R$ 1.500,50 para Loja Exemplo.",
        "url": payment["page_url"],
        "tag": f"payment-{payment['id']}",
        "status": "paid",
    }


def test_a_confirmation_sends_one_encrypted_push_per_browser(
    app, create, notify, subscribe, service
):
    payment = create(1500.5)
    phone, laptop = service.browser("phone"), service.browser("laptop")
    subscribe(payment, phone)
    subscribe(payment, laptop)

    assert notify(payment).status_code == 200
    assert service.pushes == []  # not in the bank's request: the relay sends it
    relay.deliver_due(app)

    pushes = service.wait_for(2)
    assert service.rejected == []
    assert sorted(push.browser for push in pushes) == ["laptop", "phone"]
    for push in pushes:
        assert push.payload == expected_paid(payment)
        assert push.headers["urgency"] == "high"
        assert int(push.headers["ttl"]) > 0
        assert push.claims["aud"] == service.origin
        assert push.claims["sub"] == app.config["VAPID_SUBJECT"]
    relay.deliver_due(app)
    assert len(service.pushes) == 2  # exactly one each
    assert {row.status for row in deliveries(app)} == {"delivered"}


def test_a_repeated_notice_sends_nothing_more(app, create, notify, subscribe, service):
    payment = create()
    subscribe(payment, service.browser())
    notify(payment)
    relay.deliver_due(app)
    service.wait_for(1)

    notify(payment)
    relay.deliver_due(app)

    assert len(service.pushes) == 1


def test_each_status_has_its_portuguese_message(app, client, create, subscribe, service):
    payment = create(10)
    subscribe(payment, service.browser())

    client.post(f"/payments/pix/{payment['id']}/cancel")
    relay.deliver_due(app)

    push = service.wait_for(1)[0]
    assert push.payload["title"] == "Cobrança cancelada"
    assert "R$ 10,00" in push.payload["body"]
    assert push.payload["status"] == "canceled"


def test_the_payload_holds_nothing_of_the_merchant_view(app, create, notify, subscribe, service):
    payment = create()
    subscribe(payment, service.browser())
    notify(payment)
    relay.deliver_due(app)

    text = json.dumps(service.wait_for(1)[0].payload)
    assert payment["bank_payment_id"] not in text and payment["qr_code"] not in text


def test_a_gone_subscription_is_deleted(app, create, notify, subscribe, service):
    payment = create()
    browser = service.browser()
    subscription_id = subscribe(payment, browser).get_json()["id"]
    service.answer(browser.name, 410)

    notify(payment)
    relay.deliver_due(app)

    [delivery] = deliveries(app)
    assert delivery.status == "failed" and delivery.last_status == 410
    with app.app_context():
        assert db.session.get(PushSubscription, subscription_id) is None


def test_a_push_service_error_is_retried(app, create, notify, subscribe, service):
    payment = create()
    browser = service.browser()
    subscribe(payment, browser)
    service.answer(browser.name, 500, 429)

    notify(payment)
    relay.deliver_due(app)
    [first] = deliveries(app)
    make_due(app)
    relay.deliver_due(app)
    [second] = deliveries(app)
    make_due(app)
    relay.deliver_due(app)

    assert (first.status, first.last_status, first.attempts) == ("pending", 500, 1)
    assert (second.status, second.last_status) == ("pending", 429)
    assert service.wait_for(1)[0].payload["status"] == "paid"
    assert service.attempts[browser.name] == 3
    [last] = deliveries(app)
    assert last.status == "delivered"


def test_another_refusal_fails_the_delivery_and_keeps_the_subscription(
    app, create, notify, subscribe, service
):
    payment = create()
    browser = service.browser()
    subscription_id = subscribe(payment, browser).get_json()["id"]
    service.answer(browser.name, 403)  # e.g. a VAPID key the service does not accept

    notify(payment)
    relay.deliver_due(app)

    [delivery] = deliveries(app)
    assert (delivery.status, delivery.last_status) == ("failed", 403)
    with app.app_context():
        assert db.session.get(PushSubscription, subscription_id) is not None


def test_an_unreachable_push_service_is_retried(app, create, notify, subscribe, service):
    payment = create()
    body = _with(service.browser().subscription(), "endpoint", "http://127.0.0.1:9/push/x")
    subscribe(payment, body=body)

    notify(payment)
    relay.deliver_due(app)

    [delivery] = deliveries(app)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert "cannot reach" in delivery.last_error and "127.0.0.1" not in delivery.last_error


def test_a_subscription_past_its_expiration_time_is_not_pushed_to(
    app, create, notify, subscribe, service
):
    payment = create()
    body = service.browser().subscription()
    body["expirationTime"] = int((utcnow() + timedelta(seconds=1)).timestamp() * 1000)
    subscribe(payment, body=body)
    with app.app_context():
        db.session.execute(update(PushSubscription).values(expires_at=utcnow()))
        db.session.commit()

    notify(payment)
    relay.deliver_due(app)

    [delivery] = deliveries(app)
    assert delivery.status == "failed" and service.attempts == {}
    with app.app_context():
        assert db.session.scalar(select(PushSubscription)) is None


# --- the merchant's notify --------------------------------------------------------------------


def test_notify_queues_a_message_for_each_browser(app, client, create, subscribe, service):
    payment = create()
    subscribe(payment, service.browser())
    subscribe(payment, service.browser())

    response = client.post(
        f"/payments/pix/{payment['id']}/push/notify",
        json={"title": "Seu pedido", "body": "Já separamos o seu pedido."},
    )

    assert response.status_code == 202 and response.get_json() == {"queued": 2}
    relay.deliver_due(app)
    pushes = service.wait_for(2)
    assert {json.dumps(push.payload, sort_keys=True) for push in pushes} == {
        json.dumps(
            {
                "title": "Seu pedido",
                "body": "Já separamos o seu pedido.",
                "url": payment["page_url"],
                "tag": f"payment-{payment['id']}",
                "status": "pending",
            },
            sort_keys=True,
        )
    }
    assert pushes[0].headers["urgency"] == "normal"


def test_notify_without_browsers_queues_nothing(client, create):
    payment = create()

    response = client.post(
        f"/payments/pix/{payment['id']}/push/notify",
        json={"title": "Oi", "body": "Tudo certo", "url": "https://loja.example"},
    )

    assert response.status_code == 202 and response.get_json() == {"queued": 0}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"body": "x"}, "title"),
        ({"title": "x"}, "body"),
        ({"title": "", "body": "x"}, "title"),
        ({"title": "x" * 81, "body": "x"}, "title"),
        ({"title": "x", "body": "x" * 301}, "body"),
        ({"title": "x\n", "body": "x"}, "title"),
        ({"title": "x", "body": "x", "url": "javascript:alert(1)"}, "url"),
        ({"title": "x", "body": "x", "icon": "y"}, "icon"),
        ({"title": 1, "body": "x"}, "title"),
    ],
)
def test_notify_refuses_bad_input(client, create, body, words):
    payment = create()

    response = client.post(f"/payments/pix/{payment['id']}/push/notify", json=body)

    assert response.status_code == 400
    assert words in response.get_json()["message"]


def test_notify_of_an_unknown_charge_is_404(client):
    response = client.post(
        "/payments/pix/nope-nope-nope-nope-nop/push/notify", json={"title": "x", "body": "y"}
    )

    assert response.status_code == 404


def test_notify_is_a_merchant_route(production):
    client = production.test_client()
    key = {"Authorization": "Bearer " + "k" * 32}
    payment = client.post("/payments/pix", json={"value": 10}, headers=key).get_json()["payment"]
    path = f"/payments/pix/{payment['id']}/push/notify"

    refused = client.post(path, json={"title": "x", "body": "y"})
    accepted = client.post(path, json={"title": "x", "body": "y"}, headers=key)

    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert accepted.status_code == 202
    # The customer's push routes need no key.
    assert client.get(f"/payments/pix/{payment['id']}/push").status_code == 200


def test_notify_is_idempotent(app, client, create, subscribe, service):
    payment = create()
    subscribe(payment, service.browser())
    path = f"/payments/pix/{payment['id']}/push/notify"
    headers = {"Idempotency-Key": "notify-1"}

    first = client.post(path, json={"title": "x", "body": "y"}, headers=headers)
    again = client.post(path, json={"title": "x", "body": "y"}, headers=headers)

    assert first.status_code == again.status_code == 202
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(deliveries(app)) == 1


# --- keeping subscriptions only a while -------------------------------------------------------


def test_subscriptions_of_a_charge_long_final_are_purged(app, create, notify, subscribe, service):
    done, open_ = create(), create()
    subscribe(done, service.browser())
    subscribe(open_, service.browser())
    notify(done)

    with app.app_context():
        keep = app.config["PUSH_KEEP_SECONDS"]
        assert subscriptions.purge(keep) == 0  # just paid: kept a while
        later = utcnow() + timedelta(seconds=keep + 1)
        assert subscriptions.purge(keep, now=later) == 1
        left = db.session.scalars(select(PushSubscription)).all()
        assert [row.payment_id for row in left] != [] and len(left) == 1


# --- the service worker -----------------------------------------------------------------------


def test_the_service_worker_is_served_as_javascript(client):
    response = client.get("/payments/pix/sw.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "no-cache" in response.headers["Cache-Control"]
    text = response.get_data(as_text=True)
    assert "showNotification" in text and "notificationclick" in text


def test_the_page_offers_the_button_hidden_until_the_script_knows(client, create):
    payment = create()

    html = client.get(payment["page_url"]).get_data(as_text=True)

    assert "Avisar quando o pagamento for confirmado" in html
    assert 'id="push" class="notify" aria-labelledby="push-title" hidden' in html
    assert f'data-push-url="/payments/pix/{payment["id"]}/push"' in html
    assert 'data-worker-scope="/payments/pix/"' in html


def test_the_csp_allows_the_worker_from_the_app_only(client, create):
    response = client.get(create()["page_url"])

    assert "worker-src 'self'" in response.headers["Content-Security-Policy"]
