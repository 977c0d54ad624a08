"""Side effects after commit: a payment's change reaches its pages only once it is committed.

``record`` notes a change in the current session; when that session commits,
every noted change is published (``payments.realtime.publish``), in order; when
it rolls back, they are forgotten. This is the one mechanism by which a state
change has effects outside the database.
"""

from sqlalchemy import event
from sqlalchemy.orm import Session

from payments.extensions import db
from payments.realtime.publish import publish

#: Key, in a session's ``info``, of the payment objects its transaction changed.
_PENDING = "payments.changed"


def record(payment) -> None:
    """Note that the current transaction changed ``payment``: publish it after the commit."""
    db.session.info.setdefault(_PENDING, []).append(payment.to_dict())


@event.listens_for(db.session, "after_commit")
def _publish(session: Session) -> None:
    for payment_object in session.info.pop(_PENDING, ()):
        publish(payment_object)


@event.listens_for(db.session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
