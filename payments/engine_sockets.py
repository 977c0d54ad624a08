"""One task per server sends the Engine.IO pings, not one green thread per connected page.

python-engineio starts a background task per connection that sleeps
``ping_interval`` (25 s) and sends a ping, and again after each pong: a third
green thread for every idle page, 7.5 of the 63 KiB a page cost (its saved C
stack, its Python frame chunk, its timer and event). Engine.IO has no option or
hook for this, and ``engineio.Server`` builds every connection from
``engineio.socket.Socket`` by name; so ``install()`` puts a subclass there whose
``schedule_ping`` queues the socket for its server's one ping task instead.
Written against python-engineio 4.15.1 (pinned in requirements.txt);
tests/test_engine_sockets.py fails if the shape this relies on changes.
"""

import threading
import time
import weakref
from collections import deque

import engineio
import engineio.socket
from engineio import packet

_BaseSocket = engineio.socket.Socket


class Socket(_BaseSocket):
    """An Engine.IO connection whose next ping the server's ping queue sends."""

    def schedule_ping(self) -> None:
        """Queue the next ping, once per pong (as the base class spawns its task)."""
        if self.last_ping:
            self.last_ping = None
            _queue_of(self.server).add(self)

    def send_ping(self) -> None:
        """Send the ping now, unless the connection is closing (the base ``_send_ping``)."""
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.send(packet.Packet(packet.PING))


class PingQueue:
    """Connections in the order their pings fall due, and the one task that sends them.

    Every connection of a server waits the same ``ping_interval``, so appending
    keeps the queue in due order. The task ends when the queue is empty and is
    started again by the next ``add``.
    """

    def __init__(self) -> None:
        self.due: deque[tuple[float, Socket]] = deque()
        self.lock = threading.Lock()  # green under eventlet and gevent; real for threading
        self.running = False

    def add(self, sock: Socket) -> None:
        """Queue ``sock``'s ping for ``ping_interval`` from now; start the task if idle."""
        server = sock.server
        with self.lock:
            self.due.append((time.monotonic() + server.ping_interval, sock))
            start, self.running = not self.running, True
        if start:
            server.start_background_task(self.run, server)

    def run(self, server: engineio.Server) -> None:
        """Send each ping when due; return when no connection waits for one."""
        while True:
            for sock in self._take_due():
                try:
                    sock.send_ping()
                except Exception:  # one broken connection must not stop the others' pings
                    server.logger.exception("%s: could not send a ping", sock.sid)
            with self.lock:
                if not self.due:
                    self.running = False
                    return
                wait = self.due[0][0] - time.monotonic()
            server.sleep(max(wait, 0))

    def _take_due(self) -> list[Socket]:
        now = time.monotonic()
        with self.lock:
            ready = []
            while self.due and self.due[0][0] <= now:
                ready.append(self.due.popleft()[1])
        return ready


_queues: "weakref.WeakKeyDictionary[engineio.Server, PingQueue]" = weakref.WeakKeyDictionary()


def _queue_of(server: engineio.Server) -> PingQueue:
    """Return the ping queue of an Engine.IO server (made on first use)."""
    queue = _queues.get(server)
    if queue is None:
        queue = _queues.setdefault(server, PingQueue())
    return queue


def install() -> None:
    """Make every Engine.IO server of this process build its connections as ``Socket``."""
    engineio.socket.Socket = Socket
