"""Side effects after commit: a payment's change reaches the world only once it is committed.

``record`` notes a change in the current session. When that session commits,
every noted change goes, in order, to each listener ``on_commit`` registered
(the real-time publisher, in ``create_app``); when it rolls back, they are
forgotten. This is the one mechanism by which a state change has effects
outside the database, and it points inward: charges know no listener.

``record`` also writes the change's event into the outbox (``payments.events``)
in the same transaction: the event exists exactly when the change does.
"""

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from payments.events import outbox
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
    """Note that the current transaction changed ``payment``: its listeners hear after commit.

    Its event (``payment.<new status>``, the merchant view) is written in the same
    transaction.
    """
    # The public view: what the pages, the first listener, may see.
    db.session.info.setdefault(_PENDING, []).append(payment.to_dict(merchant=False))
    outbox.emit(db.session.connection(), type=f"payment.{payment.status}",
                payment=payment.to_dict())


@event.listens_for(db.session, "after_commit")
def _after_commit(session: Session) -> None:
    changed = session.info.pop(_PENDING, ())
    if changed:
        outbox.committed()  # their events are in: the relay may send them now
    for payment_object in changed:
        for listener in _LISTENERS:
            listener(payment_object)


@event.listens_for(db.session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
