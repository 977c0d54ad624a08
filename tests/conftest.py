"""Fixtures: a fresh app on an in-memory database for every test."""

import json

import pytest

from payments import create_app
from payments.extensions import db, socketio


@pytest.fixture
def app(tmp_path):
    """Return an app with its own empty database and instance folder."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.sqlite'}",
            "SECRET_KEY": "test",
        },
        instance_path=str(tmp_path),
    )
    with app.app_context():
        db.create_all()  # fast; test_migrations checks the migrations give the same schema
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """Return a Flask test client."""
    return app.test_client()


@pytest.fixture
def socket_client_for(app, client):
    """Return a factory of Socket.IO test clients connected with a payment id."""
    clients = []

    def connect(payment_id, **kwargs):
        sio = socketio.test_client(app, flask_test_client=client, auth={"payment_id": payment_id},
                                   **kwargs)
        clients.append(sio)
        return sio

    yield connect
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()


@pytest.fixture
def create(client):
    """Return a helper that creates a charge and returns its payment object."""

    def create(value=150.5):
        response = client.post("/payments/pix", json={"value": value})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["payment"]

    return create


@pytest.fixture
def notify(client):
    """Return a helper that posts a bank notice and returns the response."""

    def notify(payment, value=None, status=None, **extra):
        body = {"bank_payment_id": payment["bank_payment_id"],
                "value": payment["value"] if value is None else value, **extra}
        if status is not None:
            body["status"] = status
        return client.post("/payments/pix/confirmation", data=json.dumps(body),
                           content_type="application/json")

    return notify


@pytest.fixture
def live_server(tmp_path):
    """Return a started ``python app.py`` on a free port, with its own SQLite file."""
    from tests.live import LiveServer

    with LiveServer(tmp_path) as server:
        yield server
