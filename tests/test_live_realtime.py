"""Real time on a real ``python app.py``: pushed expiry, unbuffered SSE, departed clients."""

import http.client
import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.live import LiveServer


def call(url, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def create(server, value=10):
    return call(server.url + "/payments/pix", "POST", {"value": value})["payment"]


def confirm(server, payment):
    return call(server.url + "/payments/pix/confirmation", "POST",
                {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]})


@pytest.fixture
def server(tmp_path, request):
    env = getattr(request, "param", {})
    with LiveServer(tmp_path, env=env) as live:
        yield live


class EventStream:
    """An SSE response read as it arrives, with a socket timeout per read."""

    def __init__(self, server, payment_id, timeout=10):
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

    def close(self):
        self.connection.close()


def test_each_event_arrives_at_once(server):
    """Events are ~1 KiB; a server holding output until 4 KiB would time these reads out."""
    payment = create(server)
    stream = EventStream(server, payment["id"], timeout=10)
    try:
        first = stream.next_event()
        confirm(server, payment)
        second = stream.next_event()
    finally:
        stream.close()

    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    assert (first["status"], second["status"]) == ("pending", "paid")


def server_side_states(port: int, client_port: int) -> set[str]:
    """Return the TCP states of the server's end of the connection from ``client_port``."""
    states = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for row in path.read_text().splitlines()[1:]:
            fields = row.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port and \
                    int(remote.rsplit(":", 1)[1], 16) == client_port:
                states.add(state)
    return states


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
@pytest.mark.parametrize("server", [{"SSE_KEEPALIVE_SECONDS": "1"}], indirect=True)
def test_server_lets_go_of_a_departed_event_client(server):
    """The handler of a closed stream ends: its connection is closed on the server's side too.

    The server's end only closes once the request's greenlet has finished, which
    runs the stream's ``finally`` (dropping its watch, see test_watchers).
    """
    payment = create(server)
    stream = EventStream(server, payment["id"])
    stream.next_event()
    client_port = stream.connection.sock.getsockname()[1]
    established = server_side_states(server.port, client_port)

    stream.close()
    deadline = time.monotonic() + 20
    while server_side_states(server.port, client_port) & {"01", "08"}:  # ESTABLISHED, CLOSE_WAIT
        assert time.monotonic() < deadline, "the server still holds the departed client"
        time.sleep(0.2)

    assert established == {"01"}
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("server", [{"PIX_EXPIRATION_SECONDS": "2"}], indirect=True)
def test_socketio_page_learns_the_expiry_without_any_request(server):
    import socketio

    payment = create(server)
    received = []
    client = socketio.Client(reconnection=False)
    client.on("payment_status", received.append)
    client.connect(server.url, auth={"payment_id": payment["id"]}, transports=["polling"],
                   wait_timeout=10)
    try:
        deadline = time.monotonic() + 15
        while not any(state["status"] == "expired" for state in received):
            assert time.monotonic() < deadline, f"no expiry pushed; got {received}"
            client.sleep(0.1)
    finally:
        client.disconnect()

    assert [state["status"] for state in received] == ["pending", "expired"]
