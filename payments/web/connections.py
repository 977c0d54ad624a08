"""Staying up under abuse: how ``python app.py`` (eventlet's WSGI server) takes connections.

Built from the documented parts of ``eventlet.wsgi.server``: the listening
socket it is given, its ``protocol`` class, ``socket_timeout``, ``environ`` and
``log``.

- ``Listener`` wraps the listening socket: it counts the open connections of
  each client address and closes a new one at once past
  ``MAX_CONNECTIONS_PER_ADDRESS``, so one address cannot take every connection
  the server has (the bank's webhook and ``/health`` keep being served). A
  trusted proxy's address is not held (nginx limits each client itself). Out
  of file descriptors, it waits for connections to close (eventlet's server
  would end, and the process with it); ``open_files_for`` raises the soft
  limit at start as far as the hard one allows.
- ``Protocol`` gives each request ``REQUEST_HEADER_TIMEOUT`` seconds from the
  moment the server waits for it until its headers are read (a trickled head is
  closed however slowly it keeps coming; an idle keep-alive connection is closed
  after as long). The server's ``socket_timeout`` (``REQUEST_BODY_TIMEOUT``)
  bounds every read and write; a body that stalls that long is answered ``408``
  and its connection closed.
- ``wsgi.input_terminated`` tells the app (werkzeug) that the server ends the
  body itself, as eventlet does for ``Transfer-Encoding: chunked``: such a body
  is read like any other, within the same size limits.
- ``ServerLog`` is where the server writes: a client that left before its
  answer was sent (an event stream closed by its page) is one line, never a
  traceback; the access lines only with ``ACCESS_LOG``.
"""

import errno
import functools
import ipaddress
import logging
import resource
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable

import eventlet
import eventlet.wsgi
from werkzeug.exceptions import RequestTimeout

#: Errors of a socket whose client went away: its leaving, not the server's fault.
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

#: Seconds between two log lines about one address's refused connections.
REFUSAL_LOG_INTERVAL = 60

#: ``accept()`` errors that mean "no file descriptor (or memory) for one more connection now".
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
#: Seconds to wait before accepting again when out of descriptors.
EXHAUSTED_RETRY_SECONDS = 0.1
#: File descriptors a process needs beyond its connections (database, Redis, logs, files).
SPARE_DESCRIPTORS = 100

logger = logging.getLogger("payments.server")


def server_logger() -> logging.Logger:
    """Return the logger of the server's own lines, writing plain lines to stderr once set up."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class Connection:
    """An accepted socket whose ``close()`` gives its address's place back, once."""

    def __init__(self, sock: socket.socket, release: Callable[[], None]) -> None:
        self._sock = sock
        self._release = release

    def close(self) -> None:
        """Close the socket and count it no more."""
        release, self._release = self._release, None
        if release is not None:
            release()
        self._sock.close()

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class Listener:
    """A listening socket that holds each client address to ``per_address`` open connections.

    The addresses of ``proxies`` (``TRUSTED_PROXIES``) are not held: every client
    behind nginx comes from nginx's address, and nginx applies its own limits
    per client (deploy/nginx.conf).
    """

    def __init__(self, sock: socket.socket, per_address: int, proxies: tuple = ()) -> None:
        self._sock = sock
        self.per_address = per_address
        self._proxies = proxies
        self._exempt = functools.lru_cache(maxsize=1024)(self._is_proxy)
        self.open: Counter[str] = Counter()
        self._refused: dict[str, tuple[float, int]] = {}
        self._exhausted_at = -float("inf")
        self._lock = threading.Lock()

    def accept(self) -> tuple[Connection, tuple]:
        """Return the next connection whose address is under its cap; close the others."""
        while True:
            try:
                conn, address = self._sock.accept()
            except OSError as exc:
                if exc.errno not in OUT_OF_DESCRIPTORS:
                    raise
                # eventlet's server would end on it, the process with it: wait for a
                # connection to close instead, serving the open ones meanwhile.
                self._note_exhaustion(exc)
                eventlet.sleep(EXHAUSTED_RETRY_SECONDS)
                continue
            host = address[0]
            if self._proxies and self._exempt(host):
                return conn, address
            with self._lock:
                admitted = self.open[host] < self.per_address
                if admitted:
                    self.open[host] += 1
            if admitted:
                return Connection(conn, lambda host=host: self._release(host)), address
            conn.close()
            self._note_refusal(host)

    def _is_proxy(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def _release(self, host: str) -> None:
        with self._lock:
            self.open[host] -= 1
            if self.open[host] <= 0:
                del self.open[host]

    def _note_exhaustion(self, exc: OSError) -> None:
        """Log that no connection can be accepted: at most once a minute."""
        now = time.monotonic()
        if now - self._exhausted_at >= REFUSAL_LOG_INTERVAL:
            self._exhausted_at = now
            server_logger().error(
                "cannot accept connections: %s (the process's limit of open files, ulimit -n, "
                "is %d); waiting for some to close",
                exc.strerror,
                resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            )

    def _note_refusal(self, host: str) -> None:
        """Log refusals of ``host``: the first at once, then a count at most once a minute."""
        now = time.monotonic()
        since, count = self._refused.get(host, (0.0, 0))
        if now - since >= REFUSAL_LOG_INTERVAL:
            server_logger().warning(
                "refused connections from %s: it holds %d open "
                "(MAX_CONNECTIONS_PER_ADDRESS); %d more refused since the last line",
                host,
                self.per_address,
                count,
            )
            self._refused[host] = (now, 0)
        else:
            self._refused[host] = (since, count + 1)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class StalledInput:
    """``wsgi.input`` whose read that times out answers ``408`` and ends the connection."""

    def __init__(self, stream, sock) -> None:
        self._stream = stream
        self._sock = sock

    def _guard(self, method: str, *args):
        try:
            return getattr(self._stream, method)(*args)
        except TimeoutError:
            # Nothing more is read from this client: what is left of the body reads as its end
            # at once, and the server closes the connection after the answer.
            try:
                self._sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            raise RequestTimeout("The request body stalled; the connection is closed") from None

    def read(self, size=None):
        """Read as the server's input does."""
        return self._guard("read", size)

    def readline(self, size=None):
        """Read a line as the server's input does."""
        return self._guard("readline", size)

    def readlines(self, hint=None):
        """Read lines as the server's input does."""
        return self._guard("readlines", hint)

    def __iter__(self):
        return iter(self.readline, b"")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


#: The request being served by this (green) thread, for the server's log lines.
_current = threading.local()


class Protocol(eventlet.wsgi.HttpProtocol):
    """eventlet's HTTP protocol with a deadline on each request's head and a guarded body.

    ``header_timeout`` is set on a subclass by ``protocol()``.
    """

    header_timeout: float = 15.0

    def handle_one_request(self) -> None:
        """Serve one request, closing the connection if its head is not read in time."""
        self._head_timer = eventlet.Timeout(self.header_timeout)
        try:
            super().handle_one_request()
        except eventlet.Timeout as exc:
            if exc is not self._head_timer:
                raise
            self.close_connection = 1
        finally:
            self._head_timer.cancel()
            _current.request = None

    def parse_request(self) -> bool:
        """Read the headers, then let the request take its time: the deadline is met."""
        try:
            return super().parse_request()
        finally:
            self._head_timer.cancel()
            _current.request = (self.client_address[0], getattr(self, "requestline", ""))

    def get_environ(self) -> dict:
        """Return the request's environ, its body read through ``StalledInput``."""
        environ = super().get_environ()
        environ["wsgi.input"] = StalledInput(environ["wsgi.input"], self.connection)
        return environ


def protocol(base: type[eventlet.wsgi.HttpProtocol], header_timeout: float) -> type:
    """Return ``base`` (a ``Protocol`` subclass) with its head deadline set."""
    return type(base.__name__, (base,), {"header_timeout": header_timeout})


class ServerLog:
    """The ``log`` of eventlet's server: one line for a departed client, errors always.

    eventlet writes a traceback for any error while it sends an answer, a client
    that closed its event stream included; it writes it from inside its ``except``,
    so the error at hand says which it is.
    """

    def __init__(self, access: bool) -> None:
        self.access = access
        self.logger = server_logger()

    def info(self, msg: str, *args, **kwargs) -> None:
        """A traceback (an error) or, with the access log on, an access or start line."""
        text = msg % args if args else msg
        if not text.startswith("Traceback"):
            if self.access:
                self.logger.info(text)
            return
        error = sys.exc_info()[1]
        if isinstance(error, (*CLIENT_GONE, TimeoutError)):
            if self.access:
                address, line = getattr(_current, "request", None) or ("?", "?")
                self.logger.info(
                    '%s left before the answer to "%s" was sent (%s)',
                    address,
                    line,
                    type(error).__name__,
                )
            return
        self.logger.error(text.rstrip("\n"))

    def error(self, msg: str, *args, **kwargs) -> None:
        """A problem the server met."""
        self.logger.error(msg % args if args else msg)

    def debug(self, msg: str, *args, **kwargs) -> None:
        """eventlet's debugging lines (each accepted connection): not kept."""

    def write(self, msg: str, *args) -> None:
        """Written as ``info``."""
        self.info(msg.rstrip("\n"), *args)


def open_files_for(connections: int) -> None:
    """Raise the process's soft limit of open files towards ``connections`` plus spares.

    Only as far as the hard limit allows; below what is wanted, a warning says so.
    """
    wanted = connections + SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        server_logger().warning(
            "the limit of open files (ulimit -n) is %d, below MAX_CONNECTIONS (%d) plus %d: "
            "past it new connections wait; raise the limit or lower MAX_CONNECTIONS",
            soft,
            connections,
            SPARE_DESCRIPTORS,
        )


def serve(app, host: str, port: int, config, *, access_log: bool, **options) -> None:
    """Serve ``app`` on ``host:port`` with eventlet until the process ends.

    ``config`` gives the cap and the timeouts; ``options`` are eventlet's own
    (``protocol`` a ``Protocol`` subclass, ``max_size``, ...).
    """
    open_files_for(options.get("max_size") or 1024)
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = Listener(
        eventlet.listen(address, family),
        config["MAX_CONNECTIONS_PER_ADDRESS"],
        config["TRUSTED_PROXIES"],
    )
    options["protocol"] = protocol(
        options.get("protocol", Protocol), config["REQUEST_HEADER_TIMEOUT"]
    )
    eventlet.wsgi.server(
        listener,
        app,
        log=ServerLog(access_log),
        log_output=True,  # ServerLog chooses; eventlet's False would hide errors as well
        debug=False,  # never a traceback in an answer
        socket_timeout=config["REQUEST_BODY_TIMEOUT"],
        environ={"wsgi.input_terminated": True},  # eventlet ends chunked and sized bodies
        **options,
    )
