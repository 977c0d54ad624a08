"""SSE and long polling in-process: the first state, each change, and no watch left behind."""

import json
import threading
import time

import pytest
from sqlalchemy import update

from payments import background
from payments.charges import service as services
from payments.charges.models import Payment, utcnow
from payments.extensions import db
from payments.realtime.watchers import hub
from tests.views import public


def parse_events(chunk: bytes) -> list[dict]:
    """Return the ``payment_status`` events in ``chunk``; keep-alives give none."""
    found = []
    for block in chunk.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") == "payment_status":
            found.append(json.loads(lines["data"]))
    return found


def live_watches(app) -> int:
    with app.app_context():
        return hub().count()


@pytest.fixture
def stream(app, client):
    """Open the SSE stream of a payment; closed on teardown."""
    opened = []

    def open_stream(payment_id):
        response = client.get(f"/payments/pix/{payment_id}/events", buffered=False)
        opened.append(response)
        return response, iter(response.response)

    yield open_stream
    for response in opened:
        response.close()


def test_events_stream_the_current_state_then_each_change(app, create, notify, stream):
    app.config["SSE_KEEPALIVE_SECONDS"] = 1
    payment = create()
    response, chunks = stream(payment["id"])

    first = parse_events(next(chunks))
    notify(payment)
    second = parse_events(next(chunks))
    keep_alive = next(chunks)
    notify(payment, status="refunded")
    third = parse_events(next(chunks))

    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert first == [public(payment)]
    assert [e["status"] for e in second] == ["paid"]
    assert keep_alive == b": keep-alive\n\n"
    assert [e["status"] for e in third] == ["refunded"]


def test_a_closed_stream_leaves_no_watch(app, create, stream):
    payment = create()
    response, chunks = stream(payment["id"])
    next(chunks)
    watching = live_watches(app)

    response.close()

    assert (watching, live_watches(app)) == (1, 0)


def test_events_of_an_unknown_payment_is_404_json(client):
    response = client.get("/payments/pix/AAAAAAAAAAAAAAAAAAAAAA/events")

    assert response.status_code == 404
    assert response.get_json() == {"message": "Payment not found"}


@pytest.mark.parametrize("wait", ["", "abc", "-1", "31", "1.5", "1e1", "\u0663", " 5"])
def test_wait_must_be_whole_seconds_up_to_30(client, create, wait):
    payment = create()

    response = client.get(f"/payments/pix/{payment['id']}/status", query_string={"wait": wait})

    assert response.status_code == 400
    assert "wait" in response.get_json()["message"]


def test_status_to_wait_on_must_be_a_known_status(client, create):
    payment = create()

    response = client.get(f"/payments/pix/{payment['id']}/status?wait=5&status=approved")

    assert response.status_code == 400
    assert "status" in response.get_json()["message"]


def test_unknown_payment_is_404_also_when_waiting(client):
    response = client.get("/payments/pix/AAAAAAAAAAAAAAAAAAAAAA/status?wait=1&status=pending")

    assert response.status_code == 404


def long_poll(app, url) -> tuple[threading.Thread, list]:
    """Start a long poll in its own thread; its response lands in the returned list."""
    answers = []

    def run():
        answers.append(app.test_client().get(url))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answers


def wait_for_watches(app, count, timeout=10):
    deadline = time.monotonic() + timeout
    while live_watches(app) != count:
        assert time.monotonic() < deadline, f"never {count} live watches"
        time.sleep(0.01)


@pytest.mark.parametrize("query", ["?wait=30&status=pending", "?wait=30"])
def test_long_poll_answers_when_the_status_changes(app, create, notify, query):
    payment = create()
    thread, answers = long_poll(app, f"/payments/pix/{payment['id']}/status{query}")
    wait_for_watches(app, 1)

    notify(payment)
    thread.join(timeout=20)

    [answer] = answers
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "paid"
    assert live_watches(app) == 0


def test_long_poll_answers_with_the_state_when_time_is_up(app, create):
    payment = create()
    thread, answers = long_poll(app, f"/payments/pix/{payment['id']}/status?wait=1&status=pending")
    thread.join(timeout=20)

    [answer] = answers
    assert answer.get_json() == public(payment)
    assert live_watches(app) == 0


@pytest.mark.parametrize("query", ["", "?wait=0&status=pending", "?wait=30&status=paid",
                                   "?status=pending"])
def test_status_answers_at_once_when_nothing_to_wait_for(app, create, query):
    payment = create()
    thread, answers = long_poll(app, f"/payments/pix/{payment['id']}/status{query}")
    thread.join(timeout=20)  # a wrongly held answer would outlast this

    [answer] = answers
    assert answer.get_json() == public(payment)


@pytest.mark.parametrize("value", ["0", "301", "abc", "1.5", ""])
def test_keep_alive_interval_must_be_1_to_300_seconds(tmp_path, monkeypatch, value):
    from payments import create_app
    from payments.settings import ConfigError

    monkeypatch.setenv("SSE_KEEPALIVE_SECONDS", "15")
    with pytest.raises(ConfigError, match="SSE_KEEPALIVE_SECONDS"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test",
                    "SSE_KEEPALIVE_SECONDS": value}, instance_path=str(tmp_path))


def test_keep_alive_interval_comes_from_the_environment(tmp_path, monkeypatch):
    from payments import create_app

    monkeypatch.setenv("SSE_KEEPALIVE_SECONDS", "20")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "test"},
                     instance_path=str(tmp_path))

    assert app.config["SSE_KEEPALIVE_SECONDS"] == 20


def test_the_tick_tells_watchers_of_changes_made_elsewhere_and_loads_nothing_else(app, create):
    moved, still = create(), create()
    with app.app_context():
        table = Payment.__table__
        with db.engine.begin() as conn:  # as another process sharing the database would
            conn.execute(update(table).where(table.c.public_id == moved["id"])
                         .values(status="paid", paid_at=utcnow()))
        watches = hub()
        with watches.watch(moved["id"], "pending") as told, \
                watches.watch(still["id"], "pending") as untold:
            assert {p.public_id for p in services.find_changed(watches.known())} == {moved["id"]}
            background.tick()
            assert [c["status"] for c in told.wait(0)] == ["paid"]
            assert untold.wait(0) == []
            assert services.find_changed(watches.known()) == []  # what the watch knows now
