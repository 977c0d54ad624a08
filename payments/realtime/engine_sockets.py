"""Engine.IO connections without idle green threads: one ping task per server, no idle writer.

python-engineio gives every connection two tasks that mostly sleep: one that
sleeps ``ping_interval`` (25 s) and sends a ping, again after each pong, and,
on WebSocket, a writer that waits on the send queue for the page's whole life.
Each costs an idle page ~8-10 KiB (its saved C stack, its Python frame chunk,
its timer). Engine.IO has no option or hook for either, and ``engineio.Server``
builds every connection from ``engineio.socket.Socket`` by name; so
``install()`` puts a subclass there. Its ``schedule_ping`` queues the socket for
its server's one ping task; its ``_websocket_handler`` is the base one but for
the writer: ``send()`` queues as before and starts a short writer task only if
none is running, which ends when the queue is empty. Whoever sends (a webhook's
request, the message-queue listener, the ping task) only queues, so a slow page
stalls its own writer, never them.

Written against python-engineio 4.15.1 (pinned in requirements.txt);
tests/test_engine_sockets.py fails if the shape this relies on changes.
"""

import threading
import time
import weakref
from collections import deque

import engineio
import engineio.socket
from engineio import exceptions, packet

_BaseSocket = engineio.socket.Socket

#: Guards every connection's "is a writer running" flag together with the emptiness of its queue.
#: Green under eventlet and gevent (app.py patches first), a real lock under threading; held only
#: for a non-blocking queue read or a flag, never across a send.
_writers_lock = threading.Lock()

#: A connection's ``_ws`` once its writer has closed the WebSocket.
_CLOSED = object()


class Socket(_BaseSocket):
    """An Engine.IO connection with no task of its own while it is idle.

    Its next ping is sent by the server's ping queue; on WebSocket, a writer task
    runs only while something is queued for it.
    """

    #: The upgraded WebSocket the writer sends to; None while polling or upgrading, and
    #: ``_CLOSED`` once the writer closed it (what is queued after that is dropped).
    _ws = None
    _writing = False  # a writer task is running; read and set under _writers_lock only

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

    def send(self, pkt: packet.Packet) -> None:
        """Queue a packet (the base ``send``) and, on WebSocket, see that a writer sends it."""
        super().send(pkt)
        self._start_writer()

    def close(self, wait: bool = True, abort: bool = False, reason=None) -> None:
        """Close as the base does, waking the writer for the ``None`` queued outside ``send()``."""
        closing = not self.closed and not self.closing
        super().close(wait=False, abort=abort, reason=reason)
        if closing:
            self._start_writer()
            if wait:
                self.queue.join()

    def _start_writer(self) -> None:
        """Start a writer task unless one is running or there is no WebSocket (yet)."""
        with _writers_lock:
            if self._ws is None or self._writing:
                return
            self._writing = True
        try:
            self.server.start_background_task(self._write)
        except Exception:  # e.g. no thread left: the next send tries again; never fail the sender
            with _writers_lock:
                self._writing = False
            self.server.logger.exception("%s: could not start a writer", self.sid)

    def _write(self) -> None:
        """Send what is queued, in order, then end; close the WebSocket on ``None`` or an error.

        Every packet taken is marked done, sent or not, so ``close(wait=True)`` and the end
        of ``_websocket_handler`` can wait for the queue. (The base writer also closed a
        WebSocket after ``ping_interval + ping_timeout`` with nothing to send; the read
        timeout set in the handler and the server's ping check close such a page.)
        """
        empty = self.server.get_queue_empty_exception()
        while True:
            with _writers_lock:  # "empty, so no writer" in one step with send()'s check
                try:
                    pkt = self.queue.get(block=False)
                except empty:
                    self._writing = False
                    return
            try:
                ws = self._ws
                if ws is _CLOSED:
                    continue  # after None or an error the base writer had stopped: drop it
                if pkt is None:  # the connection is closing
                    self._close_ws(ws)
                    continue
                try:
                    ws.send(pkt.encode())
                except Exception:  # the page went away: as the base writer, close and stop
                    self._close_ws(ws)
            finally:
                self.queue.task_done()

    def _close_ws(self, ws) -> None:
        """Close the WebSocket once, and let go of it."""
        self._ws = _CLOSED
        try:
            ws.close()
        except Exception as exc:
            self.server.logger.info("%s: error closing the WebSocket: %s", self.sid, exc)

    def _websocket_handler(self, ws):
        """Engine.IO handler for websocket transport (the base one but for the writer)."""
        def websocket_wait():
            data = ws.wait()
            if data and len(data) > self.server.max_http_buffer_size:
                raise ValueError('packet is too large')
            return data

        # try to set a socket timeout matching the configured ping interval
        # and timeout
        for attr in ['_sock', 'socket']:
            if hasattr(ws, attr) and hasattr(getattr(ws, attr), 'settimeout'):
                getattr(ws, attr).settimeout(
                    self.server.ping_interval + self.server.ping_timeout)

        if self.connected:
            # the socket was already connected, so this is an upgrade
            self.upgrading = True  # hold packet sends during the upgrade

            pkt = websocket_wait()
            decoded_pkt = packet.Packet(encoded_packet=pkt)
            if decoded_pkt.packet_type != packet.PING or \
                    decoded_pkt.data != 'probe':
                self.server.logger.info(
                    '%s: Failed websocket upgrade, no PING packet', self.sid)
                self.upgrading = False
                return []
            ws.send(packet.Packet(packet.PONG, data='probe').encode())
            self.queue.put(packet.Packet(packet.NOOP))  # end poll

            pkt = websocket_wait()
            decoded_pkt = packet.Packet(encoded_packet=pkt)
            if decoded_pkt.packet_type != packet.UPGRADE:
                self.upgraded = False
                self.server.logger.info(
                    ('%s: Failed websocket upgrade, expected UPGRADE packet, '
                     'received %s instead.'),
                    self.sid, pkt)
                self.upgrading = False
                return []
            self.upgraded = True
            self.upgrading = False
        else:
            self.connected = True
            self.upgraded = True

        # no writer task of its own: from now on send() starts one when something is queued;
        # this one sends what was queued before (the OPEN packet, Socket.IO's CONNECT answer)
        self._ws = ws
        self._start_writer()

        self.server.logger.info(
            '%s: Upgrade to websocket successful', self.sid)

        while True:
            p = None
            try:
                p = websocket_wait()
            except Exception as e:
                # if the socket is already closed, we can assume this is a
                # downstream error of that
                if not self.closed:
                    self.server.logger.info(
                        '%s: Unexpected error "%s", closing connection',
                        self.sid, str(e))
                break
            if p is None:
                # connection closed by client
                break
            pkt = packet.Packet(encoded_packet=p)
            try:
                self.receive(pkt)
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                self.server.logger.info('Receive error -- socket is closed')
                break
            except Exception:  # the base: a bare except
                # if we get an unexpected exception we log the error and exit
                # the connection properly
                self.server.logger.exception('Unknown receive error')
                break

        self.queue.put(None)  # the writer closes ws when it gets here
        self._start_writer()
        self.queue.join()  # the base joins its writer: here, everything queued has been handled
        self.close(wait=False, abort=True,
                   reason=self.server.reason.TRANSPORT_CLOSE)

        return []


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
    """Make every Engine.IO server of this process build its connections as ``Socket``.

    Only the server's start (``payments.boot``, with ``LEAN_WEBSOCKETS`` on) calls
    this: the factory, the commands and the tests run python-engineio as it ships.
    """
    engineio.socket.Socket = Socket


def uninstall() -> None:
    """Give Engine.IO back its own ``Socket`` (tests that installed this one)."""
    engineio.socket.Socket = _BaseSocket
