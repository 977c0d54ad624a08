"""Tell connected pages about a payment: one room per payment."""

from .extensions import socketio

EVENT = "payment_status"


def room_for(public_id: str) -> str:
    """Return the Socket.IO room of a payment's pages."""
    return f"payment:{public_id}"


def publish(payment_object: dict) -> None:
    """Send a payment's new state to the pages of that payment only."""
    socketio.emit(EVENT, payment_object, to=room_for(payment_object["id"]))
