"""The outbox: one event per real change, written in the change's transaction, sent by the relay."""

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from payments.charges import service
from payments.charges.models import PaymentStatus, utcnow
from payments.events import outbox, relay
from payments.events.models import Event, EventDelivery
from payments.extensions import db


class Recorder(outbox.Destination):
    """A destination that keeps what it is sent; ``answers`` says what each send gives."""

    def __init__(self, kind="test", targets=("a",), delays=(0, 0), answers=None):
        super().__init__(kind=kind)
        self.names = list(targets)
        self.delays = list(delays)
        self.answers = answers or (lambda target, event: outbox.Outcome(True, 200))
        self.sent: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def targets(self, connection, event):
        return list(self.names)

    def send(self, target, event):
        with self.lock:
            self.sent.append((target, event))
        return self.answers(target, event)

    def retry_seconds(self):
        return list(self.delays)


def events(app) -> list[Event]:
    with app.app_context():
        return db.session.scalars(select(Event).order_by(Event.created_at)).all()


def deliveries(app) -> list[EventDelivery]:
    with app.app_context():
        return db.session.scalars(select(EventDelivery).order_by(EventDelivery.id)).all()


def types(app) -> list[str]:
    return [event.type for event in events(app)]


def test_each_real_change_is_one_event_and_a_repeated_notice_none(app, create, notify, client):
    paid = create()
    assert types(app) == ["payment.created"]
    assert notify(paid).status_code == 200
    assert notify(paid).status_code == 200  # the bank repeats itself
    assert types(app) == ["payment.created", "payment.paid"]
    assert notify(paid, status="refunded").status_code == 200
    assert notify(paid, status="refunded").status_code == 200
    refused = create()
    assert notify(refused, status="refused").status_code == 200
    assert notify(refused, status="refused").status_code == 200
    canceled = create()
    assert client.post(f"/payments/pix/{canceled['id']}/cancel").status_code == 200
    assert client.post(f"/payments/pix/{canceled['id']}/cancel").status_code == 200
    expired = create()
    with app.app_context():
        assert service.expire_due(utcnow() + timedelta(days=1)) == 1
        assert service.expire_due(utcnow() + timedelta(days=1)) == 0

    found = [(event.subject, event.type) for event in events(app)]
    assert found == [
        (paid["id"], "payment.created"), (paid["id"], "payment.paid"),
        (paid["id"], "payment.refunded"),
        (refused["id"], "payment.created"), (refused["id"], "payment.refused"),
        (canceled["id"], "payment.created"), (canceled["id"], "payment.canceled"),
        (expired["id"], "payment.created"), (expired["id"], "payment.expired"),
    ]


def test_the_event_is_a_cloudevents_document_with_the_merchant_view(app, create, notify, client):
    payment = create()
    notify(payment)
    event = json.loads(events(app)[-1].body)
    with app.test_request_context():
        merchant_view = service.get_payment(payment["id"]).to_dict()  # the merchant's view
    assert set(event) == {"specversion", "id", "source", "type", "subject", "time",
                          "datacontenttype", "data"}
    assert event["specversion"] == "1.0"
    assert event["source"] == "/payments/pix"
    assert event["type"] == "payment.paid"
    assert event["subject"] == payment["id"]
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    assert event["id"] == events(app)[-1].id
    assert event["data"] == {"payment": merchant_view}  # bank_payment_id, metadata: all of it
    assert event["data"]["payment"]["status"] == "paid"
    assert event["data"]["payment"]["bank_payment_id"] == payment["bank_payment_id"]


def test_a_rolled_back_change_leaves_no_event(app, create):
    payment = create()
    with app.app_context():
        charge = service.get_payment(payment["id"])
        assert service.move(charge, PaymentStatus.PAID)
        assert len(events(app)) == 1  # another connection does not see it yet
        db.session.rollback()
        db.session.close()
        assert service.get_payment(payment["id"]).status == "pending"
    assert types(app) == ["payment.created"]
    assert deliveries(app) == []


def test_each_target_gets_a_delivery_and_the_relay_sends_each_once(app, create, notify):
    recorder = Recorder(targets=("a", "b"))
    outbox.register(app, recorder)
    payment = create()
    notify(payment)
    assert [(d.kind, d.target, d.status) for d in deliveries(app)] == [
        ("test", "a", "pending"), ("test", "b", "pending")] * 2

    assert relay.deliver_due(app) == 4
    assert relay.deliver_due(app) == 0  # nothing is sent twice
    assert sorted((target, event["type"]) for target, event in recorder.sent) == [
        ("a", "payment.created"), ("a", "payment.paid"),
        ("b", "payment.created"), ("b", "payment.paid")]
    assert {(d.status, d.attempts, d.last_status) for d in deliveries(app)} == {
        ("delivered", 1, 200)}
    sent = {event["id"]: event for _, event in recorder.sent}
    assert {event.id: json.loads(event.body) for event in events(app)} == sent


def test_failures_are_retried_on_the_schedule_then_failed(app, create):
    calls = []

    def answers(target, event):
        calls.append(time.monotonic())
        return outbox.Outcome(False, 503, "answered 503")

    outbox.register(app, Recorder(delays=(0, 3600), answers=answers))
    create()
    assert relay.deliver_due(app) == 2  # the first try, and the second after 0 s
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 2, 503)
    assert delivery.last_error == "answered 503"
    wait = delivery.next_attempt_at - utcnow()
    assert timedelta(seconds=3500) < wait <= timedelta(seconds=3600)
    assert relay.deliver_due(app) == 0  # not due for an hour
    with app.app_context():
        db.session.execute(db.update(EventDelivery).values(next_attempt_at=utcnow()))
        db.session.commit()
    assert relay.deliver_due(app) == 1
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert len(calls) == 3


def test_a_final_outcome_fails_the_delivery_at_once(app, create):
    outbox.register(app, Recorder(answers=lambda t, e: outbox.Outcome(False, 410, "gone",
                                                                      final=True)))
    create()
    assert relay.deliver_due(app) == 1
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("failed", 1, 410)


def test_only_limits_an_event_to_some_destinations(app, create):
    outbox.register(app, Recorder(kind="push", targets=("device",)))
    outbox.register(app, Recorder(kind="webhook", targets=("url",)))
    payment = create()
    with app.app_context(), db.engine.begin() as connection:
        event_id = outbox.emit(connection, type="push.message", payment=payment,
                               data={"title": "t", "body": "b", "url": "/u"}, only=("push",))
    mine = [d for d in deliveries(app) if d.event_id == event_id]
    assert [(d.kind, d.target) for d in mine] == [("push", "device")]
    assert json.loads(events(app)[-1].body)["data"] == {"title": "t", "body": "b", "url": "/u"}


def test_a_failing_target_does_not_hold_the_others(app, create):
    def answers(target, event):
        if target == "dead":
            return outbox.Outcome(False, error="no answer within 10 s")
        return outbox.Outcome(True, 200)

    outbox.register(app, Recorder(targets=("dead", "alive"), delays=(3600,), answers=answers))
    for _ in range(5):
        create()
    assert relay.deliver_due(app) == 10
    by_target = {}
    for delivery in deliveries(app):
        by_target.setdefault(delivery.target, set()).add((delivery.status, delivery.attempts))
    assert by_target == {"alive": {("delivered", 1)}, "dead": {("pending", 1)}}
    dead_errors = {d.last_error for d in deliveries(app) if d.target == "dead"}
    assert "no answer within 10 s" in dead_errors  # the first; the rest were not sent again
    assert any(error.startswith("not sent") for error in dead_errors)


def test_the_background_relay_is_woken_by_a_commit(app, create, notify):
    recorder = Recorder()
    outbox.register(app, recorder)
    worker = relay.Relay(app)
    relay.wake()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    time.sleep(0.2)  # the relay is waiting for a wake-up or its poll
    started = time.monotonic()
    payment = create()
    notify(payment)
    deadline = time.monotonic() + 5
    while len(recorder.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    took = time.monotonic() - started
    assert [event["type"] for _, event in recorder.sent] == ["payment.created", "payment.paid"]
    assert took < relay.POLL_SECONDS  # woken, not polled
    worker.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_waiting_counts_pending_deliveries_only(app, create, client, status):
    outbox.register(app, Recorder(delays=(), answers=lambda t, e: outbox.Outcome(False)))
    create()
    if status == "failed":
        relay.deliver_due(app)
    assert client.get("/health").get_json()["events_waiting"] == (1 if status == "pending" else 0)
