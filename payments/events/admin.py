"""What the operator does with the outbox: list events and their deliveries, send one again."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import exists, insert, select, update

from payments.events import outbox, relay
from payments.events.models import Event, EventDelivery
from payments.extensions import db

STATUSES = ("pending", "delivered", "failed")
_DELIVERIES = EventDelivery.__table__


@dataclass(frozen=True)
class Listed:
    """An event and its deliveries, oldest delivery first."""

    event: Event
    deliveries: list[EventDelivery]


def list_events(status: str | None = None, limit: int = 20) -> list[Listed]:
    """Return the newest ``limit`` events, or those with a delivery in ``status``, newest first."""
    query = select(Event).order_by(Event.created_at.desc(), Event.id).limit(limit)
    if status is not None:
        query = query.where(exists().where(EventDelivery.event_id == Event.id,
                                           EventDelivery.status == status))
    found = db.session.scalars(query).all()
    by_event: dict[str, list[EventDelivery]] = {event.id: [] for event in found}
    if by_event:
        for delivery in db.session.scalars(select(EventDelivery)
                                           .where(EventDelivery.event_id.in_(by_event))
                                           .order_by(EventDelivery.id)):
            by_event[delivery.event_id].append(delivery)
    return [Listed(event, by_event[event.id]) for event in found]


def resend(app: Flask, event_id: str) -> list[EventDelivery] | None:
    """Send the event ``event_id`` again now to every target of every configured destination.

    Each target's delivery starts afresh (pending, no attempt yet, a whole retry
    schedule ahead); a target added since the event was made gets one. The event
    goes to the kinds of destination it went to (a payment event that had none,
    made while nothing was configured: to every one configured now). Return
    the deliveries as they stand after this try, or None if there is no such event.
    """
    with app.app_context():
        event = db.session.get(Event, event_id)
        if event is None:
            return None
        document = json.loads(event.body)
        now = datetime.now(UTC)
        fresh = {"status": "pending", "attempts": 0, "next_attempt_at": now, "last_status": None,
                 "last_error": None, "delivered_at": None}
        with db.engine.begin() as connection:
            had = set(connection.scalars(select(_DELIVERIES.c.kind).where(
                _DELIVERIES.c.event_id == event_id)))
            for kind, destination in outbox.destinations(app).items():
                if not (kind in had or (not had and document["type"].startswith("payment."))):
                    continue  # e.g. a push message goes to push only
                known = set(connection.scalars(select(_DELIVERIES.c.target).where(
                    _DELIVERIES.c.event_id == event_id, _DELIVERIES.c.kind == kind)))
                targets = destination.targets(connection, document)
                connection.execute(update(_DELIVERIES).where(
                    _DELIVERIES.c.event_id == event_id, _DELIVERIES.c.kind == kind)
                    .values(**fresh))
                new = [target for target in targets if target not in known]
                if new:
                    connection.execute(insert(_DELIVERIES), [
                        {"event_id": event_id, "kind": kind, "target": target, **fresh}
                        for target in new])
        db.session.close()
        relay.deliver_due(app, event_id)
        return db.session.scalars(select(EventDelivery).where(EventDelivery.event_id == event_id)
                                  .order_by(EventDelivery.id)).all()
