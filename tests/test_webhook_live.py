"""Against a real ``python app.py``: 50 identical notices at once, and the bank simulator CLI."""

import json
import sqlite3
import threading
import time

import pytest
import socketio
import sqlalchemy

from payments import create_app
from payments.bank.signature import sign
from payments.extensions import db
from tests.backends import postgres_url  # noqa: F401  (fixture)
from tests.live import LiveServer, call, create, free_port, post_raw

SECRET = "live webhook secret"
PARALLEL = 50


class Page:
    """A Socket.IO client connected to one payment, as the customer's page is."""

    def __init__(self, url: str, payment_id: str):
        self.events: list[dict] = []
        self.client = socketio.Client(reconnection=False)
        self.client.on("payment_status", self.events.append)
        self.client.connect(url, auth={"payment_id": payment_id}, transports=["websocket"],
                            wait_timeout=30)

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self.client.disconnect()


def fire_at_once(urls: list[str], path: str, body: bytes, headers: dict) -> list[int | str]:
    """POST the same request from PARALLEL threads released together, spread over ``urls``."""
    statuses: list[int | str] = [0] * PARALLEL
    barrier = threading.Barrier(PARALLEL)

    def worker(index: int) -> None:
        barrier.wait(timeout=60)
        try:
            statuses[index] = post_raw(urls[index % len(urls)], path, body, headers)
        except Exception as exc:  # recorded, so the assertion shows what went wrong
            statuses[index] = repr(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def bodies(payment: dict) -> dict[str, bytes]:
    pix = {"endToEndId": "E12345678202611231005abcdef12345", "txid": payment["txid"],
           "valor": "110.00", "horario": "2026-11-23T10:05:00.000Z"}
    return {
        "/payments/pix/confirmation": json.dumps(
            {"bank_payment_id": payment["bank_payment_id"], "value": "110.00"}).encode(),
        "/payments/pix/confirmation/pix": json.dumps({"pix": [pix]}).encode(),
    }


@pytest.mark.parametrize("route", ["/payments/pix/confirmation", "/payments/pix/confirmation/pix"])
def test_50_identical_notices_at_once_change_the_charge_once(tmp_path, route):
    with LiveServer(tmp_path, env={"PIX_WEBHOOK_SECRET": SECRET}) as server:
        payment = create(server.url, "110.00")
        page = Page(server.url, payment["id"])
        try:
            page.wait_for(1, timeout=30)  # the catch-up: pending
            body = bodies(payment)[route]
            headers = {"Content-Type": "application/json",
                       "X-Webhook-Signature": sign(SECRET, body)}

            statuses = fire_at_once([server.url], route, body, headers)

            page.wait_for(2, timeout=30)
            time.sleep(3)  # generously: a second event would have arrived by now
            events = [e["status"] for e in page.events]
        finally:
            page.close()
        status = call(f"{server.url}/payments/pix/{payment['id']}/status")[1]["status"]
        log = server.log()

    assert statuses == [200] * PARALLEL
    assert events == ["pending", "paid"]
    assert status == "paid"
    with sqlite3.connect(tmp_path / "live.sqlite") as database:
        rows = database.execute(
            "SELECT status_code, changes, signature_ok FROM webhook_deliveries").fetchall()
    assert len(rows) == PARALLEL
    assert {(code, ok) for code, _, ok in rows} == {(200, 1)}
    assert sum(changes for _, changes, _ in rows) == 1
    assert "database is locked" not in log
    assert "Traceback" not in log


def test_50_identical_notices_through_two_processes_change_the_charge_once(tmp_path):
    """Two servers on one database: the conditional update holds between processes too."""
    env = {"PIX_WEBHOOK_SECRET": SECRET}
    with LiveServer(tmp_path, env=env, name="a") as a, LiveServer(tmp_path, env=env, name="b") as b:
        payment = create(a.url, "110.00")
        body = bodies(payment)["/payments/pix/confirmation"]
        headers = {"Content-Type": "application/json", "X-Webhook-Signature": sign(SECRET, body)}

        statuses = fire_at_once([a.url, b.url], "/payments/pix/confirmation", body, headers)

        status = call(f"{b.url}/payments/pix/{payment['id']}/status")[1]["status"]
        logs = a.log() + b.log()

    assert statuses == [200] * PARALLEL
    assert status == "paid"
    with sqlite3.connect(tmp_path / "live.sqlite") as database:
        [(count, changes)] = database.execute(
            "SELECT count(*), sum(changes) FROM webhook_deliveries WHERE status_code = 200"
        ).fetchall()
    assert (count, changes) == (PARALLEL, 1)
    assert "Traceback" not in logs


@pytest.mark.parametrize("route", ["/payments/pix/confirmation", "/payments/pix/confirmation/pix"])
def test_50_identical_notices_through_two_processes_on_postgresql(tmp_path, request, route):
    """The same on PostgreSQL, where requests of two processes really overlap."""
    database_url = request.getfixturevalue("postgres_url")
    env = {"PIX_WEBHOOK_SECRET": SECRET, "DATABASE_URL": database_url}
    with LiveServer(tmp_path, env=env, name="a") as a, LiveServer(tmp_path, env=env, name="b") as b:
        payment = create(a.url, "110.00")
        body = bodies(payment)[route]
        headers = {"Content-Type": "application/json", "X-Webhook-Signature": sign(SECRET, body)}

        statuses = fire_at_once([a.url, b.url], route, body, headers)

        status = call(f"{b.url}/payments/pix/{payment['id']}/status")[1]["status"]
        logs = a.log() + b.log()

    assert statuses == [200] * PARALLEL
    assert status == "paid"
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            count, changes = conn.execute(sqlalchemy.text(
                "SELECT count(*), sum(changes) FROM webhook_deliveries WHERE status_code = 200"
            )).one()
            receipts = conn.execute(sqlalchemy.text("SELECT count(*) FROM pix_receipts")).scalar()
    finally:
        engine.dispose()
    assert (count, changes) == (PARALLEL, 1)
    assert receipts == (1 if route.endswith("/pix") else 0)
    assert "Traceback" not in logs


# The bank simulator: flask bank pay, against a running server.

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("bank"), env={"PIX_WEBHOOK_SECRET": SECRET}) as live:
        yield live


def cli_app(tmp_path, database_url, secret=SECRET):
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "PIX_WEBHOOK_SECRET": secret,
                       "SECRET_KEY": "cli"}, instance_path=str(tmp_path))


@pytest.fixture
def bank(server, tmp_path):
    """Return a runner of ``flask bank ...`` on an app sharing the server's database."""
    apps = []

    def run(*args, secret=SECRET, database_url=server.env["DATABASE_URL"]):
        app = cli_app(tmp_path, database_url, secret)
        apps.append(app)
        return app.test_cli_runner().invoke(args=["bank", *args])

    yield run
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def status_of(server, payment) -> str:
    return call(f"{server.url}/payments/pix/{payment['id']}/status")[1]["status"]


def test_bank_pay_then_refund(server, bank):
    payment = create(server.url, "1500.50")

    paid = bank("pay", payment["id"], "--url", server.url)
    refunded = bank("pay", payment["id"], "--refund", "--url", server.url)

    assert paid.exit_code == 0, paid.output
    assert paid.output.startswith("200 ")
    assert json.loads(paid.output[4:])["message"] == "The payment has been confirmed"
    assert refunded.exit_code == 0, refunded.output
    assert status_of(server, payment) == "refunded"


def test_bank_pay_takes_an_id_that_begins_with_a_dash(server, bank):
    """Ids are URL-safe base64: one in 64 begins with "-", which is no option."""
    payment = create(server.url, 10)
    dashed = "-" + payment["id"][1:]
    with sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE payments SET public_id = ? WHERE public_id = ?",
                     (dashed, payment["id"]))

    result = bank("pay", dashed, "--url", server.url)

    assert result.exit_code == 0, result.output
    assert json.loads(result.output[4:])["payment"]["status"] == "paid"


def test_bank_refuse(server, bank):
    payment = create(server.url, 10)

    result = bank("pay", payment["id"], "--refuse", "--url", server.url)

    assert result.exit_code == 0, result.output
    assert status_of(server, payment) == "refused"


def test_bank_pay_refused_by_the_rules_exits_1(server, bank):
    payment = create(server.url, 10)
    bank("pay", payment["id"], "--refuse", "--url", server.url)

    result = bank("pay", payment["id"], "--url", server.url)

    assert result.exit_code == 1
    assert result.output.startswith("409 ")


def test_bank_with_the_wrong_secret_gets_401(server, bank):
    payment = create(server.url, 10)

    result = bank("pay", payment["id"], "--url", server.url, secret="not the server's")

    assert result.exit_code == 1
    assert result.output.startswith("401 ")
    assert status_of(server, payment) == "pending"


def test_bank_reads_a_charge_it_does_not_store_from_the_server(server, bank, tmp_path):
    payment = create(server.url, "12.34")

    result = bank("pay", payment["id"], "--url", server.url,
                  database_url=f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")

    assert result.exit_code == 0, result.output
    assert status_of(server, payment) == "paid"


def test_bank_pay_unknown_payment_exits_1(server, bank):
    result = bank("pay", "AAAAAAAAAAAAAAAAAAAAAA", "--url", server.url)

    assert result.exit_code == 1
    assert "not found" in result.output


def test_bank_pay_without_a_server_exits_1(server, bank):
    payment = create(server.url, 10)

    result = bank("pay", payment["id"], "--url", f"http://127.0.0.1:{free_port()}")

    assert result.exit_code == 1
    assert "Could not reach" in result.output
