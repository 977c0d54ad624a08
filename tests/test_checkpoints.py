"""SQLite's write-ahead log reaches the database file through the background task, not requests."""

import shutil
import sqlite3
import time
from contextlib import closing

import pytest

from payments import background, create_app
from payments.extensions import db, socketio
from tests.live import LiveServer, create


def payments_in_file(path, tmp_path) -> int | None:
    """Count the payments a reader of the database file alone (without its WAL) finds.

    None: the file does not hold the table yet.
    """
    copy = tmp_path / "file-alone.sqlite"
    shutil.copyfile(path, copy)
    with closing(sqlite3.connect(copy)) as connection:
        try:
            return connection.execute("SELECT count(*) FROM payments").fetchone()[0]
        except sqlite3.OperationalError:
            return None


@pytest.fixture
def server_app(tmp_path, monkeypatch):
    """An app configured as the server runs it (background tasks on), its task not started."""
    monkeypatch.setattr(socketio, "start_background_task", lambda *args: None)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}",
                      "BACKGROUND_TASKS": True}, instance_path=str(tmp_path))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def autocheckpoint(app) -> int:
    with app.app_context():
        return db.session.execute(db.text("PRAGMA wal_autocheckpoint")).scalar()


def test_a_tick_moves_committed_charges_from_the_wal_into_the_database_file(server_app,
                                                                             tmp_path):
    client = server_app.test_client()
    for _ in range(20):
        assert client.post("/payments/pix", json={"value": "1.00"}).status_code == 201
    before = payments_in_file(tmp_path / "db.sqlite", tmp_path)

    with server_app.app_context():
        background.tick()

    assert before != 20  # still only in the write-ahead log
    assert payments_in_file(tmp_path / "db.sqlite", tmp_path) == 20


def test_commits_checkpoint_by_themselves_only_where_no_background_task_does(server_app,
                                                                             app):
    assert autocheckpoint(server_app) == 10_000  # a safety net, should the task fall behind
    assert autocheckpoint(app) == 1000  # SQLite's default: tools and tests keep it


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_the_green_servers_checkpoint_in_a_native_thread(mode, tmp_path):
    with LiveServer(tmp_path, env={"ASYNC_MODE": mode}) as server:
        for _ in range(5):
            create(server.url)
        deadline = time.monotonic() + 10
        while (found := payments_in_file(tmp_path / "live.sqlite", tmp_path)) != 5:
            assert time.monotonic() < deadline, f"the database file holds {found} payments"
            time.sleep(0.2)
        assert "Traceback" not in server.log()
