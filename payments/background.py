"""The per-process background task: push expiries, wake watchers of changes made elsewhere,
and checkpoint SQLite's write-ahead log off the request path."""

import time
from collections.abc import Callable

from flask import Flask, current_app

from payments import database
from payments.bank import deliveries
from payments.charges import service as services
from payments.events import purge as events_purge
from payments.extensions import db, socketio
from payments.merchant import idempotency
from payments.psp import reconcile
from payments.push import subscriptions as push_subscriptions
from payments.realtime import watchers

#: Seconds between ticks: an expiry reaches its page within about this long.
TICK_SECONDS = 0.5
#: Seconds between purges of what is kept for a while only (idempotent answers, 24 hours;
#: the webhook's delivery log, ``DELIVERY_LOG_RETENTION_DAYS``).
PURGE_SECONDS = 60


def start(app: Flask) -> None:
    """Start this process's background task (a greenlet under eventlet, a thread otherwise)."""
    socketio.start_background_task(run, app)


def tick() -> None:
    """Expire due charges, offer the watched payments' states to their watchers, purge, checkpoint.

    The second step is what lets a change committed by another process (a
    webhook behind the same load balancer) reach the SSE streams and long polls
    held here; changes made in this process have woken them already. The third
    runs in a native thread: its fsyncs never stall the requests being served.
    """
    services.expire_due()
    # With a Pix provider: list what it received, in a task of its own (never waited for here).
    reconcile.maybe_start(current_app._get_current_object())
    hub = watchers.hub()
    # Only what changed is loaded: with hundreds of streams open, re-reading every watched
    # payment held the server ~12 ms per tick.
    for payment in services.find_changed(hub.known()):
        hub.notify(payment.to_dict(merchant=False))
    db.session.close()  # give the connection back before checkpointing: hold no read open
    state = current_app.extensions.setdefault("background", {"purged": float("-inf")})
    if time.monotonic() - state["purged"] >= PURGE_SECONDS:
        idempotency.purge()
        deliveries.prune()
        events_purge.purge()
        push_subscriptions.purge()
        state["purged"] = time.monotonic()
    path = database.sqlite_file(db.engine)
    if path is not None:
        in_native_thread(database.checkpoint, path)


def in_native_thread(function: Callable, *args):
    """Return ``function(*args)`` run in a native thread; other green threads run meanwhile.

    Under threading, the caller is a thread of its own already: it runs there.
    """
    mode = current_app.config["ASYNC_MODE"]
    if mode == "eventlet":
        from eventlet import tpool

        return tpool.execute(function, *args)
    if mode == "gevent":
        import gevent

        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)


def run(app: Flask, ticks: int | None = None) -> None:
    """Tick every ``TICK_SECONDS``, forever or ``ticks`` times; log failures and go on."""
    failing = False
    done = 0
    while ticks is None or done < ticks:
        socketio.sleep(TICK_SECONDS)
        done += 1
        try:
            with app.app_context():
                tick()
        except Exception:  # a database hiccup must not end expiry for this process
            if not failing:
                app.logger.exception("background tick failed; retrying every %s s", TICK_SECONDS)
            failing = True
        else:
            if failing:
                app.logger.warning("background tick works again")
            failing = False
