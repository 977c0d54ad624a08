"""A hostile client against a real ``python app.py``: held connections, trickled heads,
stalled and chunked bodies, departed event streams (payments/web/connections.py).

127.0.0.2 plays the attacker (all of 127.0.0.0/8 is this machine's own); the
bank and the load balancer come from 127.0.0.1. Every count and wait is bounded.
"""

import http.client
import json
import select
import socket
import sys
import time

import pytest

from payments.bank.signature import sign
from payments.patterns import MAX_WEBHOOK_BODY
from tests.live import LiveServer, create, post_raw

SECRET = "connections test secret"
ATTACKER = "127.0.0.2"
#: A trusted proxy (nginx): every client behind it shares its address.
PROXY = "127.0.0.3"
#: The cap of the servers under attack, and how many connections the attacker tries.
CAP = 40
ATTEMPTS = 600
#: Head and body timeouts of the server that measures them, in seconds.
TIMEOUT = 1.5


def connect(port: int, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    """Return a TCP connection to the server from ``source``."""
    return socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    )


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Tell whether the server closes ``sock`` within ``within`` seconds (reading what it sends)."""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def answer(sock: socket.socket, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Read one HTTP answer from ``sock``: (status, lower-cased headers, body)."""
    sock.settimeout(timeout)
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def notice(payment: dict) -> tuple[bytes, dict]:
    """Return the bank's signed approval of ``payment``: (body, headers)."""
    body = json.dumps(
        {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]}
    ).encode()
    return body, {"Content-Type": "application/json", "X-Webhook-Signature": sign(SECRET, body)}


def timed(fn):
    """Return (result of ``fn()``, seconds it took)."""
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


def get_status(port: int, path: str, source: str = "127.0.0.1", timeout: float = 10) -> int:
    """GET ``path`` from ``source`` on a new connection; return the status."""
    sock = connect(port, source, timeout)
    try:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        return answer(sock, timeout)[0]
    finally:
        sock.close()


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """A server holding each address to CAP connections, heads allowed 60 s (held meanwhile)."""
    workdir = tmp_path_factory.mktemp("capped")
    with LiveServer(
        workdir,
        env={
            "MAX_CONNECTIONS_PER_ADDRESS": str(CAP),
            "REQUEST_HEADER_TIMEOUT": "60",
            "PIX_WEBHOOK_SECRET": SECRET,
            "SSE_KEEPALIVE_SECONDS": "1",
            "TRUSTED_PROXIES": PROXY,
        },
    ) as server:
        yield server


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A server whose heads and bodies have TIMEOUT seconds, with its access log on."""
    workdir = tmp_path_factory.mktemp("strict")
    with LiveServer(
        workdir,
        env={
            "REQUEST_HEADER_TIMEOUT": str(TIMEOUT),
            "REQUEST_BODY_TIMEOUT": str(TIMEOUT),
            "PIX_WEBHOOK_SECRET": SECRET,
            "ACCESS_LOG": "1",
            "SSE_KEEPALIVE_SECONDS": "1",
        },
    ) as server:
        yield server


def test_an_address_holding_its_cap_of_half_sent_requests_leaves_the_bank_served(capped):
    payment = create(capped.url)
    held: list[socket.socket] = []
    try:
        for _ in range(ATTEMPTS):  # as many half-sent heads as the attacker can open
            sock = connect(capped.port, ATTACKER)
            held.append(sock)
            try:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            except OSError:
                pass  # already closed by the server
        # Past the cap each one was closed at once, before anything was read: at EOF well
        # before the head's 60 s (a loaded machine may take a moment to go through them).
        closed: list[socket.socket] = []
        deadline = time.monotonic() + 10
        while len(closed) < ATTEMPTS - CAP and time.monotonic() < deadline:
            waiting = [sock for sock in held if sock not in closed]
            readable, _, _ = select.select(waiting, [], [], 0.2)
            closed += [sock for sock in readable if closed_by_server(sock, 0.5)]
        time.sleep(0.5)
        readable, _, _ = select.select([s for s in held if s not in closed], [], [], 0)
        assert len(held) == ATTEMPTS
        assert (len(closed), len(readable)) == (ATTEMPTS - CAP, 0)
        still_open = [sock for sock in held if sock not in closed]
        for sock in still_open:  # one more header line, slowly: still held, still waiting
            sock.sendall(b"X-Slow: 1\r\n")
        assert not any(closed_by_server(sock, 0.01) for sock in still_open)

        # Meanwhile the bank's webhook and the load balancer's /health answer at once (the
        # bound is generous for a loaded test machine).
        body, headers = notice(payment)
        status, seconds = timed(
            lambda: post_raw(capped.url, "/payments/pix/confirmation", body, headers, timeout=10)
        )
        assert (status, seconds < 3) == (200, True)
        status, seconds = timed(lambda: get_status(capped.port, "/health"))
        assert (status, seconds < 3) == (200, True)
        # The attacker's next connection is closed before any answer.
        extra = connect(capped.port, ATTACKER)
        held.append(extra)
        assert closed_by_server(extra, 2)
    finally:
        for sock in held:
            sock.close()
    # Its connections gone, the address is served again.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if get_status(capped.port, "/health", ATTACKER, timeout=2) == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        pytest.fail("the attacker's address was not served again after it let go")
    assert "refused connections from 127.0.0.2" in capped.log()
    assert "Traceback" not in capped.log()


def test_a_trusted_proxy_is_not_held_to_the_per_address_cap(capped):
    held = [connect(capped.port, PROXY) for _ in range(CAP + 10)]
    try:
        for sock in held:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.5)
        assert not any(closed_by_server(sock, 0.01) for sock in held)
        assert get_status(capped.port, "/health", PROXY) == 200
    finally:
        for sock in held:
            sock.close()


def test_a_head_trickled_one_line_at_a_time_is_closed_after_the_header_timeout(strict):
    sock = connect(strict.port)
    try:
        start = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        for n in range(20):  # one header line every 0.4 s: it never stops coming
            sock.settimeout(0.4)
            try:
                if not sock.recv(1):
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                break
            try:
                sock.sendall(f"X-Slow-{n}: 1\r\n".encode())
            except OSError:
                break
        else:
            pytest.fail("a trickled head was not closed within 8 s")
        assert TIMEOUT - 0.2 <= time.monotonic() - start <= TIMEOUT + 3
    finally:
        sock.close()


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(strict):
    sock = connect(strict.port)
    try:
        start = time.monotonic()
        assert closed_by_server(sock, TIMEOUT + 3)
        assert time.monotonic() - start >= TIMEOUT - 0.2
    finally:
        sock.close()


def test_a_complete_head_may_be_answered_later_than_the_header_timeout(strict):
    # The deadline is on the head; a long poll held longer than it is answered.
    payment = create(strict.url)
    status, seconds = timed(
        lambda: get_status(
            strict.port, f"/payments/pix/{payment['id']}/status?wait=3&status=pending"
        )
    )
    assert status == 200
    assert seconds >= 2.5


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_that_stalls_is_answered_408_and_its_connection_closed(strict, framing):
    payment = create(strict.url)
    body, headers = notice(payment)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    size = (
        f"Content-Length: {len(body)}\r\n"
        if framing == "content-length"
        else "Transfer-Encoding: chunked\r\n"
    )
    sock = connect(strict.port)
    try:
        sock.sendall(
            f"POST /payments/pix/confirmation HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
            f"{size}\r\n".encode()
        )
        sock.sendall(
            body[:10] if framing == "content-length" else f"{len(body):x}\r\n".encode() + body[:10]
        )
        start = time.monotonic()
        status, _, text = answer(sock, TIMEOUT + 5)
        waited = time.monotonic() - start
        assert status == 408
        assert json.loads(text) == {"message": "The request body stalled; the connection is closed"}
        assert TIMEOUT - 0.2 <= waited <= TIMEOUT + 3
        assert closed_by_server(sock, 2)
    finally:
        sock.close()
    _, state = http_json(strict, f"/payments/pix/{payment['id']}/status")
    assert state["status"] == "pending"


def http_json(server: LiveServer, path: str) -> tuple[int, dict]:
    """GET ``path``; return (status, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def chunked(body: bytes, pieces: int = 3) -> bytes:
    """Return ``body`` in ``Transfer-Encoding: chunked`` framing, in ``pieces`` chunks."""
    step = max(1, -(-len(body) // pieces))
    framed = b"".join(
        f"{len(part):x}\r\n".encode() + part + b"\r\n"
        for part in (body[i : i + step] for i in range(0, len(body), step))
    )
    return framed + b"0\r\n\r\n"


def test_a_signed_chunked_notice_is_read_and_confirms_the_charge(strict):
    payment = create(strict.url)
    status, result = send_chunked_notice(strict.port, payment)
    assert status == 200, result
    assert result["message"] == "The payment has been confirmed"
    assert http_json(strict, f"/payments/pix/{payment['id']}/status")[1]["status"] == "paid"


def send_chunked_notice(port: int, payment: dict) -> tuple[int, dict]:
    """POST the signed approval of ``payment`` in chunks; return (status, JSON body)."""
    body, headers = notice(payment)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", "/payments/pix/confirmation")
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            connection.putheader(name, value)
        connection.endheaders(chunked(body))
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_under_gunicorn_a_signed_chunked_notice_is_read_too(tmp_path):
    from tests.test_gunicorn import GUNICORN

    with LiveServer(tmp_path, env={"PIX_WEBHOOK_SECRET": SECRET}, argv=GUNICORN) as server:
        payment = create(server.url)
        status, result = send_chunked_notice(server.port, payment)
    assert (status, result["message"]) == (200, "The payment has been confirmed")


def test_a_chunked_body_over_the_webhook_limit_is_413(strict):
    big = b'{"padding": "' + b"x" * MAX_WEBHOOK_BODY + b'"}'
    sock = connect(strict.port)
    try:
        sock.sendall(
            b"POST /payments/pix/confirmation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            sock.sendall(chunked(big, pieces=64))
        except OSError:
            pass  # the server may answer and close before reading it all
        status, _, text = answer(sock)
    finally:
        sock.close()
    assert status == 413
    assert "message" in json.loads(text)


def test_a_page_that_leaves_its_event_stream_is_one_log_line(strict):
    payment = create(strict.url)
    sock = connect(strict.port)
    sock.sendall(
        f"GET /payments/pix/{payment['id']}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    )
    sock.settimeout(10)
    assert b"event: payment_status" in sock.recv(65536)
    sock.close()  # the page is closed; the next keep-alive comment (1 s) finds it gone
    events = f"GET /payments/pix/{payment['id']}/events HTTP/1.1"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lines = [line for line in strict.log().splitlines() if events in line]
        if len(lines) >= 2:  # the departure and the access line
            break
        time.sleep(0.2)
    assert len(lines) == 2, strict.log()
    assert lines[0].startswith(f'127.0.0.1 left before the answer to "{events}" was sent (')
    assert "Traceback" not in strict.log()


def test_without_the_access_log_a_departed_page_logs_nothing(capped):
    payment = create(capped.url)
    sock = connect(capped.port)
    sock.sendall(
        f"GET /payments/pix/{payment['id']}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    )
    sock.settimeout(10)
    assert b"event: payment_status" in sock.recv(65536)
    sock.close()
    time.sleep(3)  # two keep-alive comments: the departure is found
    assert "Traceback" not in capped.log()
    assert payment["id"] not in capped.log()


def test_the_connection_settings_default_to_the_contract(app):
    assert app.config["MAX_CONNECTIONS_PER_ADDRESS"] == 500
    assert app.config["REQUEST_HEADER_TIMEOUT"] == 15
    assert app.config["REQUEST_BODY_TIMEOUT"] == 30


def test_wrong_connection_settings_stop_the_start_one_line_each(tmp_path, monkeypatch):
    from payments import create_app
    from payments.settings import ConfigError

    monkeypatch.setenv("MAX_CONNECTIONS_PER_ADDRESS", "lots")
    monkeypatch.setenv("REQUEST_HEADER_TIMEOUT", "0")
    monkeypatch.setenv("REQUEST_BODY_TIMEOUT", "-5")
    with pytest.raises(ConfigError) as raised:
        create_app({"SECRET_KEY": "test"}, instance_path=str(tmp_path))
    assert str(raised.value).splitlines() == [
        "MAX_CONNECTIONS_PER_ADDRESS must be a whole number from 1 to 1000000, not 'lots'",
        "REQUEST_HEADER_TIMEOUT must be a number of seconds from 0.1 to 3600, not '0'",
        "REQUEST_BODY_TIMEOUT must be a number of seconds from 0.1 to 3600, not '-5'",
    ]


#: ``python app.py`` with the process's limit of open files set to ``FILES``.
FILES = 150
LOW_ULIMIT = [
    sys.executable,
    "-c",
    "import resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FILES}, {FILES})); "
    "sys.argv = ['app.py']; runpy.run_path('app.py', run_name='__main__')",
]


def test_a_server_out_of_file_descriptors_keeps_running_and_recovers(tmp_path):
    # A careless operator's ulimit -n below what the connections need: eventlet's server
    # ended (and the process with it) on the first accept() that failed with EMFILE.
    with LiveServer(tmp_path, argv=LOW_ULIMIT) as server:
        held = []
        try:
            for _ in range(FILES + 50):
                try:
                    held.append(connect(server.port, ATTACKER, timeout=3))
                except OSError:
                    break  # the kernel's backlog is full too
            assert len(held) > FILES  # more than the server could take
            time.sleep(1)
            assert server.process.poll() is None, server.log()
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if get_status(server.port, "/health", timeout=2) == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not serve again:\n" + server.log())
        assert server.process.poll() is None
    log = server.log()
    assert "cannot accept connections: Too many open files" in log
    assert f"the limit of open files (ulimit -n) is {FILES}, below MAX_CONNECTIONS" in log
