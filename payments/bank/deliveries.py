"""The webhook delivery log: every request to a webhook route, kept before it is acted on."""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select, update

from payments.bank.models import WebhookDelivery
from payments.bank.redaction import redact
from payments.charges.models import utcnow
from payments.extensions import db
from payments.patterns import DELIVERY_BODY_LIMIT

#: Bodies are kept up to this many bytes; ``body_size`` keeps the real length.
BODY_LIMIT = DELIVERY_BODY_LIMIT
RESULT_LIMIT = 2000
#: The result of a delivery the process stopped (a crash, a kill) before it answered.
INTERRUPTED = "interrupted: the server stopped before it answered"
#: Rows one statement of ``prune`` deletes: a long backlog goes in short transactions.
PRUNE_BATCH = 1000

# Core statements built once and run on a connection of their own, outside the session: on the
# webhook's hot path, building a statement, the ORM's unit of work and the session's
# bookkeeping each cost more than running it (record: 117 -> 65 us in process).
_TABLE = WebhookDelivery.__table__
_INSERT = insert(_TABLE)
_FINISH = update(_TABLE).where(_TABLE.c.id == bindparam("delivery_id"))  # SET from the params


def record(route: str | None, body: bytes, signature_ok: bool | None,
           body_size: int | None = None) -> int:
    """Store a delivery as received, in its own commit; return its id.

    ``route`` is the endpoint's name (``webhooks.confirmation``), not its path. The body is
    stored with the payer's personal data taken out (``redaction.redact``), cut at
    ``BODY_LIMIT``; ``body_size`` is the length received. A delivery whose signature failed
    is stored without its body: pass ``b""`` and its size.
    """
    with db.engine.begin() as connection:
        result = connection.execute(_INSERT, {
            "route": route,
            "body": redact(body, BODY_LIMIT) if body else b"",
            "body_size": len(body) if body_size is None else body_size,
            "signature_ok": signature_ok,
        })
    return result.inserted_primary_key[0]


def finish(delivery_id: int, status_code: int, result: str, changes: int | None = None) -> None:
    """Store what the delivery came to; log, never raise, if that fails."""
    try:
        db.session.rollback()  # what the handler left unfinished is never committed; no lock kept
        with db.engine.begin() as connection:
            connection.execute(_FINISH, {"delivery_id": delivery_id, "status_code": status_code,
                                         "result": result[:RESULT_LIMIT], "changes": changes})
    except Exception:  # the answer to the bank matters more than this line of the log
        db.session.rollback()
        current_app.logger.exception("could not record the result of delivery %s", delivery_id)


def body_kept(delivery: WebhookDelivery) -> str:
    """Say what the log kept of a delivery's body: ``whole``, ``cut`` or ``none``.

    ``none``: refused before it was read (413) or its signature failed. ``cut``: it was
    longer than ``BODY_LIMIT``, or its redacted form reaches it (the mask may lengthen it).
    """
    if not delivery.body and delivery.body_size:
        return "none"
    if delivery.body_size > BODY_LIMIT or len(delivery.body) >= BODY_LIMIT:
        return "cut"
    return "whole"


def mark_interrupted() -> int:
    """Give every delivery still without a result the result ``INTERRUPTED``; return how many.

    Run at a server's start: a delivery without a result then is one a stopped process was
    handling (its change, if it made one, is committed or not, as the payment says). A
    delivery that another process sharing the database is still handling at that moment is
    marked too; its own result replaces the mark when it finishes.
    """
    with db.engine.begin() as connection:
        return connection.execute(
            update(_TABLE).where(_TABLE.c.result.is_(None)).values(result=INTERRUPTED)).rowcount


def recent(limit: int) -> list[WebhookDelivery]:
    """Return the latest ``limit`` deliveries, newest first."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def get(delivery_id: int) -> WebhookDelivery | None:
    """Return one delivery, or None."""
    return db.session.get(WebhookDelivery, delivery_id)


def prune(days: int | None = None, now: datetime | None = None) -> int:
    """Delete the deliveries received more than ``days`` ago; return how many.

    ``days`` defaults to ``DELIVERY_LOG_RETENTION_DAYS``. Rows go ``PRUNE_BATCH`` at a time,
    each batch in its own commit, so no write lock is held long.
    """
    if days is None:
        days = current_app.config["DELIVERY_LOG_RETENTION_DAYS"]
    cutoff = (now or utcnow()) - timedelta(days=days)
    oldest = (select(_TABLE.c.id).where(_TABLE.c.received_at < cutoff)
              .order_by(_TABLE.c.id).limit(PRUNE_BATCH))
    deleted = 0
    while True:
        with db.engine.begin() as connection:
            count = connection.execute(
                delete(_TABLE).where(_TABLE.c.id.in_(oldest.scalar_subquery()))).rowcount
        deleted += count
        if count < PRUNE_BATCH:
            return deleted
