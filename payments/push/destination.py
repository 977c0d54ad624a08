"""The outbox's "push" destination: one delivery per subscription of the changed charge.

``targets`` runs inside the transaction that made the change (so a browser that
subscribed before it commits is told); ``send`` runs in the relay, outside any
transaction: the bank's webhook never waits for a push service.
"""

from flask import Flask, current_app
from sqlalchemy import Connection, select

from payments.charges.models import Payment, utcnow
from payments.events import outbox
from payments.extensions import db
from payments.paths import path_for
from payments.push import messages, sender, subscriptions
from payments.push.models import PushSubscription

KIND = "push"
#: The merchant's own message to a charge's browsers (``POST .../push/notify``).
MESSAGE_TYPE = "push.message"
#: Event types that are a change of status (each has its message in ``messages.TEXTS``).
STATUS_TYPES = frozenset(f"payment.{status}" for status in messages.TEXTS)
#: Seconds between attempts on a 429, a 5xx or no answer: a push is news for minutes,
#: so the tries are close together and end within about an hour.
RETRY_SECONDS = [5, 30, 120, 600, 1800]


class PushDestination(outbox.Destination):
    """Web Push to the browsers subscribed to a charge."""

    def __init__(self) -> None:
        super().__init__(kind=KIND)

    def targets(self, connection: Connection, event: dict) -> list[str]:
        """Return the ids of the charge's subscriptions, for a status change or a message."""
        if event["type"] not in STATUS_TYPES and event["type"] != MESSAGE_TYPE:
            return []  # payment.created: nobody can have subscribed yet
        return subscriptions.ids_for(connection, event["subject"])

    def send(self, target: str, event: dict) -> outbox.Outcome:
        """Push the event's message to one subscription; forget it if the service says gone."""
        subscription = db.session.get(PushSubscription, target)
        if subscription is None:
            db.session.rollback()
            return outbox.Outcome(False, error="subscription deleted", final=True)
        if subscription.expires_at is not None and subscription.expires_at <= utcnow():
            subscriptions.forget(target)  # the browser said its push service drops it by now
            return outbox.Outcome(False, error="subscription expired", final=True)
        info = subscription.info()
        if event["type"] == MESSAGE_TYPE:
            payload, ttl, urgency = (
                self._message(subscription, event),
                messages.MESSAGE_TTL,
                "normal",
            )
        else:
            payload = messages.status_payload(event["data"]["payment"])
            ttl, urgency = messages.OUTCOME_TTL, "high"
        db.session.rollback()  # hold no transaction open while the push service answers
        if payload is None:
            return outbox.Outcome(True, error="nothing to say for this event")
        answer = sender.push(info, payload, ttl=ttl, urgency=urgency)
        if answer.delivered:
            return outbox.Outcome(True, status=answer.status)
        if answer.gone:
            subscriptions.forget(target)
            return outbox.Outcome(False, status=answer.status, error=answer.error, final=True)
        return outbox.Outcome(
            False, status=answer.status, error=answer.error, final=not answer.retryable
        )

    @staticmethod
    def _message(subscription: PushSubscription, event: dict) -> dict:
        """Return the push of a merchant's message, with the charge's status of now."""
        status = db.session.scalar(
            select(Payment.status).where(Payment.id == subscription.payment_id)
        )
        page_url = path_for("pix.page", payment_id=event["subject"])
        return messages.merchant_payload(event["subject"], page_url, status, event["data"])

    def retry_seconds(self) -> list[int]:
        return list(RETRY_SECONDS)


def register(app: Flask) -> None:
    """Register the push destination on ``app`` (always: push needs no setting)."""
    outbox.register(app, PushDestination())


def configured() -> bool:
    """Tell whether the current app delivers pushes (its destination is registered)."""
    return KIND in outbox.destinations(current_app)
