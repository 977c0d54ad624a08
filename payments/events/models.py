"""The outbox: each payment change as an event, and its delivery to each destination."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from payments.charges.models import UTCDateTime, utcnow
from payments.extensions import db


class Event(db.Model):
    """One change of a payment, written in the transaction that made it.

    ``body`` is the CloudEvents 1.0 JSON document exactly as every destination gets it.
    """

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid4, the CloudEvents id
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(32), index=True)  # the payment's public id
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class EventDelivery(db.Model):
    """An event on its way to one target of one destination (a URL, an exchange, a device)."""

    __tablename__ = "event_deliveries"
    # The relay's query: pending deliveries that are due, oldest first.
    __table_args__ = (
        Index("ix_event_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "webhook" | "broker" | "push"
    target: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
