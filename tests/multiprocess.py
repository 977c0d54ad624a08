"""Helpers for tests that drive several real server processes: HTTP calls and a page's socket."""

import json
import queue
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import socketio

from tests.live import LiveServer

EVENT = "payment_status"


def call(url: str, method: str = "GET", body: dict | None = None, timeout: float = 30):
    """Return (status, JSON body) of one HTTP request; 4xx/5xx answers are returned too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def create(server_url: str, value: float = 150.5) -> dict:
    """Create a charge and return its payment object."""
    status, body = call(server_url + "/payments/pix", "POST", {"value": value})
    assert status == 201, body
    return body["payment"]


def notify(server_url: str, payment: dict) -> tuple[int, dict]:
    """Post the bank's approval of ``payment`` to one server."""
    return call(server_url + "/payments/pix/confirmation", "POST",
                {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]})


class Page:
    """A customer's page: a Socket.IO client that records every ``payment_status`` it hears."""

    def __init__(self):
        self.events: queue.Queue[dict] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on(EVENT, self.events.put)

    def connect(self, server_url: str, payment_id: str, transports=None) -> "Page":
        """Connect to ``server_url`` as the page of ``payment_id``, served from there."""
        self.client.connect(server_url, auth={"payment_id": payment_id},
                            # A browser sends its Origin; websocket-client adds its own.
                            headers={"Origin": server_url} if transports == ["polling"] else {},
                            transports=transports, wait_timeout=20)
        return self

    def next_event(self, timeout: float = 20) -> dict | None:
        """Return the next event, or None if none came within ``timeout`` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()


@contextmanager
def servers(tmp_path, count: int, env: dict, argv: list[str] | None = None):
    """Start ``count`` servers together (as an operator's supervisor would), stop them after."""
    started = [LiveServer(tmp_path, env=env, name=f"app{i}", argv=argv) for i in range(count)]
    try:
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda server: server.start(timeout=60), started))
        yield started
    finally:
        for server in started:
            server.stop()


def at_once(*calls):
    """Run the zero-argument ``calls`` in parallel threads released together; return results."""
    barrier = threading.Barrier(len(calls))

    def run(fn):
        barrier.wait(timeout=30)
        return fn()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))
