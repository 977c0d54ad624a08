"""The per-process background task: push expiries and wake watchers of changes made elsewhere."""

from flask import Flask

from . import services, watchers
from .extensions import socketio

#: Seconds between ticks: an expiry reaches its page within about this long.
TICK_SECONDS = 0.5


def start(app: Flask) -> None:
    """Start this process's background task (a greenlet under eventlet, a thread otherwise)."""
    socketio.start_background_task(run, app)


def tick() -> None:
    """Expire due charges, then offer the watched payments' states to their watchers.

    The second step is what lets a change committed by another process (a
    webhook behind the same load balancer) reach the SSE streams and long polls
    held here; changes made in this process have woken them already.
    """
    services.expire_due()
    hub = watchers.hub()
    for payment in services.find_payments(hub.payment_ids()):
        hub.notify(payment.to_dict())


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
