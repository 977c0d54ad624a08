"""A loopback TCP proxy that a test switches between forwarding, refusing and a black hole.

It stands between the app and PostgreSQL or Redis, so a test can take the
service away without touching the machine's server:

- ``forward()``: bytes flow both ways (the start);
- ``refuse()``: every open connection is closed and new ones are closed as soon as
  they are accepted, as when the server is stopped;
- ``black_hole()``: connections are accepted and nothing is forwarded, either way, on
  open or new ones, as when the server or the network between is silent. The kernel
  still acknowledges every byte, so only the client's own timeouts can notice;
- ``cut()``: as ``refuse()``, and the proxy stops listening, so a new connection is
  refused at connect, as when the server's host is up but the server is not;
  ``restore()`` listens again on the same port and forwards.

Going back to ``forward()`` after a black hole resumes the connections that are
still open (what was held is delivered) and drops those accepted meanwhile, which
never reached the server.
"""

import socket
import threading

from tests.live import free_port

FORWARD, REFUSE, BLACK_HOLE = "forward", "refuse", "black hole"


class FaultProxy:
    """Listen on a free loopback port and pass connections on to ``target_port``."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.mode = FORWARD
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._held: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        #: Connections forwarded to the target so far.
        self.accepted = 0
        self._listen()

    @property
    def address(self) -> str:
        """Return ``127.0.0.1:<port>``, where clients connect."""
        return f"127.0.0.1:{self.port}"

    # ----- switches

    def forward(self) -> None:
        """Let bytes flow again; drop the connections the black hole accepted."""
        with self._lock:
            self.mode = FORWARD
            held, self._held = self._held, set()
        for sock in held:
            _close(sock)
        self._flowing.set()

    def refuse(self) -> None:
        """Close every connection, and each new one at once."""
        with self._lock:
            self.mode = REFUSE
            pairs, self._pairs = self._pairs, set()
            held, self._held = self._held, set()
        self._flowing.set()  # pumps wake up and find their sockets closed
        for client, upstream in pairs:
            _close(client)
            _close(upstream)
        for sock in held:
            _close(sock)

    def black_hole(self) -> None:
        """Accept, acknowledge and hold everything; forward nothing."""
        with self._lock:
            self.mode = BLACK_HOLE
            self._flowing.clear()

    def cut(self) -> None:
        """Close every connection and stop listening: new ones are refused at connect."""
        self.refuse()
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)

    def restore(self) -> None:
        """Listen again on the same port (after ``cut``) and forward."""
        with self._lock:
            cut = self._listener is None
        if cut:
            self._listen()
        self.forward()

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed = True
        self.cut()

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- the work

    def _listen(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: same port
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name=f"proxy-{self.port}",
                         daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed:
            try:
                client, _ = listener.accept()
            except OSError:  # closed: cut or close
                return
            with self._lock:
                mode = self.mode
                if mode == BLACK_HOLE:
                    self._held.add(client)
                    continue
            if mode == REFUSE:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _pump(self, pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                # In a black hole what was read waits here; the sender saw it acknowledged.
                self._flowing.wait()
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
