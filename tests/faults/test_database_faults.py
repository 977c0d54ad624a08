"""PostgreSQL silent or gone, behind a proxy: every route answers 503 in seconds, then recovers.

A real ``python app.py`` (eventlet) talks to the machine's PostgreSQL through a
loopback ``FaultProxy``; the test black-holes it (connections accepted, nothing
answered, as a stopped server or a network black hole) or refuses it (the server
down), and measures what a client sees. The machine's PostgreSQL is never touched.
"""

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
import socketio

from tests.backends import postgres_url  # noqa: F401  (fixture)
from tests.faults.proxy import FaultProxy
from tests.live import LiveServer, call, create, notify

#: The contract: a 503 within 10 seconds. Timeouts are set well inside it.
ANSWER_WITHIN_S = 10
#: How long a recovered service may take to answer every route again, by itself.
RECOVERED_WITHIN_S = 15
UNAVAILABLE = "The database is unavailable; nothing was changed, retry later"


@pytest.fixture
def served(tmp_path, postgres_url):  # noqa: F811
    """Return (server, proxy): a server whose PostgreSQL database sits behind the proxy."""
    parts = urlsplit(postgres_url)
    with FaultProxy(parts.port) as proxy:
        proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        with LiveServer(tmp_path, env={"DATABASE_URL": proxied, "RATE_LIMIT_CREATE": ""}) as server:
            yield server, proxy


def timed(fn):
    """Return ``(seconds, result)`` of ``fn()``; an exception is the result."""
    started = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # what the client saw is what we assert on
        result = exc
    return time.monotonic() - started, result


def page(server, payment) -> tuple[int, str, str | None]:
    """Return (status, content type, Retry-After) of the payment's HTML page."""
    try:
        with urllib.request.urlopen(server.url + payment["page_url"], timeout=30) as response:
            return response.status, response.headers["Content-Type"], None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.headers["Retry-After"]


def raw(server, path: str, method: str = "GET", body: bytes | None = None):
    """Return (status, Retry-After, body text) of one request."""
    request = urllib.request.Request(server.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["Retry-After"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Retry-After"], exc.read().decode()


def socket_connect(server, payment) -> dict:
    """Connect a page's Socket.IO client; return the first event, or raise what connect raised."""
    client = socketio.Client(reconnection=False)
    events = []
    client.on("payment_status", events.append)
    try:
        client.connect(server.url, auth={"payment_id": payment["id"]}, transports=["polling"],
                       headers={"Origin": server.url}, wait_timeout=30)
        deadline = time.monotonic() + 10
        while not events and time.monotonic() < deadline:
            time.sleep(0.05)
        return events[0]
    finally:
        client.disconnect()


def every_route(server, payment):
    """Return {route: (seconds, answer)}, each route called at once in parallel."""
    notice = json.dumps({"bank_payment_id": payment["bank_payment_id"],
                         "value": payment["value"]}).encode()
    calls = {
        "create": lambda: raw(server, "/payments/pix", "POST", b'{"value": 10}'),
        "status": lambda: raw(server, f"/payments/pix/{payment['id']}/status"),
        "page": lambda: page(server, payment),
        "webhook": lambda: raw(server, "/payments/pix/confirmation", "POST", notice),
        "health": lambda: raw(server, "/health"),
        "socket.io connect": lambda: socket_connect(server, payment),
    }
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {name: pool.submit(timed, fn) for name, fn in calls.items()}
        return {name: future.result() for name, future in futures.items()}


def assert_down_answers(answers):
    """Every route answered within the contract's 10 s, and said the database is down."""
    slow = {name: round(seconds, 1) for name, (seconds, _) in answers.items()
            if seconds >= ANSWER_WITHIN_S}
    assert not slow, f"routes that took 10 s or more: {slow}"
    for name in ("create", "status", "webhook"):
        status, retry_after, body = answers[name][1]
        assert (status, retry_after) == (503, "5"), (name, answers[name])
        assert json.loads(body) == {"message": UNAVAILABLE}, name
    status, content_type, retry_after = answers["page"][1]
    assert (status, retry_after) == (503, "5") and content_type.startswith("text/html")
    status, retry_after, body = answers["health"][1]
    assert (status, retry_after) == (503, "5")
    assert json.loads(body)["database"] == "unavailable"
    refused = answers["socket.io connect"][1]
    assert isinstance(refused, socketio.exceptions.ConnectionError), refused


def assert_recovers(server, payment):
    """Without a restart, every route answers 2xx again, and the notice applies."""
    deadline = time.monotonic() + RECOVERED_WITHIN_S
    while True:
        answers = every_route(server, payment)
        codes = {name: (result[0] if isinstance(result, tuple) else type(result).__name__)
                 for name, (_, result) in answers.items()}
        if all(code in (200, 201) for name, code in codes.items() if name != "socket.io connect") \
                and isinstance(answers["socket.io connect"][1], dict):
            break
        assert time.monotonic() < deadline, f"not recovered by itself: {codes}"
        time.sleep(0.5)
    assert codes["create"] == 201 and codes["webhook"] == 200
    assert call(server.url + f"/payments/pix/{payment['id']}/status")[1]["status"] == "paid"


def test_a_silent_database_gets_503_within_10_s_on_every_route_and_recovery_by_itself(served):
    server, proxy = served
    payment = create(server.url, 10)
    socket_connect(server, payment)  # the pool holds connections now, as in service
    proxy.black_hole()
    try:
        answers = every_route(server, payment)
    finally:
        proxy.forward()

    assert_down_answers(answers)
    assert_recovers(server, payment)


def test_a_refused_database_gets_503_at_once_and_recovery_by_itself(served):
    server, proxy = served
    payment = create(server.url, 20)
    proxy.refuse()
    try:
        answers = every_route(server, payment)
    finally:
        proxy.forward()

    assert_down_answers(answers)
    assert max(seconds for seconds, _ in answers.values()) < 3  # nothing to wait for
    assert_recovers(server, payment)
    assert notify(server.url, payment)[0] == 200  # the same notice again changes nothing
