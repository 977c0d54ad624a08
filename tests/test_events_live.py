"""Events between real processes: ``python app.py`` servers (eventlet) and a local endpoint.

A black-holed URL beside a live one, an endpoint down across a restart, a
server killed with SIGKILL in the middle of a burst, two servers on one
PostgreSQL: every committed event reaches every URL, at least once.
"""

import sqlite3
import threading
import time
from contextlib import ExitStack

import pytest

from tests.backends import postgres_url  # noqa: F401  (fixture)
from tests.live import LiveServer, call, create, free_port, notify
from tests.receiver import BlackHole, Receiver

SECRET = "whsec-live-0123456789abcdef"


def hooks(*urls: str, retry: str = "1", **more: str) -> dict[str, str]:
    return {"MERCHANT_WEBHOOK_URLS": ",".join(urls), "MERCHANT_WEBHOOK_SECRET": SECRET,
            "MERCHANT_WEBHOOK_RETRY_SECONDS": retry, **more}


def sqlite_event_ids(tmp_path) -> set[str]:
    with sqlite3.connect(tmp_path / "live.sqlite") as connection:
        return {row[0] for row in connection.execute("SELECT id FROM events")}


def timed(function, *args):
    started = time.monotonic()
    result = function(*args)
    return result, time.monotonic() - started


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_black_holed_url_does_not_slow_the_other(tmp_path):
    with BlackHole() as hole, Receiver() as receiver, \
            LiveServer(tmp_path, hooks(hole.url, receiver.url, retry="3600")) as server:
        started = time.monotonic()
        for _ in range(5):
            payment = create(server.url)
            assert notify(server.url, payment)[0] == 200
        assert wait_until(lambda: len(receiver.received) >= 10, 5), server.log()
        took = time.monotonic() - started
        assert took < 5  # the black hole's sends wait 10 s each for an answer that never comes
        assert sorted(e["type"] for e in receiver.events()) == (
            ["payment.created"] * 5 + ["payment.paid"] * 5)
        assert set(receiver.ids()) == sqlite_event_ids(tmp_path)
        health = call(server.url + "/health")
        assert health[0] == 200 and health[1]["status"] == "ok"
        # the black hole's, once the last sends to the receiver are recorded
        assert wait_until(lambda: call(server.url + "/health")[1]["events_waiting"] == 10, 2)


def test_an_endpoint_down_loses_nothing_and_nothing_waits_for_it_across_a_restart(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/payments"
    settings = hooks(url, retry=",".join(["1"] * 30))
    with LiveServer(tmp_path, settings) as server:
        for _ in range(3):
            payment, took = timed(create, server.url)
            assert took < 1, took  # answered at once: the endpoint is not asked
            (status, _), took = timed(notify, server.url, payment)
            assert status == 200 and took < 1, took
        time.sleep(1.5)  # the relay has tried and failed
        status, health = call(server.url + "/health")
        assert (status, health["status"], health["events_waiting"]) == (200, "ok", 6)
    # The app is stopped and started again while the endpoint is still down.
    with LiveServer(tmp_path, settings, name="again") as server:
        assert call(server.url + "/health")[1]["events_waiting"] == 6
        with Receiver(port=port) as receiver:
            assert wait_until(lambda: len(set(receiver.ids())) >= 6, 15), server.log()
            assert set(receiver.ids()) == sqlite_event_ids(tmp_path)
            assert wait_until(lambda: call(server.url + "/health")[1]["events_waiting"] == 0, 5)


def test_a_server_killed_in_the_middle_of_a_burst_loses_no_event(tmp_path):
    with Receiver(delay=0.02) as receiver:
        settings = hooks(receiver.url, EVENTS_LEASE_SECONDS="2")
        server = LiveServer(tmp_path, settings).start()
        errors: list[BaseException] = []
        created = []

        def burst(count):
            for _ in range(count):
                try:
                    payment = create(server.url)
                    created.append(payment)
                    notify(server.url, payment)
                except Exception as exc:  # the server was killed under this request
                    errors.append(exc)
                    return

        thread = threading.Thread(target=burst, args=(200,))
        thread.start()
        assert wait_until(lambda: len(receiver.received) >= 20, 20)
        server.process.kill()  # SIGKILL: nothing recorded after this
        server.process.wait()
        thread.join(timeout=30)
        before = len(created)
        assert before < 200  # it really was in the middle
        server = LiveServer(tmp_path, settings, name="restarted").start()
        try:
            burst(10)
            committed = sqlite_event_ids(tmp_path)
            assert wait_until(lambda: committed <= set(receiver.ids()), 20), server.log()
        finally:
            server.stop()
    received = receiver.ids()
    assert set(received) == committed  # every committed event, and no other
    duplicates = len(received) - len(set(received))
    assert duplicates <= 20  # at least once: only what was in flight when it died came twice


def test_two_servers_on_postgresql_deliver_each_event_once_per_url(tmp_path, postgres_url):  # noqa: F811
    import psycopg

    with ExitStack() as stack:
        first = stack.enter_context(Receiver())
        second = stack.enter_context(Receiver())
        settings = {"DATABASE_URL": postgres_url, **hooks(first.url, second.url)}
        one = stack.enter_context(LiveServer(tmp_path, settings, name="one"))
        two = stack.enter_context(LiveServer(tmp_path, settings, name="two"))

        def burst(server, other):
            for _ in range(15):
                payment = create(server.url)
                assert notify(other.url, payment)[0] == 200

        threads = [threading.Thread(target=burst, args=pair) for pair in ((one, two), (two, one))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with psycopg.connect(postgres_url.replace("+psycopg", "")) as connection:
            ids = {row[0] for row in connection.execute("SELECT id FROM events")}
        assert len(ids) == 60
        for receiver in (first, second):
            assert wait_until(lambda r=receiver: len(r.received) >= 60, 20)
        time.sleep(1.5)  # a second relay round of both processes: nothing more comes
        for receiver in (first, second):
            assert sorted(receiver.ids()) == sorted(ids)  # each once, none twice
        with psycopg.connect(postgres_url.replace("+psycopg", "")) as connection:
            assert connection.execute("SELECT status, count(*) FROM event_deliveries "
                                      "GROUP BY status").fetchall() == [("delivered", 120)]


@pytest.mark.parametrize("unused", [None])
def test_health_never_fails_for_the_outbox(tmp_path, unused):
    url = f"http://127.0.0.1:{free_port()}/down"
    with LiveServer(tmp_path, hooks(url, retry="3600")) as server:
        create(server.url)
        status, body = call(server.url + "/health")
        assert (status, body["status"]) == (200, "ok")
        assert body["events_waiting"] == 1
