"""Redis goes away and comes back: charges and notices keep working, /health says degraded,
events flow again within 10 s of Redis's return."""

import time

from tests.backends import own_redis  # noqa: F401  (fixture)
from tests.multiprocess import Page, at_once, call, create, notify, servers

#: How long Redis stays down: long enough that python-socketio's own back-off (1, 2, 4, 8 s...)
#: would wait 16 s more before subscribing again.
DOWN_SECONDS = 15
#: The contract: events flow again within 10 s of Redis coming back.
EVENTS_AGAIN_WITHIN_S = 10


def test_redis_loss_degrades_but_payments_work_and_events_resume_within_10_s(
        tmp_path, own_redis):  # noqa: F811
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite'}",
           "SOCKETIO_MESSAGE_QUEUE": own_redis.url}  # the rate limiter's counters live there too
    with servers(tmp_path, 2, env) as (a, b):
        missed = create(a.url)
        page = Page().connect(a.url, missed["id"])
        local_page = Page().connect(b.url, missed["id"])
        try:
            page.next_event()  # the catch-up
            local_page.next_event()

            own_redis.stop()
            stopped = time.monotonic()
            # At once: requests in flight when the limiter first finds Redis gone were 500.
            created = at_once(*[lambda url=server.url: call(url + "/payments/pix", "POST",
                                                            {"value": 12})
                                for server in (a, b) for _ in range(6)])
            status, body = notify(b.url, missed)
            health = [call(server.url + "/health") for server in (a, b)]

            assert [code for code, _ in created] == [201] * 12
            assert (status, body["payment"]["status"]) == (200, "paid")
            assert local_page.next_event()["status"] == "paid"  # same process: no bus needed
            assert call(a.url + f"/payments/pix/{missed['id']}/status")[1]["status"] == "paid"
            for code, report in health:
                assert (code, report["status"]) == (200, "degraded")
                assert report["message_queue"] == "unavailable"
                assert report["database"] == "ok"
            time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopped)))
        finally:
            page.close()
            local_page.close()

        own_redis.start()
        back = time.monotonic()
        # A new page on A each time, its charge confirmed on B: the first event through the
        # bus marks the subscriber's return.
        resumed = None
        while resumed is None and time.monotonic() - back < EVENTS_AGAIN_WITHIN_S:
            payment = create(a.url)
            later = Page().connect(a.url, payment["id"])
            try:
                later.next_event()
                notify(b.url, payment)
                resumed = later.next_event(timeout=1)
            finally:
                later.close()
        took = time.monotonic() - back
        assert resumed is not None and resumed["status"] == "paid", (
            f"no event crossed the bus within {EVENTS_AGAIN_WITHIN_S} s of Redis's return")
        assert took < EVENTS_AGAIN_WITHIN_S
        for server in (a, b):
            assert call(server.url + "/health")[1]["status"] == "ok"

        reconnected = Page().connect(a.url, missed["id"])
        try:
            caught_up = reconnected.next_event()
        finally:
            reconnected.close()
        assert caught_up["status"] == "paid"
