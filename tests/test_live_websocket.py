"""Pages over WebSocket on real servers in every async mode, with no writer task while idle.

The server is ``python app.py`` with test-only routes that look inside it
(tests/engine_server.py); the pages are python-socketio clients, or bare WebSocket
clients where many idle pages are needed.
"""

import json
import sys
import threading
import time

import pytest
import websocket

from tests.live import LiveServer, call, create, notify
from tests.multiprocess import Page

MODES = ["eventlet", "gevent", "threading"]

#: The tasks an idle WebSocket page keeps: the connection's own green thread (eventlet), plus
#: simple-websocket's reader (gevent, threading). Engine.IO's writer is not among them.
TASKS_PER_IDLE_PAGE = {"eventlet": 1, "gevent": 2, "threading": 2}


@pytest.fixture(scope="module", params=MODES)
def server(request, tmp_path_factory):
    mode = request.param
    with LiveServer(tmp_path_factory.mktemp(mode), name=mode,
                    env={"ASYNC_MODE": mode, "RATE_LIMIT_CREATE": ""},
                    argv=[sys.executable, "-m", "tests.engine_server"]) as live:
        live.mode = mode
        yield live


def engine(server) -> dict:
    """Return the server's open WebSockets, their running writers and its live tasks."""
    status, state = call(server.url + "/_test/engine")
    assert status == 200, state
    return state


def settled(server, websockets: int, timeout: float = 10) -> dict:
    """Wait until the server holds ``websockets`` open WebSockets and no writer runs.

    ``tasks`` is the least of a few readings: the threads of requests that just ended
    (this probe's own among them, in threading mode) may still be on their way out.
    """
    deadline = time.monotonic() + timeout
    while True:
        state = engine(server)
        if state["websockets"] == websockets and state["writers"] == 0:
            break
        assert time.monotonic() < deadline, f"not settled at {websockets} WebSockets: {state}"
        time.sleep(0.05)
    for _ in range(5):
        time.sleep(0.05)
        state["tasks"] = min(state["tasks"], engine(server)["tasks"])
    return state


def refund(server_url: str, payment: dict) -> int:
    return call(server_url + "/payments/pix/confirmation", "POST",
                {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"],
                 "status": "refunded"})[0]


def connect(server, payment: dict, transports=("websocket",)) -> Page:
    page = Page().connect(server.url, payment["id"], transports=list(transports))
    deadline = time.monotonic() + 10
    while page.client.transport() != "websocket":  # an upgrade from polling ends after connect
        assert time.monotonic() < deadline, "the page never upgraded to WebSocket"
        time.sleep(0.05)
    return page


class BarePage:
    """A page's Socket.IO connection over a bare WebSocket: no thread of its own in the test."""

    def __init__(self, port: int, payment_id: str):
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=20)
        assert self.ws.recv().startswith("0")  # Engine.IO's OPEN
        self.ws.send("40" + json.dumps({"payment_id": payment_id}))

    def next_event(self) -> list:
        """Return the next Socket.IO event as ``[name, data]``, answering pings on the way."""
        while True:
            frame = self.ws.recv()
            if frame == "2":
                self.ws.send("3")
            elif frame.startswith("42"):
                return json.loads(frame[2:])

    def close(self) -> None:
        self.ws.close()


@pytest.mark.parametrize("transports", [("websocket",), ("polling", "websocket")],
                         ids=["websocket", "upgrade"])
def test_a_page_hears_the_confirmation(server, transports):
    payment = create(server.url)
    page = connect(server, payment, transports)
    try:
        first = page.next_event()

        status, _ = notify(server.url, payment)

        second = page.next_event()
    finally:
        page.close()
    assert status == 200
    assert (first["status"], second["status"]) == ("pending", "paid")
    assert second["id"] == payment["id"] and second["paid_at"] is not None
    assert "Traceback" not in server.log()


def test_events_in_a_row_arrive_in_order(server):
    payment = create(server.url)
    page = connect(server, payment)
    bursts: list[int] = []
    page.client.on("burst", bursts.append)
    try:
        statuses = [page.next_event()["status"]]
        assert notify(server.url, payment)[0] == 200
        assert refund(server.url, payment) == 200
        statuses += [page.next_event()["status"], page.next_event()["status"]]

        assert call(f"{server.url}/_test/burst/{payment['id']}?count=300", "POST")[0] == 200
        deadline = time.monotonic() + 15
        while len(bursts) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        page.close()
    assert statuses == ["pending", "paid", "refunded"]
    assert bursts == list(range(300))
    assert "Traceback" not in server.log()


def assert_ends_cleanly(server, before: dict, pages: list[Page]) -> None:
    """The pages are gone on both ends and left no task behind on the server."""
    settled(server, before["websockets"])
    assert not any(page.client.connected for page in pages)
    # The ping task may still be waiting out a departed page's next ping; nothing else is left.
    deadline = time.monotonic() + 10
    while (after := engine(server))["tasks"] - before["tasks"] > 1:
        assert time.monotonic() < deadline, f"tasks left behind: {before} -> {after}"
        time.sleep(0.05)
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("level", ["socketio", "engineio"])
def test_a_server_side_disconnect_ends_cleanly(server, level):
    payment = create(server.url)
    before = settled(server, 0)
    pages, gone = [], []
    for _ in range(5):
        page = connect(server, payment)
        left = threading.Event()
        page.client.on("disconnect", lambda *reason, left=left: left.set())
        assert page.next_event()["status"] == "pending"
        pages.append(page)
        gone.append(left)

    status, body = call(f"{server.url}/_test/disconnect/{payment['id']}?level={level}", "POST")

    assert (status, body) == (200, {"pages": 5})
    assert all(left.wait(10) for left in gone)
    assert_ends_cleanly(server, before, pages)


def test_pages_leaving_end_cleanly(server):
    payment = create(server.url)
    before = settled(server, 0)
    pages = [connect(server, payment) for _ in range(5)]
    for page in pages:
        assert page.next_event()["status"] == "pending"

    for page in pages:
        page.close()

    assert_ends_cleanly(server, before, pages)


def test_idle_pages_keep_no_writer_and_all_hear_the_next_event(server):
    count = 40
    payment = create(server.url)
    before = settled(server, 0)
    pages = [BarePage(server.port, payment["id"]) for _ in range(count)]
    try:
        caught_up = [page.next_event() for page in pages]
        idle = settled(server, count)

        assert notify(server.url, payment)[0] == 200

        heard = [page.next_event() for page in pages]
        after = settled(server, count)
    finally:
        for page in pages:
            page.close()
    assert all(event == ["payment_status", caught_up[0][1]] for event in caught_up)
    assert caught_up[0][1]["status"] == "pending"
    assert all(name == "payment_status" and data["status"] == "paid" for name, data in heard)
    # One writer per page would add `count` tasks more; the ping and service tasks may start.
    per_page = TASKS_PER_IDLE_PAGE[server.mode] * count
    assert per_page <= idle["tasks"] - before["tasks"] <= per_page + 3, (before, idle)
    assert after["tasks"] - idle["tasks"] <= 1, (idle, after)
