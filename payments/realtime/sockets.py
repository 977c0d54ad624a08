"""Socket.IO: a page joins its payment's room and learns its state at once."""

from flask import current_app
from flask_socketio import ConnectionRefusedError, emit, join_room

from payments.charges import service as services
from payments.errors import DATABASE_UNAVAILABLE
from payments.extensions import db, socketio
from payments.realtime.publish import EVENT, room_for

#: Why a connection is refused while the database cannot be read; the page tries again.
UNAVAILABLE = "service unavailable, retry later"


@socketio.on("connect")
def connect(auth=None):
    """Admit a page of a known payment, join its room and send the current state.

    :raise ConnectionRefusedError: no ``payment_id`` or an unknown one, or the database
        cannot be read (then at once, never a connection left hanging).
    """
    payment_id = auth.get("payment_id") if isinstance(auth, dict) else None
    try:
        payment = services.find_payment(payment_id)
    except DATABASE_UNAVAILABLE as exc:
        try:
            db.session.rollback()
        except Exception:  # the connection may be gone; the session is discarded anyway
            pass
        reason = getattr(exc, "orig", None) or exc
        current_app.logger.error("database unavailable on Socket.IO connect: %s",
                                 type(reason).__name__)
        raise ConnectionRefusedError(UNAVAILABLE) from None
    if payment is None:
        raise ConnectionRefusedError("unknown payment")
    join_room(room_for(payment.public_id))
    emit(EVENT, payment.to_dict(merchant=False))
