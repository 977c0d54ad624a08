"""The migrations build the models' schema from empty, on SQLite and on PostgreSQL."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from payments.extensions import db
from payments.schema import BASELINE, MIGRATIONS, head_revision, migrations
from tests import apps as test_apps
from tests.backends import postgres_url  # noqa: F401  (fixture)
from tests.views import public


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """Return the URL of an empty database of each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def migrated_app(tmp_path):
    """Return a factory of apps started as ``python app.py`` starts them: migrations applied."""
    apps = []

    def make(url, schema="migrate"):
        config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"}
        make_app = test_apps.migrated_app if schema == "migrate" else test_apps.app_with_tables
        app = make_app(config, str(tmp_path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def schema_differences(app) -> list:
    """Return what Alembic finds between the database and the models."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_migrations_from_empty_give_the_models_schema(empty_database, migrated_app):
    app = migrated_app(empty_database)

    assert schema_differences(app) == []
    with app.test_client() as client:
        assert client.post("/payments/pix", json={"value": 10}).status_code == 201


def test_starting_again_changes_nothing(empty_database, migrated_app):
    migrated_app(empty_database)
    app = migrated_app(empty_database)

    assert schema_differences(app) == []


def test_a_database_made_before_migrations_is_adopted(migrated_app, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = migrated_app(url, schema="create_all")
    with old.test_client() as client:
        created = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]

    app = migrated_app(url)

    assert schema_differences(app) == []
    with app.app_context():
        assert "alembic_version" in inspect(db.engine).get_table_names()
    with app.test_client() as client:
        assert client.get(f"/payments/pix/{created['id']}/status").get_json() == public(created)


def test_a_database_at_0002_gets_the_expiry_index_and_keeps_its_charges(empty_database,
                                                                         migrated_app):
    app = migrated_app(empty_database)
    with app.app_context():
        migrations(app).downgrade(MIGRATIONS, "0002_webhook")  # the schema as 0002 left it
        before = {index["name"] for index in inspect(db.engine).get_indexes("payments")}
        with db.engine.begin() as conn:  # a charge as the code of 0002's time stored it
            conn.execute(text(
                "INSERT INTO payments (public_id, bank_payment_id, txid, amount_cents, status, "
                "pix_code, created_at, expires_at, updated_at) VALUES ('old-charge-0000000001', "
                "'5e53bbf4-cdf1-4a2f-b137-551c4b462ef1', 'OLDTXID000000000000000001', 1000, "
                "'paid', '0002...', '2026-11-23 10:00:00', '2026-11-23 10:30:00', "
                "'2026-11-23 10:05:00')"))

    again = migrated_app(empty_database)

    assert "ix_payments_status" in before and "ix_payments_status_expires_at" not in before
    assert schema_differences(again) == []
    with again.test_client() as client:
        kept = client.get("/payments/pix/old-charge-0000000001/status").get_json()
    assert kept["status"] == "paid" and kept["value"] == 10
    assert kept["description"] is None and kept["return_url"] is None


def test_the_expiry_query_reads_its_index_in_order(tmp_path, migrated_app):
    app = migrated_app(f"sqlite:///{tmp_path / 'plan.sqlite'}")
    with app.app_context(), db.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM payments WHERE status = 'pending' "
            "AND expires_at <= '2026-11-23 12:00:00' ORDER BY expires_at LIMIT 1000").all()

    details = " / ".join(row[-1] for row in plan)
    assert "ix_payments_status_expires_at" in details
    assert "TEMP B-TREE" not in details  # no sort of every pending charge


def test_the_listing_reads_its_index_in_order(tmp_path, migrated_app):
    app = migrated_app(f"sqlite:///{tmp_path / 'list.sqlite'}")
    with app.app_context(), db.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM payments WHERE (created_at, public_id) < "
            "('2026-11-23 12:00:00', 'x') ORDER BY created_at DESC, public_id DESC LIMIT 21").all()

    details = " / ".join(row[-1] for row in plan)
    assert "ix_payments_created_at_public_id" in details
    assert "TEMP B-TREE" not in details  # no sort of every charge: a keyset seek


ROOT = Path(__file__).resolve().parent.parent


def test_the_head_read_without_alembic_is_alembics():
    script = ScriptDirectory(MIGRATIONS)

    assert head_revision() == script.get_current_head()


def _start(url: str, instance: Path) -> str:
    """Create the app in a fresh interpreter as ``python app.py`` does; return what it printed."""
    code = textwrap.dedent(f"""
        import sys
        from payments import create_app
        from payments.boot import prepare_database
        app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}, "SECRET_KEY": "test"}},
                         instance_path={str(instance)!r})
        prepare_database(app)
        print("alembic imported" if "alembic" in sys.modules else "alembic not imported")
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_server_whose_database_is_up_to_date_does_not_load_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'start.sqlite'}"

    assert _start(url, tmp_path) == "alembic imported"  # empty: migrated at first start
    assert _start(url, tmp_path) == "alembic not imported"  # 12 MiB of memory it does not need


def test_flask_db_commands_still_work(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
           "SECRET_KEY": "test"}
    flask = [sys.executable, "-m", "flask", "--app", "payments", "db"]

    upgraded = subprocess.run([*flask, "upgrade"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
    current = subprocess.run([*flask, "current"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)

    assert upgraded.returncode == 0, upgraded.stderr
    assert current.returncode == 0, current.stderr
    assert f"{head_revision()} (head)" in current.stdout


def test_a_downgrade_stays_down_until_an_upgrade(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'down.sqlite'}",
           "SECRET_KEY": "test"}
    flask = [sys.executable, "-m", "flask", "--app", "payments"]

    def run(*words, status=0):
        done = subprocess.run([*flask, *words], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == status, done.stderr
        return done

    run("db", "upgrade")
    run("db", "downgrade", BASELINE)
    # Another command must not migrate behind the operator; with the delivery log's table gone
    # it says so in one line.
    listed = run("deliveries", "list", status=1)
    assert listed.stderr.count("\n") == 1 and "Traceback" not in listed.stderr
    assert "no such table: webhook_deliveries" in listed.stderr
    run("db", "current")  # nor must Flask-Migrate's own

    assert run("db", "current").stdout.split() == [BASELINE]  # not "(head)": still down


@pytest.mark.parametrize(("files", "head"), [
    ({"a.py": "revision = 'a'\ndown_revision = None\n",
      "b.py": "revision: str = 'b'\ndown_revision: str | None = 'a'\n"}, "b"),
    ({"a.py": "revision = 'a'\ndown_revision = None\n",
      "b.py": "revision = 'b'\ndown_revision = 'a'\n",
      "c.py": "revision = 'c'\ndown_revision = 'a'\n"}, None),  # two heads: Alembic decides
    ({"a.py": "revision = make_id()\ndown_revision = None\n"}, None),  # not a literal
])
def test_the_head_is_none_unless_one_is_certain(monkeypatch, tmp_path, files, head):
    (tmp_path / "versions").mkdir()
    for name, source in files.items():
        (tmp_path / "versions" / name).write_text(source)
    monkeypatch.setattr("payments.schema.MIGRATIONS", str(tmp_path))

    assert head_revision() == head
