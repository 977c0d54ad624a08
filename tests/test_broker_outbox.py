"""The outbox to RabbitMQ: every change published once confirmed; a broker away loses nothing.

With the machine's RabbitMQ. "Broker unreachable" is made by putting it behind
``tests/faults/proxy.py`` (a loopback TCP proxy) and cutting the proxy: to the
app the broker is gone (connections refused, open ones closed), while the
machine's RabbitMQ keeps serving everyone else. The test's own exclusive queues
read what arrives, bound directly to the broker, not through the proxy.
"""

import json
import time

import pytest
from sqlalchemy import select

from payments import create_app
from payments.events import broker, relay
from payments.events.models import Event, EventDelivery
from payments.extensions import db
from tests.live import LiveServer, call, create, notify
from tests.rabbitmq import body_of, broker_url, proxy_to, taps, through  # noqa: F401  (fixtures)


def make_app(tmp_path, url):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}",
            "SECRET_KEY": "test",
            "BROKER_URL": url,
        },
        instance_path=str(tmp_path),
    )
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def proxy(broker_url):  # noqa: F811
    """Return a started proxy to the machine's RabbitMQ; cut afterwards."""
    with proxy_to(broker_url) as started:
        yield started


def rows(app, model):
    with app.app_context():
        return db.session.scalars(select(model).order_by(model.id)).all()


def bodies(app) -> dict[str, dict]:
    """Return {event id: CloudEvents document} of the outbox."""
    return {event.id: json.loads(event.body) for event in rows(app, Event)}


def test_every_change_is_published_as_its_event_document(tmp_path, broker_url, taps):  # noqa: F811
    tap = taps("payments", "topic", "payment.*")
    app = make_app(tmp_path, broker_url)
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": "150.50"}).get_json()["payment"]
    answer = client.post(
        "/payments/pix/confirmation",
        json={"bank_payment_id": payment["bank_payment_id"], "value": 150.5},
    )
    assert answer.status_code == 200

    assert relay.deliver_due(app) == 2

    documents = bodies(app)
    got = tap.collect(set(documents))
    assert set(got) == set(documents)
    for event_id, message in got.items():
        assert body_of(message) == documents[event_id]
        assert message.delivery_info["routing_key"] == documents[event_id]["type"]
        assert message.properties["delivery_mode"] == 2
        assert message.properties["content_type"] == "application/cloudevents+json"
    assert sorted(d["type"] for d in documents.values()) == ["payment.created", "payment.paid"]
    assert [(d.kind, d.target, d.status) for d in rows(app, EventDelivery)] == [
        ("broker", "payments", "delivered")
    ] * 2
    with app.app_context():
        assert client.get("/health").get_json()["broker"] == "ok"
        broker.broker(app).close()


def test_without_broker_url_nothing_is_published_and_health_says_disabled(tmp_path):
    app = make_app(tmp_path, None)
    client = app.test_client()
    client.post("/payments/pix", json={"value": 10})

    assert [d.kind for d in rows(app, EventDelivery)] == []
    assert client.get("/health").get_json()["broker"] == "disabled"


def test_a_broker_away_loses_nothing_and_never_slows_a_request(tmp_path, taps, proxy, broker_url):  # noqa: F811
    tap = taps("payments", "topic", "payment.*")
    app = make_app(tmp_path, through(broker_url, proxy.address))
    client = app.test_client()
    proxy.cut()

    started = time.monotonic()
    payment = client.post("/payments/pix", json={"value": 20}).get_json()["payment"]
    answer = client.post(
        "/payments/pix/confirmation",
        json={"bank_payment_id": payment["bank_payment_id"], "value": 20},
    )
    answered = time.monotonic() - started
    relay.deliver_due(app)
    health = client.get("/health")

    assert answer.status_code == 200
    assert answered < 0.5  # the request never touches the broker
    assert health.status_code == 200
    assert health.get_json()["broker"] == "unavailable"
    assert health.get_json()["status"] == "degraded"
    waiting = rows(app, EventDelivery)
    assert [(d.status, d.attempts) for d in waiting] == [("pending", 1), ("pending", 1)]
    assert "connection refused" in waiting[0].last_error
    assert broker.probe(app) is False  # still away

    proxy.restore()
    time.sleep(broker.RECONNECT_SECONDS)
    assert broker.probe(app) is True  # back: the waiting deliveries are due at once
    relay.deliver_due(app)

    documents = bodies(app)
    assert set(tap.collect(set(documents))) == set(documents)
    assert [d.status for d in rows(app, EventDelivery)] == ["delivered", "delivered"]
    assert client.get("/health").get_json()["broker"] == "ok"
    broker.broker(app).close()


def test_events_wait_across_a_restart_and_go_out_when_the_broker_is_back(
    tmp_path, taps, proxy, broker_url  # noqa: F811
):
    tap = taps("payments", "topic", "payment.*")
    env = {"BROKER_URL": through(broker_url, proxy.address)}
    proxy.cut()
    server = LiveServer(tmp_path, env=env).start()
    try:
        started = time.monotonic()
        payment = create(server.url)
        status, _ = notify(server.url, payment)
        answered = time.monotonic() - started
        _, health = call(server.url + "/health")
    finally:
        server.stop()
    log = server.log()

    assert status == 200
    assert answered < 1
    assert health["broker"] == "unavailable" and health["status"] == "degraded"
    assert health["events_waiting"] == 2
    assert f"broker unreachable at amqp://guest:***@{proxy.address}//" in log  # no password
    assert "Traceback" not in log

    server = LiveServer(tmp_path, env=env, name="again").start()  # still away at this start
    try:
        proxy.restore()
        deadline = time.monotonic() + 15
        messages = []
        while time.monotonic() < deadline and len(messages) < 2:
            message = tap.get(timeout=deadline - time.monotonic())
            if message is not None and body_of(message)["subject"] == payment["id"]:
                messages.append(message)
        _, health = call(server.url + "/health")
    finally:
        server.stop()

    assert sorted(body_of(m)["type"] for m in messages) == ["payment.created", "payment.paid"]
    assert health["broker"] == "ok" and health["events_waiting"] == 0
