"""A server that cannot start says why in one line and exits non-zero: no traceback, any mode."""

import os
import subprocess
import sys

import pytest

from tests.live import ROOT, free_port

MODES = ["eventlet", "gevent", "threading"]


def start(tmp_path, mode: str, argv: list[str] | None = None, **env: str):
    """Run the server's entry point with ``env`` until it exits (it must); return the result."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PIX_", "DATABASE_", "SOCKETIO_", "SECRET_"))}
    environment.update({"ASYNC_MODE": mode, "PORT": str(free_port()),
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite'}", **env})
    return subprocess.run(argv or [sys.executable, "app.py"], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def the_line(done) -> str:
    """Return the one line the failed start printed, checking that it is one and nothing else."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.parametrize("mode", MODES)
def test_an_unreachable_database_is_one_line(tmp_path, mode):
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{port}/nowhere"

    line = the_line(start(tmp_path, mode, DATABASE_URL=url))

    assert line == (f"error: cannot reach the database at "
                    f"postgresql+psycopg://postgres:***@127.0.0.1:{port}/nowhere: "
                    "connection refused")


@pytest.mark.parametrize("mode", MODES)
def test_an_unreachable_redis_is_one_line(tmp_path, mode):
    port = free_port()

    line = the_line(start(tmp_path, mode, SOCKETIO_MESSAGE_QUEUE=f"redis://127.0.0.1:{port}/0"))

    assert line == f"error: cannot reach Redis at redis://127.0.0.1:{port}/0: connection refused"


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_setting_is_one_line(tmp_path, mode):
    line = the_line(start(tmp_path, mode, PIX_KEY="not a key"))

    assert line.startswith("error: PIX_KEY 'not a key' is not a valid Pix key")


def test_a_database_file_that_cannot_be_opened_is_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.sqlite'}"

    line = the_line(start(tmp_path, "eventlet", DATABASE_URL=url))

    assert line.startswith("error: cannot reach the database at sqlite:///")
    assert line.endswith(": unable to open database file")


def test_gunicorn_says_it_in_one_line_too(tmp_path):
    argv = [sys.executable, "-m", "gunicorn", "--workers", "1", "--no-control-socket",
            "--bind", f"127.0.0.1:{free_port()}", "wsgi:app"]

    done = start(tmp_path, "threading", argv, PIX_KEY="not a key")

    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "error: PIX_KEY 'not a key' is not a valid Pix key" in done.stderr


def test_production_refuses_to_start_with_one_line_per_problem(tmp_path):
    done = start(tmp_path, "eventlet", PAYMENTS_ENV="production")

    assert done.returncode != 0 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 4, done.stderr
    for name in ("PIX_WEBHOOK_SECRET", "MERCHANT_API_KEYS", "SECRET_KEY", "PIX_KEY"):
        assert sum(name in line for line in errors) == 1, (name, errors)


def test_production_starts_when_everything_is_set(tmp_path):
    from tests.live import LiveServer, call

    env = {"PAYMENTS_ENV": "production", "PIX_WEBHOOK_SECRET": "bank-secret",
           "MERCHANT_API_KEYS": "sk_live_" + "k" * 30, "SECRET_KEY": "s" * 64,
           "PIX_KEY": "loja@example.com"}
    with LiveServer(tmp_path, env=env) as server:
        status, health = call(server.url + "/health")
        created, _ = call(server.url + "/payments/pix", "POST", {"value": 10})

    assert status == 200 and health["environment"] == "production"
    assert created == 401  # no key: production fails closed
    assert "PIX_WEBHOOK_SECRET is not set" not in server.log()
    assert "MERCHANT_API_KEYS is not set" not in server.log()


def test_the_sandbox_says_at_start_what_it_leaves_open(tmp_path):
    from tests.live import LiveServer, call

    with LiveServer(tmp_path) as server:
        created, _ = call(server.url + "/payments/pix", "POST", {"value": 10})

    assert created == 201  # open, as the warning says
    log = server.log()
    assert "PIX_WEBHOOK_SECRET is not set: unsigned bank webhooks are accepted" in log
    assert "MERCHANT_API_KEYS is not set: the merchant routes" in log
