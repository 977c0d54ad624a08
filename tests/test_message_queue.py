"""The message queue seen from one process: /health PINGs it; its failure never fails a webhook."""

import pytest

from payments import create_app
from payments.extensions import db, socketio
from tests.backends import redis_url  # noqa: F401  (fixture)
from tests.live import free_port


@pytest.fixture
def app_with_queue(tmp_path):
    """Return a factory of apps whose SOCKETIO_MESSAGE_QUEUE is the given URL."""
    apps = []

    def make(url):
        app = create_app({"TESTING": True, "SECRET_KEY": "test",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'q.sqlite'}",
                          "SOCKETIO_MESSAGE_QUEUE": url}, instance_path=str(tmp_path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["message_queue_ping"].close()
        with app.app_context():
            db.engine.dispose()


# These apps have no tables: the outbox's count is None, and the health check does not fail.
def test_health_says_ok_when_redis_answers(app_with_queue, redis_url):  # noqa: F811
    response = app_with_queue(redis_url).test_client().get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "message_queue": "ok",
                                   "environment": "sandbox", "events_waiting": None,
                                   "broker": "disabled"}


def test_health_says_degraded_not_down_when_redis_does_not_answer(app_with_queue):
    response = app_with_queue(f"redis://127.0.0.1:{free_port()}/0").test_client().get("/health")

    # A load balancer keeps the process: payments and bank notices work without Redis.
    assert response.status_code == 200
    assert response.get_json() == {"status": "degraded", "database": "ok",
                                   "message_queue": "unavailable", "environment": "sandbox",
                                   "events_waiting": None, "broker": "disabled"}


def test_a_failing_bus_does_not_fail_the_webhook(client, create, notify, monkeypatch):
    payment = create()

    def broken_emit(*args, **kwargs):
        raise ConnectionError("the bus is down")

    monkeypatch.setattr(socketio, "emit", broken_emit)
    response = notify(payment)

    assert response.status_code == 200
    assert response.get_json()["payment"]["status"] == "paid"
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "paid"
