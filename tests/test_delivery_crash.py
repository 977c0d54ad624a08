"""A server killed in a burst of bank notices: at the next start every delivery has a result,
and the delivery log agrees with the payments (no confirmed payment lost)."""

import http.client
import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

from payments.bank.deliveries import INTERRUPTED
from payments.bank.signature import HEADER, sign
from tests.live import LiveServer, call, create

SECRET = "the bank's secret for the crash test"
CHARGES = 40
KILL_AFTER = 8  # answers: the kill lands while the rest are in flight
ATTEMPTS = 3


def post_signed(port: int, payment: dict) -> int | None:
    """Post the bank's signed approval; return the status, or None if no answer came."""
    body = json.dumps(
        {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]}
    ).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            "/payments/pix/confirmation",
            body,
            {"Content-Type": "application/json", HEADER: sign(SECRET, body)},
        )
        return connection.getresponse().status
    except OSError:  # reset, refused or cut: the bank got no answer
        return None
    finally:
        connection.close()


def burst_and_kill(server: LiveServer, payments: list[dict]) -> dict[str, int | None]:
    """Post every notice at once, 16 at a time; SIGKILL the server after ``KILL_AFTER`` answers."""
    answered = threading.Semaphore(0)
    answers: dict[str, int | None] = {}

    def one(payment):
        status = post_signed(server.port, payment)
        answers[payment["id"]] = status
        if status is not None:
            answered.release()

    with ThreadPoolExecutor(16) as pool:
        for payment in payments:
            pool.submit(one, payment)
        for _ in range(KILL_AFTER):
            assert answered.acquire(timeout=30), "the server stopped answering before the kill"
        server.process.kill()
        server.process.wait(timeout=10)
    return answers


def deliveries(database: str) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT status_code, result, changes, body FROM webhook_deliveries ORDER BY id"
        ).fetchall()


def test_a_kill_mid_burst_leaves_every_delivery_with_a_result_and_loses_no_payment(tmp_path):
    database = tmp_path / "live.sqlite"
    env = {"PIX_WEBHOOK_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{database}"}
    interrupted_seen = 0
    for attempt in range(ATTEMPTS):
        with LiveServer(tmp_path, env=env, name=f"before-{attempt}") as server:
            payments = [create(server.url) for _ in range(CHARGES)]
            answers = burst_and_kill(server, payments)

        with LiveServer(tmp_path, env=env, name=f"after-{attempt}") as server:
            rows = deliveries(str(database))
            assert [row for row in rows if row[1] is None] == []  # every row has a result
            interrupted_seen += sum(row[1] == INTERRUPTED for row in rows)
            for payment in payments:  # no confirmed payment lost
                if answers[payment["id"]] == 200:
                    status = call(f"{server.url}/payments/pix/{payment['id']}/status")[1]
                    assert status["status"] == "paid", payment
            for payment in payments:  # the bank sends again what got no answer
                if answers[payment["id"]] != 200:
                    assert post_signed(server.port, payment) == 200
            statuses = [
                call(f"{server.url}/payments/pix/{p['id']}/status")[1]["status"] for p in payments
            ]
            rows = deliveries(str(database))
        assert statuses == ["paid"] * CHARGES
        for payment in payments:  # the log says each was confirmed once, or may have been
            own = [row for row in rows if payment["bank_payment_id"].encode() in row[3]]
            changed = sum(row[2] or 0 for row in own)
            assert changed == 1 or (changed == 0 and any(r[1] == INTERRUPTED for r in own)), own
            assert all(row[0] == 200 or row[1] == INTERRUPTED for row in own), own
        if interrupted_seen:
            break
    assert interrupted_seen, f"no kill of {ATTEMPTS} landed while a delivery was handled"
