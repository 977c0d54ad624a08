"""Run real ``python app.py`` servers on free ports, for behaviour that lives between processes."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def call(url: str, method: str = "GET", body: dict | None = None, timeout: float = 30):
    """Return (status, JSON body) of one HTTP request; 4xx/5xx answers are returned too."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post_raw(url: str, path: str, body: bytes, headers: dict, timeout: float = 60) -> int:
    """POST ``body`` as given (no JSON encoding) on a new connection; return the status."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def create(server_url: str, value: float | str = 150.5) -> dict:
    """Create a charge and return its payment object."""
    status, body = call(server_url + "/payments/pix", "POST", {"value": value})
    assert status == 201, body
    return body["payment"]


def notify(server_url: str, payment: dict) -> tuple[int, dict]:
    """Post the bank's approval of ``payment`` to one server; return (status, body)."""
    return call(server_url + "/payments/pix/confirmation", "POST",
                {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]})


class EventStream:
    """An SSE response read as it arrives, with a socket timeout per read."""

    def __init__(self, server: "LiveServer", payment_id: str, timeout: float = 10):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.connection.request("GET", f"/payments/pix/{payment_id}/events")
        self.response = self.connection.getresponse()
        self.buffer = b""

    def next_block(self) -> bytes:
        """Return the next event or comment; raise TimeoutError if none arrives in time."""
        while b"\n\n" not in self.buffer:
            chunk = self.response.read1(65536)
            if not chunk:
                raise EOFError("the server ended the stream")
            self.buffer += chunk
        block, self.buffer = self.buffer.split(b"\n\n", 1)
        return block

    def next_event(self) -> dict:
        """Return the next ``payment_status`` payload, skipping comments."""
        while True:
            lines = self.next_block().decode().splitlines()
            data = [line[6:] for line in lines if line.startswith("data: ")]
            if "event: payment_status" in lines:
                return json.loads(data[0])

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A ``python app.py`` process (or ``argv``, ``{port}`` filled in); ``url`` is its base URL."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, name: str = "app",
                 argv: list[str] | None = None):
        self.port = free_port()
        self.argv = [arg.format(port=self.port) for arg in argv or [sys.executable, "app.py"]]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}-{self.port}.log"
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": f"sqlite:///{workdir / 'live.sqlite'}",
            "SECRET_KEY": "live-test",
            "ACCESS_LOG": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "LiveServer":
        """Start the process and wait until ``/health`` answers.

        :raise RuntimeError: the server died or did not answer in time; the log is included.
        """
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return self
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the process (politely, then firmly)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        """Return what the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
