"""The webhook delivery log: every request to a webhook route, kept before it is acted on."""

from flask import current_app
from sqlalchemy import select, update

from .extensions import db
from .models import WebhookDelivery

#: Bodies are kept up to this many bytes; ``body_size`` keeps the real length.
BODY_LIMIT = 64 * 1024
RESULT_LIMIT = 2000


def record(route: str, body: bytes, signature_ok: bool | None, body_size: int | None = None) -> int:
    """Store a delivery as received, in its own commit; return its id."""
    delivery = WebhookDelivery(
        route=route,
        body=body[:BODY_LIMIT],
        body_size=len(body) if body_size is None else body_size,
        signature_ok=signature_ok,
    )
    db.session.add(delivery)
    db.session.flush()  # assigns the id; read it now, not through a SELECT after the commit
    delivery_id = delivery.id
    db.session.commit()
    return delivery_id


def finish(delivery_id: int, status_code: int, result: str, changes: int | None = None) -> None:
    """Store what the delivery came to; log, never raise, if that fails."""
    try:
        db.session.rollback()  # whatever the handler left unfinished is not ours to commit
        table = WebhookDelivery.__table__  # a Core update: the ORM's bulk path costs more
        db.session.execute(
            update(table)
            .where(table.c.id == delivery_id)
            .values(status_code=status_code, result=result[:RESULT_LIMIT], changes=changes)
        )
        db.session.commit()
    except Exception:  # the answer to the bank matters more than this line of the log
        db.session.rollback()
        current_app.logger.exception("could not record the result of delivery %s", delivery_id)


def recent(limit: int) -> list[WebhookDelivery]:
    """Return the latest ``limit`` deliveries, newest first."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def get(delivery_id: int) -> WebhookDelivery | None:
    """Return one delivery, or None."""
    return db.session.get(WebhookDelivery, delivery_id)
