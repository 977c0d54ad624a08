"""The API Pix simulator for tests: as a subprocess on a free port, and a callback receiver.

``SimulatorServer(tmp_path, "--drop-callbacks")`` runs ``flask --app payments psp simulator``
(``url`` is its origin, ``psp_url`` the ``/v2`` base, ``token_url`` its OAuth2 endpoint);
``Receiver`` is a tiny HTTP server on loopback that records what is posted to it.
"""

import base64
import http.server
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

from payments.simulator.auth import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.live import LiveServer

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "Receiver",
    "SimulatorServer",
    "api_call",
    "get_token",
]


class SimulatorServer(LiveServer):
    """``flask --app payments psp simulator --port <free>`` with extra ``options``."""

    def __init__(self, workdir: Path, *options: str, env: dict[str, str] | None = None):
        argv = [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "payments",
            "psp",
            "simulator",
            "--port",
            "{port}",
            *options,
        ]
        super().__init__(workdir, env=env, name="simulator", argv=argv)
        self.psp_url = self.url + "/v2"
        self.token_url = self.url + "/oauth/token"


def get_token(
    token_url: str, client_id: str = DEMO_CLIENT_ID, client_secret: str = DEMO_CLIENT_SECRET
) -> tuple[int, dict]:
    """Ask for an access token with client credentials; return (status, body)."""
    import urllib.error
    import urllib.request

    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(
        token_url,
        data=b"grant_type=client_credentials",
        method="POST",
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def api_call(url: str, token: str, method: str = "GET", body: dict | None = None):
    """Return (status, JSON body or None) of an API Pix call with a Bearer token."""
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None


class Receiver:
    """An HTTP server on loopback recording each POST's path and JSON body.

    ``status`` is what it answers (change it to make the sender retry).
    """

    def __init__(self, status: int = 200):
        self.status = status
        self.posts: list[tuple[str, dict]] = []
        self.attempts = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.attempts += 1
                if receiver.status < 300:
                    receiver.posts.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 10) -> list[tuple[str, dict]]:
        """Return the posts once ``count`` arrived; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.posts) >= count, f"{len(self.posts)} posts, expected {count}"
        return list(self.posts)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def query(params: dict) -> str:
    """Return ``params`` as a query string."""
    return urllib.parse.urlencode(params)
