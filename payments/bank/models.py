"""What the bank told us: received Pix, settled refunds, and the webhook delivery log."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from payments.charges.models import UTCDateTime, utcnow
from payments.extensions import db


class PixReceipt(db.Model):
    """A Pix the bank reported for a charge (API Pix ``pix`` item), once per ``endToEndId``.

    One per charge: a second Pix for a paid charge is refused, not counted twice.
    """

    __tablename__ = "pix_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the bank's ``horario``
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PixRefund(db.Model):
    """A refund (``devolucoes`` item with status ``DEVOLVIDO``) the bank settled, once per rtrId."""

    __tablename__ = "pix_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    rtr_id: Mapped[str] = mapped_column(String(35), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(db.Model):
    """One request to a webhook route, recorded before it is acted on, then its result."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    route: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the raw body, cut at BODY_LIMIT
    body_size: Mapped[int] = mapped_column(Integer)  # the whole body's length in bytes
    signature_ok: Mapped[bool | None] = mapped_column(Boolean)  # None: no secret configured
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: still being handled
    result: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[int | None] = mapped_column(Integer)  # payments this delivery changed
