"""Expiry is pushed: the background task expires due charges and tells their pages once."""

import threading
from datetime import timedelta

from sqlalchemy import update

from payments import background, create_app
from payments.boot import serve_app
from payments.charges import service as services
from payments.charges.models import Payment, PaymentStatus, utcnow
from payments.events import relay
from payments.extensions import db, socketio
from payments.realtime.watchers import hub

EVENT = "payment_status"


def statuses(sio) -> list[str]:
    return [m["args"][0]["status"] for m in sio.get_received() if m["name"] == EVENT]


def test_expire_due_expires_past_charges_and_emits_once(app, create, socket_client_for):
    payment = create()
    sio = socket_client_for(payment["id"])
    sio.get_received()
    later = utcnow() + timedelta(seconds=app.config["PIX_EXPIRATION_SECONDS"] + 1)

    with app.app_context():
        first = services.expire_due(now=later)
        again = services.expire_due(now=later)
        stored = services.get_payment(payment["id"]).status

    assert (first, again) == (1, 0)
    assert stored == "expired"
    assert statuses(sio) == ["expired"]


def test_expire_due_leaves_live_and_settled_charges_alone(app, client, create, notify,
                                                          socket_client_for):
    fresh, paid = create(), create()
    notify(paid)
    pages = [socket_client_for(p["id"]) for p in (fresh, paid)]
    for sio in pages:
        sio.get_received()

    with app.app_context():
        expired = services.expire_due()

    assert expired == 0
    assert [client.get(f"/payments/pix/{p['id']}/status").get_json()["status"]
            for p in (fresh, paid)] == ["pending", "paid"]
    assert [statuses(sio) for sio in pages] == [[], []]


def test_racing_expirers_emit_once(app, create, socket_client_for, monkeypatch):
    """Two workers that both found the charge due: the conditional update lets one win."""
    payment = create()
    sio = socket_client_for(payment["id"])
    sio.get_received()
    later = utcnow() + timedelta(hours=1)
    both_found_it = threading.Barrier(2, timeout=10)
    real_move = services.move

    def move_together(*args, **kwargs):
        both_found_it.wait()
        return real_move(*args, **kwargs)

    monkeypatch.setattr(services, "move", move_together)
    results = []

    def expire():
        with app.app_context():
            results.append(services.expire_due(now=later))

    workers = [threading.Thread(target=expire) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert sorted(results) == [0, 1]
    assert statuses(sio) == ["expired"]


def test_tick_wakes_watchers_of_a_change_made_by_another_process(app, create):
    payment = create()
    with app.app_context(), hub().watch(payment["id"], "pending") as watch:
        # Another process confirms it: the row changes, nothing is published here.
        db.session.execute(update(Payment).filter_by(public_id=payment["id"])
                           .values(status=PaymentStatus.PAID.value, paid_at=utcnow()))
        db.session.commit()
        before = watch.wait(0)
        background.tick()
        after = watch.wait(0)

    assert before == []
    assert [change["status"] for change in after] == ["paid"]


def test_background_task_survives_a_failing_tick(app, monkeypatch, caplog):
    calls = []

    def flaky_tick():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")

    monkeypatch.setattr(background, "TICK_SECONDS", 0.01)
    monkeypatch.setattr(background, "tick", flaky_tick)

    background.run(app, ticks=3)

    assert len(calls) == 3
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "background tick failed; retrying every 0.01 s"]


def test_only_the_server_starts_the_background_task(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(socketio, "start_background_task", lambda *a: started.append(a))
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
              "LEAN_WEBSOCKETS": False}
    monkeypatch.setenv("SECRET_KEY", "test")

    plain = create_app(config, instance_path=str(tmp_path))
    server = serve_app(config, instance_path=str(tmp_path))

    assert started == [(background.run, server), (relay.run, server)]  # the outbox's relay too
    assert plain is not server
    for each in (plain, server):
        with each.app_context():
            db.engine.dispose()
