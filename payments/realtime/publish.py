"""Tell the pages of a payment about its new state: Socket.IO room, SSE and long polls."""

from flask import current_app

from payments.charges import changes
from payments.extensions import socketio
from payments.realtime import watchers

EVENT = "payment_status"


def room_for(public_id: str) -> str:
    """Return the Socket.IO room of a payment's pages."""
    return f"payment:{public_id}"


def init_app() -> None:
    """Publish every committed change of a payment to its pages."""
    changes.on_commit(_committed)


def _committed(payment_object: dict) -> None:
    publish(payment_object)  # looked up at each call: tests replace it


def publish(payment_object: dict) -> None:
    """Send a payment's new state to the pages of that payment only; never raise.

    The change is already committed: a failing bus (Redis down) must not fail the
    request that made it. Pages that miss the event learn the state when they reconnect.
    Socket.IO reaches every process through the message queue, if any; the watchers
    (SSE, long polls) of other processes learn it from their own background task,
    which re-reads watched payments on every tick.
    """
    watchers.hub().notify(payment_object)  # first: it cannot fail, the bus can
    try:
        socketio.emit(EVENT, payment_object, to=room_for(payment_object["id"]))
        socketio.sleep(0)  # let the pages' senders run now, before this request answers
    except Exception:  # the bus is best effort; the database is the truth
        current_app.logger.exception("could not publish %s for %s", EVENT, payment_object["id"])
