"""Redis silent behind a proxy: charges, notices and /health still answer within seconds."""

import time

from tests.backends import own_redis  # noqa: F401  (fixture)
from tests.faults.proxy import FaultProxy
from tests.live import LiveServer, call, create, notify

#: A silent Redis may cost a request its timeouts (a second each), never a hang.
ANSWER_WITHIN_S = 5


def timed(fn):
    started = time.monotonic()
    result = fn()
    return time.monotonic() - started, result


def test_a_silent_redis_slows_nothing_past_seconds_and_health_says_degraded(
        tmp_path, own_redis):  # noqa: F811
    with FaultProxy(own_redis.port) as proxy:
        queue = f"redis://127.0.0.1:{proxy.port}/0"  # the bus and the rate limiter's counters
        with LiveServer(tmp_path, env={"SOCKETIO_MESSAGE_QUEUE": queue}) as server:
            payment = create(server.url)
            proxy.black_hole()
            try:
                answers = {
                    "create": timed(lambda: call(server.url + "/payments/pix", "POST",
                                                 {"value": 3})),
                    "webhook": timed(lambda: notify(server.url, payment)),
                    "health": timed(lambda: call(server.url + "/health")),
                }
            finally:
                proxy.forward()

            slow = {name: round(seconds, 1) for name, (seconds, _) in answers.items()
                    if seconds >= ANSWER_WITHIN_S}
            assert not slow, f"answers that waited on a silent Redis: {slow}"
            assert answers["create"][1][0] == 201
            assert answers["webhook"][1][0] == 200
            assert answers["webhook"][1][1]["payment"]["status"] == "paid"
            code, report = answers["health"][1]
            assert (code, report["status"], report["message_queue"]) == (
                200, "degraded", "unavailable")
            assert call(server.url + "/health")[1]["status"] == "ok"  # back by itself
