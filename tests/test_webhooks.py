"""Merchant webhooks: signed CloudEvents POSTed to each URL, retried, listed and resent."""

import json
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from werkzeug.serving import make_server

from payments.bank import signature
from payments.boot import StartError, serve_app
from payments.charges import service
from payments.charges.models import utcnow
from payments.events import purge, relay, webhooks
from payments.events.models import Event, EventDelivery
from payments.extensions import db
from payments.settings import ConfigError
from tests.apps import app_with_tables
from tests.live import ROOT, free_port
from tests.receiver import BlackHole, Receiver

SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def webhook_app(tmp_path):
    """Return a factory of apps that POST their events to ``urls``."""
    apps = []

    def make(*urls, retry="0,0", **config):
        app = app_with_tables({
            "TESTING": True, "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'hooks.sqlite'}",
            "MERCHANT_WEBHOOK_URLS": ",".join(urls), "MERCHANT_WEBHOOK_SECRET": SECRET,
            "MERCHANT_WEBHOOK_RETRY_SECONDS": retry, **config}, str(tmp_path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def create(app, value=150.5) -> dict:
    response = app.test_client().post("/payments/pix", json={"value": value,
                                                             "external_id": "PED-1"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["payment"]


def notify(app, payment, status="approved"):
    return app.test_client().post("/payments/pix/confirmation", json={
        "bank_payment_id": payment["bank_payment_id"], "value": payment["value"],
        "status": status})


def deliveries(app) -> list[EventDelivery]:
    with app.app_context():
        return db.session.scalars(select(EventDelivery).order_by(EventDelivery.id)).all()


def readme_snippets() -> list[str]:
    """Return the Python blocks of the README's section "Events for your systems"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Events for your systems", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def readme_endpoint(monkeypatch) -> dict:
    """Run the README's two snippets; return their names (``verify``, ``app``)."""
    verify_code, endpoint_code = readme_snippets()
    namespace: dict = {"__name__": "__main__"}  # as if it were the merchant's app.py
    exec(compile(verify_code, "README.md", "exec"), namespace)
    monkeypatch.setenv("MERCHANT_WEBHOOK_SECRET", SECRET)
    exec(compile(endpoint_code, "README.md", "exec"), namespace)
    return namespace


# Settings ------------------------------------------------------------------------------------


def test_urls_need_a_secret_and_the_server_refuses_to_start_with_one_clear_line(tmp_path):
    config = {"SECRET_KEY": "x", "MERCHANT_WEBHOOK_URLS": "https://shop.example/hooks",
              "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'a.sqlite'}"}
    with pytest.raises(StartError) as raised:
        serve_app(config, instance_path=str(tmp_path))
    assert str(raised.value) == ("MERCHANT_WEBHOOK_URLS needs MERCHANT_WEBHOOK_SECRET, the secret "
                                 "the merchant's endpoint checks each event's signature with")

    env = {"PATH": "/usr/bin:/bin", "MERCHANT_WEBHOOK_URLS": "https://shop.example/hooks",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite'}", "PORT": str(free_port())}
    started = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, timeout=60,
                             capture_output=True, text=True)
    assert started.returncode == 1
    assert started.stderr.strip().splitlines() == [
        "error: MERCHANT_WEBHOOK_URLS needs MERCHANT_WEBHOOK_SECRET, the secret the merchant's "
        "endpoint checks each event's signature with"]


@pytest.mark.parametrize(("name", "value", "problem"), [
    ("MERCHANT_WEBHOOK_URLS", "ftp://shop.example/x",
     "MERCHANT_WEBHOOK_URLS: 'ftp://shop.example/x' is not an http(s) URL"),
    ("MERCHANT_WEBHOOK_RETRY_SECONDS", "10,soon",
     "MERCHANT_WEBHOOK_RETRY_SECONDS must be comma-separated whole seconds from 0 to 604800, "
     "e.g. 10,60,300"),
    ("EVENTS_RETENTION_DAYS", "a week", "EVENTS_RETENTION_DAYS must be a number from 0 to 3650: "
                                        "'a week'"),
])
def test_each_bad_setting_is_named(tmp_path, name, value, problem):
    from payments import create_app

    config = {"SECRET_KEY": "x", "MERCHANT_WEBHOOK_URLS": "https://shop.example/hooks",
              "MERCHANT_WEBHOOK_SECRET": SECRET, name: value}
    with pytest.raises(ConfigError) as raised:
        create_app(config, instance_path=str(tmp_path))
    assert str(raised.value) == problem


def test_the_default_schedule_is_the_contracts(webhook_app):
    app = webhook_app("http://127.0.0.1:9/", retry="10,60,300,1800,7200,21600,86400")
    from payments import settings

    assert settings.DEFAULTS["MERCHANT_WEBHOOK_RETRY_SECONDS"] == "10,60,300,1800,7200,21600,86400"
    hooks = app.extensions["outbox"]["webhook"]
    assert hooks.retry_seconds() == [10, 60, 300, 1800, 7200, 21600, 86400]
    assert hooks.timeout == 10


def test_no_urls_no_webhook_destination(app):
    assert "webhook" not in app.extensions["outbox"]


# Delivery ------------------------------------------------------------------------------------


def test_the_envelope_and_signature_are_exact_and_the_readmes_endpoint_accepts_them(
        webhook_app, monkeypatch):
    namespace = readme_endpoint(monkeypatch)
    merchant = make_server("127.0.0.1", 0, namespace["app"], threaded=True)
    threading.Thread(target=merchant.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{merchant.server_port}/hooks/payments"
    with Receiver() as copy:
        app = webhook_app(url, copy.url)
        payment = create(app)
        assert notify(app, payment).status_code == 200
        assert relay.deliver_due(app) == 4
    merchant.shutdown()

    assert {(d.target, d.status, d.last_status) for d in deliveries(app)} == {
        (url, "delivered", 204), (copy.url, "delivered", 200)}  # the README's endpoint took them
    created, paid = copy.received
    for got in (created, paid):
        assert got.path == "/hooks/payments"
        assert got.headers["Content-Type"] == "application/cloudevents+json"
        header = got.headers["X-Webhook-Signature"]
        assert re.fullmatch(r"t=[0-9]+,v1=[0-9a-f]{64}", header)
        t = int(header.split(",")[0][2:])
        assert abs(time.time() - t) < 60
        assert header == signature.sign(SECRET, got.body, t)  # the bank's rule, one place
        assert namespace["verify"](SECRET, header, got.body)
        assert not namespace["verify"](SECRET, header, got.body + b" ")
        assert not namespace["verify"]("another secret", header, got.body)
    with app.app_context():
        stored = {event.id: event.body for event in db.session.scalars(select(Event))}
        merchant_view = service.get_payment(payment["id"]).to_dict()
    assert paid.body.decode() == stored[paid.event["id"]]  # the stored document, as it is
    event = paid.event
    assert list(event) == ["specversion", "id", "source", "type", "subject", "time",
                           "datacontenttype", "data"]
    assert event["specversion"] == "1.0"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        event["id"])
    assert (event["source"], event["type"], event["subject"]) == (
        "/payments/pix", "payment.paid", payment["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", event["time"])
    assert event["datacontenttype"] == "application/json"
    assert event["data"] == {"payment": merchant_view}
    assert event["data"]["payment"]["external_id"] == "PED-1"
    assert created.event["type"] == "payment.created"
    assert created.event["data"]["payment"]["status"] == "pending"


def test_the_readmes_endpoint_refuses_a_forged_event(monkeypatch):
    namespace = readme_endpoint(monkeypatch)
    client = namespace["app"].test_client()
    body = json.dumps({"id": "x", "type": "payment.paid", "data": {"payment": {
        "external_id": "PED-1", "status": "paid"}}}).encode()
    good = signature.sign(SECRET, body)
    assert client.post("/hooks/payments", data=body, headers={
        "X-Webhook-Signature": good}).status_code == 204
    assert client.post("/hooks/payments", data=body, headers={
        "X-Webhook-Signature": signature.sign("guess", body)}).status_code == 400
    old = signature.sign(SECRET, body, int(time.time()) - 3600)
    assert client.post("/hooks/payments", data=body, headers={
        "X-Webhook-Signature": old}).status_code == 400
    assert client.post("/hooks/payments", data=body).status_code == 400


def test_failures_are_retried_on_the_schedule_then_failed(webhook_app):
    answers = iter([500, 503])
    with Receiver(answer=lambda got: next(answers, 200)) as receiver:
        app = webhook_app(receiver.url, retry="0,0,0")
        create(app)
        assert relay.deliver_due(app) == 3
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    assert delivery.last_error is None
    assert len({got.event["id"] for got in receiver.received}) == 1
    assert len(receiver.received) == 3


def test_after_the_last_delay_the_delivery_is_failed(webhook_app):
    with Receiver(answer=lambda got: 500) as receiver:
        app = webhook_app(receiver.url, retry="0,3600")
        create(app)
        assert relay.deliver_due(app) == 2
        [delivery] = deliveries(app)
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 2, 500)
        assert delivery.next_attempt_at - utcnow() > timedelta(seconds=3500)
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(update(EventDelivery).values(next_attempt_at=utcnow()))
        assert relay.deliver_due(app) == 1
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts, delivery.last_status, delivery.last_error) == (
        "failed", 3, 500, "answered 500")
    assert len(receiver.received) == 3


@pytest.mark.parametrize(("answer", "error"), [
    (302, "answered 302"),  # a redirect is not followed: not a 2xx
    (404, "answered 404"),
])
def test_anything_but_a_2xx_is_retried(webhook_app, answer, error):
    with Receiver(answer=lambda got: answer) as receiver:
        app = webhook_app(receiver.url, retry="3600")
        create(app)
        relay.deliver_due(app)
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.last_status, delivery.last_error) == (
        "pending", answer, error)


def test_a_refused_connection_and_a_timeout_are_retried(webhook_app):
    refused = f"http://127.0.0.1:{free_port()}/hooks"
    with BlackHole() as hole, Receiver(delay=1.5) as slow:
        app = webhook_app(refused, hole.url, slow.url, retry="3600")
        app.extensions["outbox"]["webhook"].timeout = 0.5  # the contract's 10 s, shortened
        create(app)
        started = time.monotonic()
        assert relay.deliver_due(app) == 3
        took = time.monotonic() - started
    errors = {d.target: (d.status, d.last_status, d.last_error) for d in deliveries(app)}
    assert errors[refused][:2] == ("pending", None)
    assert errors[refused][2].startswith("connection failed")
    assert errors[hole.url] == ("pending", None, "no answer within 0.5 s")
    assert errors[slow.url] == ("pending", None, "no answer within 0.5 s")
    assert took < 5


def test_several_urls_each_have_their_own_record(webhook_app):
    down = f"http://127.0.0.1:{free_port()}/hooks"
    with Receiver() as first, Receiver() as second:
        app = webhook_app(first.url, down, second.url, retry="3600")
        payment = create(app)
        notify(app, payment)
        relay.deliver_due(app)
    rows = {(d.target, d.status) for d in deliveries(app)}
    assert rows == {(first.url, "delivered"), (second.url, "delivered"), (down, "pending")}
    assert len(deliveries(app)) == 6
    assert [e["type"] for e in first.events()] == ["payment.created", "payment.paid"]
    assert first.ids() == second.ids()


# The command line ----------------------------------------------------------------------------


def test_events_list_shows_each_event_with_its_deliveries(webhook_app):
    down = f"http://127.0.0.1:{free_port()}/hooks"
    with Receiver() as receiver:
        app = webhook_app(receiver.url, down, retry="0")
        payment = create(app)
        relay.deliver_due(app)
    runner = app.test_cli_runner()
    with app.app_context():
        [event] = db.session.scalars(select(Event)).all()

    shown = runner.invoke(args=["events", "list"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith(f"{event.id}  ")
    assert lines[0].endswith(f"  payment.created  {payment['id']}")
    assert lines[1].startswith(
        f"    webhook {receiver.url}  delivered  attempts=1  last_status=200")
    assert lines[2].startswith(f"    webhook {down}  failed  attempts=2  last_status=-  "
                               "error=connection failed")
    failed = runner.invoke(args=["events", "list", "--status", "failed"]).output
    assert failed.splitlines()[0] == lines[0]
    assert runner.invoke(args=["events", "list", "--status", "pending"]).output == (
        "No events with a pending delivery.\n")
    assert runner.invoke(args=["events", "list", "--status", "lost"]).exit_code == 2


def test_events_resend_delivers_again_now(webhook_app):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/payments"
    app = webhook_app(url, retry="0")
    create(app)
    relay.deliver_due(app)
    assert [d.status for d in deliveries(app)] == ["failed"]
    with app.app_context():
        event_id = db.session.scalars(select(Event.id)).one()
    runner = app.test_cli_runner()
    with Receiver(port=port) as receiver:
        sent = runner.invoke(args=["events", "resend", event_id])
        assert sent.exit_code == 0, sent.output
        assert sent.output.startswith(f"webhook {url}  delivered  attempts=1  last_status=200")
        again = runner.invoke(args=["events", "resend", event_id])
        assert again.exit_code == 0
    assert receiver.ids() == [event_id, event_id]  # resend sends even what was delivered
    [delivery] = deliveries(app)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    missing = runner.invoke(args=["events", "resend", "no-such-event"])
    assert (missing.exit_code, missing.output) == (1, "No event no-such-event\n")


def test_resend_that_fails_again_says_so(webhook_app):
    app = webhook_app(f"http://127.0.0.1:{free_port()}/hooks", retry="3600")
    create(app)
    with app.app_context():
        event_id = db.session.scalars(select(Event.id)).one()
    result = app.test_cli_runner().invoke(args=["events", "resend", event_id])
    assert result.exit_code == 1
    assert "  pending  attempts=1  " in result.output
    assert "error=connection failed" in result.output


# Purge and health ----------------------------------------------------------------------------


def test_delivered_events_are_purged_after_the_retention_and_failed_ones_kept_longer(
        webhook_app):
    down = f"http://127.0.0.1:{free_port()}/hooks"
    with Receiver() as receiver:
        app = webhook_app(receiver.url, retry="0")
        delivered = create(app)
        relay.deliver_due(app)
    app.extensions["outbox"]["webhook"].urls = [down]
    failed = create(app)
    relay.deliver_due(app)
    app.extensions["outbox"]["webhook"].delays = [3600]
    pending = create(app)
    relay.deliver_due(app)
    statuses = {d.event_id: d.status for d in deliveries(app)}
    assert sorted(statuses.values()) == ["delivered", "failed", "pending"]

    def subjects(days):
        with app.app_context():
            purge.purge(utcnow() + timedelta(days=days))
            return {event.subject for event in db.session.scalars(select(Event))}

    assert subjects(6.9) == {delivered["id"], failed["id"], pending["id"]}
    assert subjects(7.1) == {failed["id"], pending["id"]}  # EVENTS_RETENTION_DAYS
    assert subjects(29.9) == {failed["id"], pending["id"]}
    assert subjects(30.1) == {pending["id"]}  # EVENTS_FAILED_RETENTION_DAYS; pending: never
    assert {d.event_id for d in deliveries(app)} == {
        event_id for event_id, status in statuses.items() if status == "pending"}


def test_the_background_tick_purges(webhook_app):
    from payments import background

    app = webhook_app("http://127.0.0.1:9/", retry="0", EVENTS_RETENTION_DAYS=0,
                      EVENTS_FAILED_RETENTION_DAYS=0)
    create(app)
    relay.deliver_due(app)
    time.sleep(0.01)
    background.run(app, ticks=1)
    with app.app_context():
        assert db.session.scalars(select(Event)).all() == []


def test_health_counts_the_deliveries_that_wait(webhook_app):
    app = webhook_app(f"http://127.0.0.1:{free_port()}/a", f"http://127.0.0.1:{free_port()}/b")
    create(app)
    body = app.test_client().get("/health").get_json()
    assert body["status"] == "ok"
    assert body["events_waiting"] == 2


def test_the_webhook_destination_module_uses_the_banks_signature(monkeypatch):
    calls = []
    monkeypatch.setattr(signature, "sign", lambda *a: calls.append(a) or "t=1,v1=" + "0" * 64)
    hooks = webhooks.Webhooks(kind="webhook", urls=[], secret="s", delays=[])
    hooks.send(f"http://127.0.0.1:{free_port()}/", {"id": "e"})
    assert calls == [("s", b'{"id":"e"}')]


def test_the_readme_section_exists():
    assert len(readme_snippets()) == 2
    assert Path(ROOT / "README.md").read_text().count("## Events for your systems") == 1
