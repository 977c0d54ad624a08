"""Helpers for tests that drive several real server processes: HTTP calls and a page's socket."""

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import socketio

from tests.live import LiveServer, call, create, notify  # noqa: F401  (re-exported)

EVENT = "payment_status"


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


def assert_hears(page: Page, payment: dict, status: str, where: str) -> None:
    """Assert that the next event ``page`` receives is ``payment`` now in ``status``."""
    event = page.next_event()
    assert event is not None, f"no event reached the page {where}"
    assert (event["id"], event["status"]) == (payment["id"], status)


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
