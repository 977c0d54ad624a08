"""The machine's RabbitMQ for the broker tests: its URL, and private queues that see messages.

The contract fixes the exchange names (``payments`` and the seed's fanouts) and
guest may not create vhosts, so the tests share the broker's exchanges with
anyone else using it: each test binds its own exclusive, auto-deleted queues
and looks only at the messages whose ``message_id`` it made. Nothing shared is
purged or deleted.
"""

import json
import os
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from kombu import Connection, Exchange, Queue

from tests.faults.proxy import FaultProxy
from tests.requires import service

#: The machine's broker (``TEST_BROKER_URL`` to use another).
BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def broker_answers(url: str = BROKER_URL) -> bool:
    """Tell whether an AMQP broker accepts a connection at ``url``."""
    try:
        with Connection(url, connect_timeout=2) as connection:
            connection.connect()
        return True
    except Exception:  # refused, timed out, bad credentials: not usable
        return False


@pytest.fixture
def broker_url() -> str:
    """Return the machine's RabbitMQ URL; skip (fail under CI=true) when it does not answer."""
    service(broker_answers(), f"RabbitMQ is not answering at {BROKER_URL}")
    return BROKER_URL


class Tap:
    """An exclusive queue bound to ``exchange`` with ``routing_key``, read message by message."""

    def __init__(self, connection: Connection, exchange: str, kind: str, routing_key: str = ""):
        self.channel = connection.channel()
        self.queue = Queue(
            "",
            exchange=Exchange(exchange, type=kind, durable=True),
            routing_key=routing_key,
            exclusive=True,
            auto_delete=True,
            channel=self.channel,
        )
        self.queue.declare()

    def get(self, timeout: float = 10):
        """Return the next message (acknowledged), or None when none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.queue.get(no_ack=True)
            if message is not None:
                return message
            time.sleep(0.02)
        return None

    def collect(self, ids: set[str], timeout: float = 10) -> dict:
        """Return {message_id: message} of the messages with ``ids``, waiting up to ``timeout``.

        Messages others published meanwhile (their ids are not in ``ids``) are skipped.
        """
        found = {}
        deadline = time.monotonic() + timeout
        while set(found) != ids and time.monotonic() < deadline:
            message = self.get(timeout=max(0.05, deadline - time.monotonic()))
            if message is not None and message.properties.get("message_id") in ids:
                found[message.properties["message_id"]] = message
        return found

    def drain(self, ids: set[str], seconds: float = 1.0) -> list:
        """Return every message with one of ``ids`` arriving within ``seconds`` (duplicates too)."""
        found = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self.get(timeout=max(0.05, deadline - time.monotonic()))
            if message is not None and message.properties.get("message_id") in ids:
                found.append(message)
        return found


@pytest.fixture
def taps(broker_url) -> Iterator:
    """Return a factory of ``Tap`` queues on one connection, closed (queues gone) afterwards."""
    connection = Connection(broker_url, connect_timeout=5)
    connection.connect()

    def tap(exchange: str = "payments", kind: str = "topic", routing_key: str = "#") -> Tap:
        return Tap(connection, exchange, kind, routing_key)

    yield tap
    connection.release()


def body_of(message) -> dict:
    """Return a message's body parsed as JSON."""
    return json.loads(message.body)


def proxy_to(url: str) -> FaultProxy:
    """Return a loopback proxy, forwarding, in front of the broker of an AMQP URL."""
    parts = urlsplit(url)
    return FaultProxy(parts.port or 5672, socket.gethostbyname(parts.hostname or "127.0.0.1"))


def through(url: str, address: str) -> str:
    """Return ``url`` with its host and port replaced by ``address`` (``127.0.0.1:<port>``)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=credentials + address))
