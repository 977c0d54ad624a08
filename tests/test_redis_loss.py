"""Redis goes away and comes back: webhooks still commit, /health says so, events resume."""

import time

from tests.backends import own_redis  # noqa: F401  (fixture)
from tests.multiprocess import Page, call, create, notify, servers


def test_webhooks_survive_redis_loss_and_events_resume(tmp_path, own_redis):  # noqa: F811
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite'}",
           "SOCKETIO_MESSAGE_QUEUE": own_redis.url}
    with servers(tmp_path, 2, env) as (a, b):
        missed = create(a.url)
        page = Page().connect(a.url, missed["id"])
        local_page = Page().connect(b.url, missed["id"])
        try:
            page.next_event()  # the catch-up
            local_page.next_event()

            own_redis.stop()
            status, body = notify(b.url, missed)
            health = [call(server.url + "/health") for server in (a, b)]

            assert (status, body["payment"]["status"]) == (200, "paid")
            assert local_page.next_event()["status"] == "paid"  # same process: no bus needed
            assert call(a.url + f"/payments/pix/{missed['id']}/status")[1]["status"] == "paid"
            for code, report in health:
                assert code == 503
                assert report["message_queue"] == "unavailable"
                assert report["database"] == "ok"

            own_redis.start()
            assert call(a.url + "/health")[0] == 200
            # The subscriber reconnects on its own back-off: notices keep coming until one
            # reaches the page on A through the bus again.
            resumed = None
            deadline = time.monotonic() + 90
            while resumed is None and time.monotonic() < deadline:
                payment = create(a.url)
                later = Page().connect(a.url, payment["id"])
                try:
                    later.next_event()
                    notify(b.url, payment)
                    resumed = later.next_event(timeout=5)
                finally:
                    later.close()
            assert resumed is not None and resumed["status"] == "paid", "events never resumed"
        finally:
            page.close()
            local_page.close()

        reconnected = Page().connect(a.url, missed["id"])
        try:
            caught_up = reconnected.next_event()
        finally:
            reconnected.close()
        assert caught_up["status"] == "paid"
