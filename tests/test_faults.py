"""Faults: the database down or locked, a restart, a client that stops reading."""

import base64
import importlib.util
import json
import os
import shutil
import socket
import sqlite3

import pytest

from payments.extensions import db
from tests.apps import app_with_tables
from tests.live import LiveServer, call, create
from tests.requires import service

UNAVAILABLE = "The database is unavailable; nothing was changed, retry later"


def make_app(tmp_path, **config):
    """Return an app on the SQLite file ``tmp_path/faults.sqlite``."""
    return app_with_tables({"TESTING": True, "SECRET_KEY": "test", "RATE_LIMIT_CREATE": "",
                            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'faults.sqlite'}",
                            **config}, str(tmp_path))


def notice(payment) -> dict:
    return {"data": json.dumps({"bank_payment_id": payment["bank_payment_id"],
                                "value": payment["value"]}),
            "content_type": "application/json"}


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json() == {"message": UNAVAILABLE}


def test_database_unavailable_gives_503_json_never_a_traceback(tmp_path, caplog):
    app = make_app(tmp_path)
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    with app.app_context():
        db.engine.dispose()
    # The database file is gone and a directory stands in its place: SQLite cannot open it.
    os.remove(tmp_path / "faults.sqlite")
    os.mkdir(tmp_path / "faults.sqlite")
    try:
        assert_unavailable(client.post("/payments/pix", json={"value": 10}))
        assert_unavailable(client.get(payment["page_url"] + "/status"))
        # The bank's notice gets 503: it will retry, and nothing was applied.
        assert_unavailable(client.post("/payments/pix/confirmation", **notice(payment)))
        page = client.get(payment["page_url"])
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert page.headers["Retry-After"] == "5"
        health = client.get("/health")
        assert health.status_code == 503
        for response in (page, health):
            assert "Traceback" not in response.get_data(as_text=True)
        assert "Traceback" not in "\n".join(r.getMessage() for r in caplog.records)
    finally:
        with app.app_context():
            db.engine.dispose()
        shutil.rmtree(tmp_path / "faults.sqlite")


def test_a_locked_database_gives_503_and_the_retried_notice_succeeds(tmp_path, monkeypatch):
    if importlib.util.find_spec("payments.database"):  # the app's own SQLite busy timeout
        monkeypatch.setattr("payments.database.SQLITE_BUSY_TIMEOUT_MS", 500)
    app = make_app(tmp_path, SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 0.5}})
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    holder = sqlite3.connect(tmp_path / "faults.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
        holder.execute("UPDATE payments SET updated_at = updated_at")
        assert_unavailable(client.post("/payments/pix", json={"value": 10}))
        assert_unavailable(client.post("/payments/pix/confirmation", **notice(payment)))
        status = client.get(payment["page_url"] + "/status").get_json()
        assert status["status"] == "pending"
        holder.execute("ROLLBACK")
        retried = client.post("/payments/pix/confirmation", **notice(payment))
        assert retried.status_code == 200
        assert retried.get_json()["payment"]["status"] == "paid"
    finally:
        holder.close()
        with app.app_context():
            db.engine.dispose()


def test_a_restart_loses_no_charge_or_confirmation(tmp_path):
    server = LiveServer(tmp_path, env={"RATE_LIMIT_CREATE": ""})
    with server:
        _, created = call(server.url + "/payments/pix", "POST", {"value": "150.50"})
        paid, other = created["payment"], create(server.url, 7)
        status, _ = call(server.url + "/payments/pix/confirmation", "POST",
                         {"bank_payment_id": paid["bank_payment_id"], "value": 150.5})
        assert status == 200
    with server:  # the same database file, a new process
        after = call(f"{server.url}{paid['page_url']}/status")[1]
        assert after["status"] == "paid" and after["paid_at"] is not None
        assert after["value"] == 150.5 and after["pix_code"] == paid["pix_code"]
        pending = call(f"{server.url}{other['page_url']}/status")[1]
        assert pending["status"] == "pending"


def _ws_frame(text: str) -> bytes:
    """Return a masked WebSocket text frame (client to server)."""
    data = text.encode()
    mask = os.urandom(4)
    assert len(data) < 126
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return bytes([0x81, 0x80 | len(data)]) + mask + masked


def _stuck_websocket_client(port: int, payment_id: str) -> socket.socket:
    """Join a payment's room over a raw WebSocket, then never read again."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    reply = b""
    while b"0{" not in reply:  # the 101 answer, then Engine.IO's open packet
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the WebSocket: {reply!r}"
        reply += chunk
    assert reply.startswith(b"HTTP/1.1 101")
    sock.sendall(_ws_frame("40" + json.dumps({"payment_id": payment_id})))
    return sock


def _stuck_polling_client(port: int) -> socket.socket:
    """Start a long-polling request, half-written, and never finish or read it."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
    return sock


def test_a_client_that_stops_reading_cannot_block_webhooks_for_others(tmp_path):
    with LiveServer(tmp_path, env={"RATE_LIMIT_CREATE": ""}) as server:
        stuck_payment = create(server.url, 1)
        others = [create(server.url, 2) for _ in range(5)]
        stuck = [_stuck_websocket_client(server.port, stuck_payment["id"]) for _ in range(20)]
        stuck += [_stuck_polling_client(server.port) for _ in range(5)]
        try:
            # The stuck clients' payment changes: the server writes to sockets nobody reads.
            for outcome in ("approved", "refunded"):
                status, _ = call(server.url + "/payments/pix/confirmation", "POST", {
                    "bank_payment_id": stuck_payment["bank_payment_id"], "value": 1,
                    "status": outcome})
                assert status == 200
            for payment in others:
                status, body = call(server.url + "/payments/pix/confirmation", "POST", {
                    "bank_payment_id": payment["bank_payment_id"], "value": 2}, timeout=30)
                assert status == 200 and body["payment"]["status"] == "paid"
        finally:
            for sock in stuck:
                sock.close()


@pytest.fixture
def closed_port():
    """Return a loopback port where nothing listens."""
    from tests.live import free_port

    return free_port()


def test_a_database_url_to_a_closed_port_gives_503(tmp_path, closed_port):
    """The database server goes away after the start: answers are 503, not tracebacks."""
    service(importlib.util.find_spec("psycopg") is not None, "psycopg is not installed")
    app = make_app(tmp_path)
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    with app.app_context():
        db.engine.dispose()
    # Re-point the running app's engine at a PostgreSQL port nobody listens on.
    from sqlalchemy import create_engine

    dead = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/pix_harden",
                         connect_args={"connect_timeout": 5})
    with app.app_context():
        engines = db._app_engines[app]
        engines[None], live = dead, engines[None]
    try:
        assert_unavailable(client.post("/payments/pix", json={"value": 10}))
        assert_unavailable(client.post("/payments/pix/confirmation", **notice(payment)))
        assert_unavailable(client.get(payment["page_url"] + "/status"))
    finally:
        with app.app_context():
            db._app_engines[app][None] = live
            live.dispose()
        dead.dispose()
