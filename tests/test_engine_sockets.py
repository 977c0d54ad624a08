"""payments/engine_sockets.py: the shared ping task, the writer that runs only while something is
queued, and the shape of python-engineio both rely on.

The writer's tests drive ``Socket._websocket_handler`` in threading mode with a stand-in for the
page's WebSocket; tests/test_live_websocket.py runs real pages on real servers in every mode.
"""

import hashlib
import inspect
import json
import queue
import sys
import threading
import time

import engineio
import engineio.server
import engineio.socket
import pytest
from engineio import packet
from werkzeug.test import EnvironBuilder

from payments.realtime import engine_sockets

#: sha256 of python-engineio 4.15.1's ``Socket`` methods that engine_sockets.Socket copies or wraps.
BASE_SOURCES = {
    "_websocket_handler": "58afe122719282de1def07b5530c154fbf41a40481bc8a787c4eb7d94db56c9c",
    "close": "05fac55831999f25188d658b733f8e1044d5325becfd3c87011a6b03d30003b9",
}
RECHECK = {
    "_websocket_handler": "Socket._websocket_handler is a copy of it but for the writer (no "
                          "writer task of its own; _start_writer() and queue.join() instead)",
    "close": "Socket.close() calls it with wait=False, then wakes the writer for the None it "
             "queued (outside send()) and joins the queue only if it really closed",
}


def test_engineio_still_builds_its_connections_by_name_and_schedules_pings_so():
    # What install() relies on: the server looks the class up on the module at each connect,
    # asks the new connection for its first ping, and asks again on each pong.
    assert engineio.server.socket is engineio.socket
    connect = inspect.getsource(engineio.Server._handle_connect)
    assert "socket.Socket(self, sid)" in connect and "s.schedule_ping()" in connect
    assert "self.schedule_ping()" in inspect.getsource(engineio.socket.Socket.receive)
    # send_ping() is the base class's _send_ping() without its sleep.
    base_ping = inspect.getsource(engine_sockets._BaseSocket._send_ping)
    assert "self.server.sleep(self.server.ping_interval)" in base_ping
    assert "if not self.closing and not self.closed:" in base_ping
    assert "self.last_ping = time.time()" in base_ping
    assert "self.send(packet.Packet(packet.PING))" in base_ping


@pytest.mark.parametrize("name", sorted(BASE_SOURCES))
def test_engineio_socket_methods_the_writer_copies_are_unchanged(name):
    source = inspect.getsource(getattr(engine_sockets._BaseSocket, name))
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == BASE_SOURCES[name], (
        f"python-engineio's Socket.{name} changed: in payments/engine_sockets.py, "
        f"{RECHECK[name]}. Re-check it against the new source, then update BASE_SOURCES.")


def test_engineio_still_hands_websockets_to_the_socket_handler_and_sends_through_send():
    upgrade = inspect.getsource(engine_sockets._BaseSocket._upgrade_websocket)
    assert "self._websocket_handler, self.server" in upgrade
    # The only queue writes outside send() are close()'s None and the handler's own, both
    # followed by _start_writer() here; poll() re-queues a None only for polling.
    for name in ("send", "poll", "receive", "check_ping_timeout", "handle_get_request"):
        source = inspect.getsource(getattr(engine_sockets._BaseSocket, name))
        assert source.count("self.queue.put(") == {"send": 1, "poll": 1}.get(name, 0), name


def _call(server: engineio.Server, method: str, query: str, data: str | None = None):
    builder = EnvironBuilder(path="/engine.io/", method=method, query_string=query, data=data)
    answer: dict = {}

    def start_response(status, headers):
        answer["status"] = status

    body = b"".join(server.handle_request(builder.get_environ(), start_response))
    return answer["status"], body.decode()


@pytest.fixture
def installed():
    """Install engine_sockets for one test, as the server's start does, then take it out."""
    engine_sockets.install()
    yield
    engine_sockets.uninstall()


def test_install_is_undone_by_uninstall():
    engine_sockets.install()
    assert engineio.socket.Socket is engine_sockets.Socket
    engine_sockets.uninstall()
    assert engineio.socket.Socket is engine_sockets._BaseSocket


def test_the_factory_leaves_python_engineio_as_it_ships(app):
    assert engineio.socket.Socket is engine_sockets._BaseSocket


def test_a_connection_is_pinged_by_the_shared_task_after_each_pong(installed):
    server = engineio.Server(async_mode="threading", ping_interval=0.05, ping_timeout=5)
    status, opening = _call(server, "GET", "EIO=4&transport=polling")
    assert status == "200 OK" and opening.startswith("0")
    sid = json.loads(opening[1:])["sid"]
    assert isinstance(server.sockets[sid], engine_sockets.Socket)
    query = f"EIO=4&transport=polling&sid={sid}"
    for _ in range(2):
        assert _call(server, "GET", query) == ("200 OK", "2")  # a ping, ping_interval later
        assert _call(server, "POST", query, data="3")[0] == "200 OK"  # the pong
    assert _call(server, "POST", query, data="1")[0] == "200 OK"  # the page leaves
    assert sid not in server.sockets or server.sockets[sid].closed


class PageSocket:
    """The page's end of a WebSocket, as ``_websocket_handler`` sees it (eventlet's ``ws`` API)."""

    def __init__(self):
        self.frames_in: queue.Queue[str | None] = queue.Queue()  # from the page; None: it left
        self.received: queue.Queue[str] = queue.Queue()  # what the server sent, in order
        self.open = threading.Event()
        self.open.set()
        self.reading = threading.Event()  # cleared: a page that stops reading; send() blocks
        self.reading.set()
        self.broken = False  # send() fails, as to a page that went away

    def wait(self) -> str | None:
        return self.frames_in.get()

    def send(self, data: str) -> None:
        self.reading.wait()
        if self.broken or not self.open.is_set():
            raise OSError(32, "Broken pipe")
        self.received.put(data)

    def close(self) -> None:
        self.open.clear()
        self.frames_in.put(None)  # as a real socket: the read loop's wait() returns None

    def next(self, timeout: float = 5) -> str:
        return self.received.get(timeout=timeout)


def wait_until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Connection:
    """An engine_sockets.Socket on a threading-mode server, its handler running in a thread."""

    def __init__(self, connected: bool = False):
        self.server = engineio.Server(async_mode="threading")
        self.writers = 0  # writer tasks started so far
        self.running = 0  # of which still running
        start, count = self.server.start_background_task, threading.Lock()

        def start_and_count(target, *args, **kwargs):
            if target.__name__ != "_write":
                return start(target, *args, **kwargs)

            def write():
                try:
                    target(*args, **kwargs)
                finally:
                    with count:
                        self.running -= 1

            with count:
                self.writers += 1
                self.running += 1
            return start(write)

        self.server.start_background_task = start_and_count
        self.socket = engine_sockets.Socket(self.server, "sid")
        self.socket.connected = connected  # True: the page first connected by polling
        self.server.sockets["sid"] = self.socket
        self.page = PageSocket()
        self.handler = threading.Thread(target=self.socket._websocket_handler,
                                        args=(self.page,), daemon=True)

    def start(self) -> int:
        """Start the handler; wait until it has flushed the queue; return the writers started."""
        self.handler.start()
        wait_until(lambda: self.writers)  # the handler starts one for what was queued before
        return self.settle()

    def send(self, text: str) -> None:
        self.socket.send(packet.Packet(packet.MESSAGE, data=text))

    def settle(self) -> int:
        """Wait until no writer runs; return how many were started so far."""
        wait_until(lambda: self.running == 0)
        return self.writers


def test_what_was_queued_before_the_websocket_is_sent_then_no_writer_waits():
    conn = Connection()
    conn.send("hello")  # e.g. Socket.IO's CONNECT answer, queued before the handler runs
    conn.handler.start()

    assert conn.page.next() == "4hello"
    assert conn.settle() == 1
    time.sleep(0.2)  # idle
    assert conn.running == 0 and conn.writers == 1

    conn.send("paid")
    assert conn.page.next() == "4paid"
    assert conn.settle() == 2  # one more, started by send() and ended with the queue
    conn.page.frames_in.put(None)
    conn.handler.join(5)
    assert not conn.handler.is_alive()


def test_an_upgrade_from_polling_sends_what_was_queued_during_it():
    conn = Connection(connected=True)
    conn.handler.start()
    conn.page.frames_in.put("2probe")
    assert conn.page.next() == "3probe"
    conn.send("during")  # held while upgrading, as by the base class
    time.sleep(0.1)
    assert conn.page.received.empty() and conn.writers == 0

    conn.page.frames_in.put("5")  # the page's UPGRADE
    # the NOOP that ends a pending long poll (none here) and the held message
    assert sorted([conn.page.next(), conn.page.next()]) == ["4during", "6"]
    conn.settle()
    conn.page.frames_in.put(None)
    conn.handler.join(5)


def test_a_page_that_stops_reading_stalls_only_its_own_writer():
    conn = Connection()
    started = conn.start()
    conn.page.reading.clear()

    began = time.monotonic()
    for number in range(3):
        conn.send(f"event {number}")
    took = time.monotonic() - began

    assert took < 0.5  # the sender queued and went on
    time.sleep(0.1)
    assert conn.running == 1 and conn.page.received.empty()
    conn.page.reading.set()
    assert [conn.page.next() for _ in range(3)] == ["4event 0", "4event 1", "4event 2"]
    assert conn.settle() == started + 1
    conn.page.frames_in.put(None)
    conn.handler.join(5)


def test_events_from_concurrent_senders_arrive_once_each_in_each_senders_order():
    conn = Connection()
    conn.start()
    senders, each = 8, 300
    barrier = threading.Barrier(senders)

    def sender(name: int) -> None:
        barrier.wait()
        for number in range(each):
            conn.send(f"{name}:{number}")
            if number % 50 == 0:
                time.sleep(0.001)  # let the writer find the queue empty now and then

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: provoke the races
    try:
        threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        frames = [conn.page.next() for _ in range(senders * each)]
    finally:
        sys.setswitchinterval(old)

    by_sender: dict[str, list[int]] = {}
    for frame in frames:
        name, number = frame[1:].split(":")
        by_sender.setdefault(name, []).append(int(number))
    assert by_sender == {str(n): list(range(each)) for n in range(senders)}
    conn.settle()
    assert conn.page.received.empty() and conn.socket.queue.empty()
    conn.page.frames_in.put(None)
    conn.handler.join(5)


def test_a_send_error_closes_the_websocket_and_the_connection_ends():
    conn = Connection()
    conn.start()
    conn.page.reading.clear()
    for number in range(3):
        conn.send(f"event {number}")
    conn.page.broken = True
    conn.page.reading.set()

    wait_until(lambda: not conn.page.open.is_set())
    conn.handler.join(5)  # it waits for the queue: every packet, sent or dropped, was done
    assert not conn.handler.is_alive()
    assert conn.socket.closed and conn.page.received.empty()
    assert conn.settle() >= 2


def test_a_server_side_close_sends_close_then_the_handler_and_writer_end():
    conn = Connection()
    reasons = []
    conn.server.on("disconnect", lambda sid, reason: reasons.append(reason))
    conn.start()

    closer = threading.Thread(target=conn.server.disconnect, args=("sid",))
    closer.start()
    closer.join(5)  # close(wait=True): returns once the writer has sent CLOSE and closed ws

    assert not closer.is_alive()
    assert conn.page.next() == "1" and not conn.page.open.is_set()
    conn.handler.join(5)
    assert not conn.handler.is_alive() and conn.running == 0
    assert reasons == [conn.server.reason.SERVER_DISCONNECT]
    assert "sid" not in conn.server.sockets


def test_the_page_leaving_ends_the_handler_and_its_writer():
    conn = Connection()
    reasons = []
    conn.server.on("disconnect", lambda sid, reason: reasons.append(reason))
    conn.handler.start()
    conn.send("hello")
    assert conn.page.next() == "4hello"

    conn.page.frames_in.put(None)  # the page closed its WebSocket
    conn.handler.join(5)

    assert not conn.handler.is_alive() and conn.settle() >= 1
    assert not conn.page.open.is_set()  # the writer closed the server's end, as the base does
    assert conn.socket.closed and reasons == [conn.server.reason.TRANSPORT_CLOSE]


def test_polling_has_no_writer_its_requests_take_the_packets():
    conn = Connection()
    conn.send("hello")
    assert conn.writers == 0
    assert [p.encode() for p in conn.socket.poll()] == ["4hello"]
