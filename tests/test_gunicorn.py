"""The documented gunicorn alternative: threading mode, one worker, WebSocket (simple-websocket)."""

import sys

from tests.backends import redis_url  # noqa: F401  (fixture)
from tests.multiprocess import Page, assert_hears, create, notify, servers

GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "100",
            "--bind", "127.0.0.1:{port}", "--no-control-socket",
            "wsgi:app"]  # format()ted: {port}


def test_gunicorn_processes_share_the_bus_over_websocket(tmp_path, redis_url):  # noqa: F811
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite'}",
           "SOCKETIO_MESSAGE_QUEUE": redis_url}
    with servers(tmp_path, 2, env, argv=GUNICORN) as (a, b):
        payment = create(a.url)
        page = Page().connect(a.url, payment["id"], transports=["websocket"])
        try:
            assert page.next_event()["status"] == "pending"

            status, _ = notify(b.url, payment)

            assert status == 200
            assert_hears(page, payment, "paid", "on A from gunicorn B")
        finally:
            page.close()
