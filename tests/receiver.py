"""A merchant's endpoint for the tests: a tiny threaded HTTP server on a free loopback port.

It keeps every request it gets (headers and raw body) and answers each with
what ``answer`` returns (default 200). ``BlackHole`` accepts connections and
never answers: a destination that times out.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.live import free_port


class Received:
    """One request as the endpoint got it."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes):
        self.path = path
        self.headers = headers
        self.body = body

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """``with Receiver() as r:`` ... ``r.url``, ``r.received``; ``answer(received) -> status``."""

    def __init__(self, port: int | None = None, answer=None, delay: float = 0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/payments"
        self.answer = answer or (lambda received: 200)
        self.delay = delay
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = Received(self.path, dict(self.headers.items()), body)
                with receiver.lock:
                    receiver.received.append(got)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.answer(got)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self) -> list[dict]:
        with self.lock:
            return [got.event for got in self.received]

    def ids(self) -> list[str]:
        return [event["id"] for event in self.events()]

    def wait_for(self, count: int, timeout: float = 15) -> list[dict]:
        """Wait until ``count`` requests came (or ``timeout``); return the events."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events()

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class BlackHole:
    """A port that accepts TCP connections (the kernel's backlog) and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"

    def __enter__(self) -> "BlackHole":
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
