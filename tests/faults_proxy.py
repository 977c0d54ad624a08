"""A TCP proxy on loopback that a test can cut and restore, to make a service unreachable.

``FaultProxy(("127.0.0.1", 5672))`` listens on a free port and forwards every
connection to the target. ``cut()`` closes every forwarded connection and the
listening socket, so new connections are refused (the service looks stopped,
though the shared server keeps running for everyone else); ``restore()``
listens again on the same port. Threads only, no outside tool.
"""

import socket
import threading

from tests.live import free_port


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``target`` until ``cut``; ``restore`` forwards again."""

    def __init__(self, target: tuple[str, int], port: int | None = None):
        self.target = target
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.sockets: set[socket.socket] = set()
        self.accepted = 0

    @property
    def address(self) -> str:
        """Return ``127.0.0.1:<port>``, where clients connect."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> "FaultProxy":
        """Listen and forward (again, after ``cut``)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self.lock:
            self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    restore = start

    def cut(self) -> None:
        """Stop listening and close every forwarded connection, both ways, at once."""
        with self.lock:
            listener, self.listener = self.listener, None
            sockets, self.sockets = self.sockets, set()
        if listener is not None:
            _close(listener)
        for sock in sockets:
            _close(sock)

    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut: the listener was closed
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self.lock:
                if self.listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self.sockets.update((client, upstream))
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)
            with self.lock:
                self.sockets.discard(source)
                self.sockets.discard(sink)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.cut()


def _close(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways and close it; a socket already closed is fine."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
