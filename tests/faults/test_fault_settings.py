"""The settings and parts behind the fault tests: timeouts, the watchdog, the page's re-check."""

import socket
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from payments import create_app, database
from payments.extensions import db
from payments.settings import ConfigError
from tests.apps import app_with_tables
from tests.backends import postgres_url  # noqa: F401  (fixture)


def sqlite_app(tmp_path, **overrides):
    return app_with_tables({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
                            "SECRET_KEY": "test", "RATE_LIMIT_CREATE": "", **overrides},
                           str(tmp_path))


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_CONNECT_TIMEOUT", "1"), ("DATABASE_CONNECT_TIMEOUT", "soon"),
    ("DATABASE_STATEMENT_TIMEOUT", "0"), ("DATABASE_STATEMENT_TIMEOUT", "301"),
    ("DATABASE_POOL_TIMEOUT", "-1"), ("PAGE_RECHECK_SECONDS", "0"),
    ("PAGE_RECHECK_SECONDS", "61"), ("PAGE_RECHECK_SECONDS", "often"),
])
def test_a_bad_timeout_stops_the_start_naming_it(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", name: value}, str(tmp_path))


def test_postgresql_gets_connect_statement_and_pool_timeouts(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://u@127.0.0.1:1/x",
                      "SECRET_KEY": "test", "DATABASE_STATEMENT_TIMEOUT": "7"}, str(tmp_path))
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]

    assert options["pool_timeout"] == 2
    assert options["connect_args"] == {"connect_timeout": 3,
                                       "options": "-c statement_timeout=7000"}
    assert app.extensions["database_deadlines"].seconds == 8  # a second after the server's


class FakeConnection:
    """A DB-API connection as far as the watchdog sees one: a socket's file descriptor."""

    def __init__(self, sock):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()


def test_the_watchdog_cuts_a_round_trip_left_unanswered_and_spares_an_answered_one():
    deadlines = database.Deadlines(0.5)
    ours, server = socket.socketpair()
    answered, silent = socket.socketpair()
    try:
        read = []
        waiter = threading.Thread(target=lambda: read.append(ours.recv(10)))
        waiter.start()
        spared = FakeConnection(answered)
        deadlines.arm(FakeConnection(ours))
        deadlines.arm(spared)
        deadlines.disarm(spared)  # its answer came
        started = time.monotonic()
        waiter.join(timeout=5)

        assert read == [b""], "the waiting read was not cut"
        assert 0.4 < time.monotonic() - started < 2
        silent.sendall(b"ok")
        assert answered.recv(10) == b"ok"
    finally:
        for sock in (ours, server, answered, silent):
            sock.close()


def test_the_page_asks_its_status_as_often_as_configured(tmp_path):
    client = sqlite_app(tmp_path, PAGE_RECHECK_SECONDS="7").test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]

    assert 'data-recheck-seconds="7"' in client.get(payment["page_url"]).get_data(as_text=True)


def test_postgresql_cancels_a_long_statement_except_while_migrating(tmp_path, postgres_url):  # noqa: F811
    app = create_app({"SQLALCHEMY_DATABASE_URI": postgres_url, "SECRET_KEY": "test",
                      "DATABASE_STATEMENT_TIMEOUT": "1"}, str(tmp_path))
    try:
        with app.app_context():
            started = time.monotonic()
            with pytest.raises(OperationalError, match="statement timeout"):
                db.session.execute(text("SELECT pg_sleep(3)"))
            db.session.rollback()
            assert time.monotonic() - started < 2.5
            with database.unbounded(app):  # what the start runs migrations in
                db.session.execute(text("SELECT pg_sleep(1.5)"))
                db.session.commit()
            with pytest.raises(OperationalError, match="statement timeout"):
                db.session.execute(text("SELECT pg_sleep(3)"))  # bounded again afterwards
            db.session.rollback()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
