"""Side effects after commit: a payment's change reaches the world only once it is committed.

``record`` notes a change in the current session. When that session commits,
every noted change goes, in order, to each listener ``on_commit`` registered
(the real-time publisher, in ``create_app``); when it rolls back, they are
forgotten. This is the one mechanism by which a state change has effects
outside the database, and it points inward: charges know no listener.
"""

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from payments.extensions import db

#: Key, in a session's ``info``, of the payment objects its transaction changed.
_PENDING = "payments.changed"
#: Who hears of each committed change, in the order they were registered.
_LISTENERS: list[Callable[[dict], None]] = []


def on_commit(listener: Callable[[dict], None]) -> None:
    """Call ``listener(payment_object)`` for every change, after its commit (once per listener)."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def record(payment) -> None:
    """Note that the current transaction changed ``payment``: its listeners hear after commit."""
    # The public view: what the pages, the first listener, may see.
    db.session.info.setdefault(_PENDING, []).append(payment.to_dict(merchant=False))


@event.listens_for(db.session, "after_commit")
def _after_commit(session: Session) -> None:
    for payment_object in session.info.pop(_PENDING, ()):
        for listener in _LISTENERS:
            listener(payment_object)


@event.listens_for(db.session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
