"""Server-Sent Events: the wire format and the stream of one payment's states."""

import json
from collections.abc import Iterator

from payments.realtime.publish import EVENT
from payments.realtime.watchers import Hub

#: Headers of every event stream: never cached, never buffered by a proxy (nginx).
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
#: Comment lines keep idle connections open through proxies and reveal departed clients.
KEEP_ALIVE = ": keep-alive\n\n"
#: How long the browser waits before reconnecting, in milliseconds.
RETRY_MS = 3000


def format_event(payment_object: dict) -> str:
    """Return one ``payment_status`` event carrying ``payment_object``."""
    data = json.dumps(payment_object, separators=(",", ":"))
    return f"event: {EVENT}\ndata: {data}\n\n"


def stream(hub: Hub, first: dict, keep_alive_seconds: float) -> Iterator[str]:
    """Yield ``first``, then every change of that payment, with keep-alive comments between.

    The watch exists only while the generator runs: when the client leaves, the
    server's next write fails, the WSGI server closes the generator and the
    ``finally`` of ``Hub.watch`` drops it.
    """
    with hub.watch(first["id"], first["status"]) as watch:
        yield f"retry: {RETRY_MS}\n" + format_event(first)
        while True:
            changes = watch.wait(keep_alive_seconds)
            yield "".join(map(format_event, changes)) if changes else KEEP_ALIVE
