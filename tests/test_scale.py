"""Several ``python app.py`` processes on one PostgreSQL database and one Redis bus."""

import threading
import time
from contextlib import ExitStack

import pytest

from tests.backends import postgres_url, redis_url  # noqa: F401  (fixtures)
from tests.multiprocess import Page, assert_hears, at_once, call, create, notify, servers


@pytest.fixture
def start_pair(tmp_path, postgres_url, redis_url):  # noqa: F811
    """Return a function that starts two servers together on an empty PostgreSQL database,
    sharing Redis, with extra ``settings``; they stop at teardown."""
    with ExitStack() as stack:
        yield lambda **settings: stack.enter_context(servers(tmp_path, 2, {
            "DATABASE_URL": postgres_url, "SOCKETIO_MESSAGE_QUEUE": redis_url, **settings}))


@pytest.fixture
def pair(start_pair):
    """Return two servers on one PostgreSQL database and one Redis bus."""
    return start_pair()


def test_webhook_on_one_process_reaches_a_page_on_the_other(pair):
    a, b = pair
    payment = create(a.url)
    page = Page().connect(a.url, payment["id"])
    try:
        assert page.next_event()["status"] == "pending"  # the catch-up on connect

        status, _ = notify(b.url, payment)

        assert status == 200
        assert_hears(page, payment, "paid", "on A from process B")
    finally:
        page.close()


def test_both_processes_report_the_queue_healthy(pair):
    for server in pair:
        assert call(server.url + "/health") == (
            200, {"status": "ok", "database": "ok", "message_queue": "ok",
                  "environment": "sandbox", "events_waiting": 0, "broker": "disabled"})


def test_duplicate_notices_to_two_processes_at_once_change_once(pair):
    a, b = pair
    payments = [create(a.url) for _ in range(5)]
    pages = [Page().connect(a.url, p["id"]) for p in payments]
    try:
        for page in pages:
            page.next_event()  # the catch-up

        for payment in payments:
            answers = at_once(lambda p=payment: notify(a.url, p),
                              lambda p=payment: notify(b.url, p))
            assert [status for status, _ in answers] == [200, 200]
            assert {body["payment"]["status"] for _, body in answers} == {"paid"}

        for page, payment in zip(pages, payments, strict=True):
            first = page.next_event()
            assert (first["id"], first["status"]) == (payment["id"], "paid")
            assert page.next_event(timeout=3) is None, "a duplicate notice emitted twice"
    finally:
        for page in pages:
            page.close()


def test_expiry_noticed_by_two_processes_at_once_is_emitted_once(start_pair):
    a, b = start_pair(PIX_EXPIRATION_SECONDS="2")
    payment = create(a.url)
    page = Page().connect(a.url, payment["id"])
    try:
        assert page.next_event()["status"] == "pending"
        time.sleep(3)  # let the charge expire

        answers = at_once(lambda: notify(a.url, payment), lambda: notify(b.url, payment))

        assert [status for status, _ in answers] == [409, 409]
        assert_hears(page, payment, "expired", "on A")
        assert page.next_event(timeout=3) is None, "the expiry was emitted more than once"
    finally:
        page.close()


def test_a_slow_query_does_not_stall_other_requests(tmp_path, postgres_url):  # noqa: F811
    import psycopg

    with servers(tmp_path, 1, {"DATABASE_URL": postgres_url}) as (server,):
        created = []
        with psycopg.connect(postgres_url.replace("+psycopg", "")) as locker:
            locker.execute("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE")  # held until commit
            blocked = threading.Thread(target=lambda: created.append(create(server.url)))
            blocked.start()
            blocked.join(timeout=2)

            health = call(server.url + "/health", timeout=20)

            still_blocked = blocked.is_alive()
            locker.commit()
        blocked.join(timeout=30)

    assert still_blocked, "the create request was not held by the lock"
    assert health == (200, {"status": "ok", "database": "ok", "message_queue": "disabled",
                            "environment": "sandbox", "events_waiting": 0, "broker": "disabled"})
    assert created and created[0]["status"] == "pending"
