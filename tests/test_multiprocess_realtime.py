"""Two real processes on one database: a change made by one reaches the waiters of the other."""

import json
import socket
import threading
import time
import urllib.request

import pytest

from tests.live import LiveServer
from tests.requires import service
from tests.test_live_realtime import EventStream, confirm, create

REDIS_URL = "redis://127.0.0.1:6379/4"


@pytest.fixture
def pair(tmp_path):
    """Return two ``python app.py`` processes sharing one SQLite file."""
    with LiveServer(tmp_path, name="a") as a, LiveServer(tmp_path, name="b") as b:
        yield a, b


def test_sse_on_one_process_hears_a_webhook_received_by_another(pair):
    a, b = pair
    payment = create(a)
    stream = EventStream(a, payment["id"], timeout=20)
    try:
        first = stream.next_event()
        confirm(b, payment)
        second = stream.next_event()
    finally:
        stream.close()

    assert (first["status"], second["status"]) == ("pending", "paid")


def test_long_poll_on_one_process_hears_a_webhook_received_by_another(pair):
    a, b = pair
    payment = create(a)
    answers = []

    def long_poll():
        url = f"{a.url}/payments/pix/{payment['id']}/status?wait=30&status=pending"
        with urllib.request.urlopen(url, timeout=60) as response:
            answers.append(json.loads(response.read()))

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(1)  # let the poll reach process A and park there
    parked = poller.is_alive()
    confirm(b, payment)
    poller.join(timeout=60)

    assert parked, "the long poll answered before anything changed"
    assert [answer["status"] for answer in answers] == ["paid"]


def redis_available() -> bool:
    try:
        import redis  # noqa: F401
    except ImportError:
        return False
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_pair(tmp_path):
    """Return two processes sharing one SQLite file and Redis; charges live 2 s."""
    service(redis_available(), "needs Redis on 127.0.0.1:6379 and the redis package")
    env = {"PIX_EXPIRATION_SECONDS": "2", "SOCKETIO_MESSAGE_QUEUE": REDIS_URL}
    with LiveServer(tmp_path, env=env, name="a") as a, LiveServer(tmp_path, env=env, name="b") as b:
        yield a, b


def test_two_processes_push_an_expiry_once(redis_pair):
    """Both processes' background tasks find the charge due; only the winner emits."""
    import socketio

    a, b = redis_pair
    payment = create(a)
    heard = {a.url: [], b.url: []}
    clients = []
    for server in (a, b):
        client = socketio.Client(reconnection=False)
        client.on("payment_status", heard[server.url].append)
        client.connect(server.url, auth={"payment_id": payment["id"]}, transports=["polling"],
                       wait_timeout=20)
        clients.append(client)
    try:
        deadline = time.monotonic() + 20
        while not all(any(s["status"] == "expired" for s in got) for got in heard.values()):
            assert time.monotonic() < deadline, f"expiry not pushed to both: {heard}"
            time.sleep(0.1)
        time.sleep(2)  # room for a duplicate to arrive, if one were sent
    finally:
        for client in clients:
            client.disconnect()

    assert [[s["status"] for s in got] for got in heard.values()] == [
        ["pending", "expired"], ["pending", "expired"]]
