"""Socket.IO: a page joins its payment's room and learns its state at once."""

from flask_socketio import ConnectionRefusedError, emit, join_room

from payments.charges import service as services
from payments.extensions import socketio
from payments.realtime.publish import EVENT, room_for


@socketio.on("connect")
def connect(auth=None):
    """Admit a page of a known payment, join its room and send the current state.

    :raise ConnectionRefusedError: no ``payment_id`` or an unknown one.
    """
    payment_id = auth.get("payment_id") if isinstance(auth, dict) else None
    payment = services.find_payment(payment_id)
    if payment is None:
        raise ConnectionRefusedError("unknown payment")
    join_room(room_for(payment.public_id))
    emit(EVENT, payment.to_dict(merchant=False))
