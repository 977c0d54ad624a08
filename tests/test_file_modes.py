"""SQLite files (and their -wal/-shm) and the secrets written into instance/ are 0600."""

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from payments import create_app
from payments.extensions import db
from tests.apps import migrated_app
from tests.live import LiveServer, create


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path, names) -> dict[str, int]:
    return {name: oct(mode(folder / name)) for name in names if (folder / name).exists()}


@pytest.fixture
def open_umask():
    """Run with a umask that lets everyone read what is created, as many systems have."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


FILES = ("payments.sqlite", "payments.sqlite-wal", "payments.sqlite-shm", "secret_key")


def test_a_new_instance_folder_gets_owner_only_files(tmp_path, open_umask):
    instance = tmp_path / "instance"

    app = create_app({"TESTING": True}, instance_path=str(instance))
    with app.app_context():
        db.create_all()
    app.test_client().post("/payments/pix", json={"value": 10})  # a write: -wal and -shm

    found = modes(instance, FILES)
    assert set(found) == set(FILES)  # WAL mode: the companions exist while it is open
    assert set(found.values()) == {oct(0o600)}, found
    assert mode(instance) == 0o700
    with app.app_context():
        db.engine.dispose()


def test_existing_world_readable_files_are_fixed_at_start(tmp_path, open_umask):
    instance = tmp_path / "instance"
    instance.mkdir()
    sqlite3.connect(instance / "payments.sqlite").close()  # 0644, as SQLite makes it
    (instance / "secret_key").write_text("a key written by an older version")
    assert mode(instance / "payments.sqlite") == mode(instance / "secret_key") == 0o644

    app = migrated_app({}, str(instance))

    assert modes(instance, ("payments.sqlite", "secret_key")) == {
        "payments.sqlite": oct(0o600),
        "secret_key": oct(0o600),
    }
    assert app.config["SECRET_KEY"] == "a key written by an older version"
    with app.app_context():
        db.engine.dispose()


def test_a_database_url_outside_instance_gets_owner_only_files(tmp_path, open_umask):
    database = tmp_path / "elsewhere.sqlite"

    app = migrated_app(
        {"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "x"}, str(tmp_path / "instance")
    )
    app.test_client().post("/payments/pix", json={"value": 10})

    names = ("elsewhere.sqlite", "elsewhere.sqlite-wal", "elsewhere.sqlite-shm")
    assert set(modes(tmp_path, names).values()) == {oct(0o600)}
    with app.app_context():
        db.engine.dispose()


def test_the_server_keeps_its_database_owner_only(tmp_path, open_umask):
    with LiveServer(tmp_path) as server:
        create(server.url)
        found = modes(tmp_path, ("live.sqlite", "live.sqlite-wal", "live.sqlite-shm"))

    assert "live.sqlite-wal" in found
    assert set(found.values()) == {oct(0o600)}, found
