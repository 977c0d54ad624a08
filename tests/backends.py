"""Real PostgreSQL, Redis and nginx for the multi-process tests; each cleans up after itself."""

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port
from tests.requires import service

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
#: This project's db on the machine's shared Redis; TEST_REDIS_URL points two checkouts
#: whose suites run at once at different dbs, since the fixture flushes it.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def _postgres_admin():
    """Return an autocommit connection to the server's ``postgres`` database, or None."""
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError:
        return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Return the URL of a new, empty PostgreSQL database, dropped afterwards."""
    admin = _postgres_admin()
    service(admin is not None, "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres)")
    name = f"pix_scale_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _redis_answers(url: str) -> bool:
    """Tell whether Redis at ``url`` answers a PING."""
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, retry=None).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Return the URL of this project's db on the machine's Redis, flushed before and after."""
    import redis

    service(_redis_answers(REDIS_URL), "Redis is not answering on 127.0.0.1:6379")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


class RedisServer:
    """A ``redis-server`` of our own on a free port, that a test may stop and start again."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        """Start it and wait until it answers.

        :raise RuntimeError: it did not answer in time.
        """
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not _redis_answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop it (only the process this object started)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    """Return a started private ``redis-server`` on a free port, stopped afterwards."""
    service(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
