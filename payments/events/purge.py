"""Keep the outbox bounded: delivered events go after a while, failed ones after longer.

An event is purged, with its deliveries, once it is older than
``EVENTS_RETENTION_DAYS`` and none of its deliveries is pending or failed; one
with a failed delivery is kept ``EVENTS_FAILED_RETENTION_DAYS`` for inspection
(``flask events list --status failed``, ``events resend``). An event with a
pending delivery is never purged.
"""

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, select

from payments.events.models import Event, EventDelivery
from payments.extensions import db

_EVENTS = Event.__table__
_DELIVERIES = EventDelivery.__table__
#: Events deleted per statement: a big backlog goes in several short transactions.
CHUNK = 1000


def _with(event_id, *statuses: str):
    return exists().where(_DELIVERIES.c.event_id == event_id,
                          _DELIVERIES.c.status.in_(statuses))


def purge(now: datetime | None = None) -> int:
    """Delete the events whose time is up, with their deliveries; return how many events."""
    cfg = current_app.config
    now = now or datetime.now(UTC)
    delivered_before = now - timedelta(days=cfg["EVENTS_RETENTION_DAYS"])
    failed_before = now - timedelta(days=cfg["EVENTS_FAILED_RETENTION_DAYS"])
    due = (
        select(_EVENTS.c.id)
        .where(~_with(_EVENTS.c.id, "pending"),
               ((_EVENTS.c.created_at < delivered_before) & ~_with(_EVENTS.c.id, "failed"))
               | (_EVENTS.c.created_at < failed_before))
        .limit(CHUNK)
    )
    purged = 0
    while True:
        with db.engine.begin() as connection:
            ids = connection.scalars(due).all()
            if ids:
                connection.execute(delete(_DELIVERIES).where(_DELIVERIES.c.event_id.in_(ids)))
                connection.execute(delete(_EVENTS).where(_EVENTS.c.id.in_(ids)))
        purged += len(ids)
        if len(ids) < CHUNK:
            return purged
