"""The payment record and its states."""

import secrets
import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from payments.extensions import db
from payments.paths import path_for
from payments.pix.money import cents_to_json


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """Format a UTC time as ISO 8601 with a ``Z``, to the second."""
    if moment is None:
        return None
    # isoformat() is C; strftime() parses its format on every call (three per payment object)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


class UTCDateTime(TypeDecorator):
    """Store naive UTC (portable to SQLite); load aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class PaymentStatus(StrEnum):
    """Where a charge stands."""

    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"
    REFUSED = "refused"
    REFUNDED = "refunded"
    CANCELED = "canceled"


#: The status machine: the moves it allows, from each status. Every other move is refused.
#: This is its one declaration; the services, the OpenAPI description, the page's script
#: and the tests read it from here.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PENDING: frozenset(
        {PaymentStatus.PAID, PaymentStatus.REFUSED, PaymentStatus.EXPIRED, PaymentStatus.CANCELED}
    ),
    PaymentStatus.PAID: frozenset({PaymentStatus.REFUNDED}),
}

#: Statuses no move leaves: the charge's story is over.
FINAL: frozenset[PaymentStatus] = frozenset(s for s in PaymentStatus if not TRANSITIONS.get(s))
#: Statuses that can still change, so a page in one of them keeps listening.
LIVE: frozenset[PaymentStatus] = frozenset(PaymentStatus) - FINAL


def can_move(source: PaymentStatus, target: PaymentStatus) -> bool:
    """Tell whether the status machine allows ``source`` -> ``target``."""
    return target in TRANSITIONS.get(source, ())


def new_public_id() -> str:
    """Return an opaque, unguessable, URL-safe id (128 random bits)."""
    return secrets.token_urlsafe(16)


def new_bank_payment_id() -> str:
    """Return a random UUID for the bank's side of the charge."""
    return str(uuid.uuid4())


class Payment(db.Model):
    """A Pix charge."""

    __tablename__ = "payments"
    # The expiry task's query (pending charges past their expiry, oldest first) reads this
    # index in order; on the status index alone it read every pending charge and sorted them.
    __table_args__ = (
        Index("ix_payments_status_expires_at", "status", "expires_at"),
        # The merchant's listing, newest first, pages by (created_at, public_id): keyset.
        Index("ix_payments_created_at_public_id", "created_at", "public_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    bank_payment_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=new_bank_payment_id
    )
    # 1-25 characters for a static BR Code, 26-35 for a dynamic charge at a provider.
    txid: Mapped[str] = mapped_column(String(35), unique=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING.value)
    pix_code: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # The merchant's order: what is paid (shown on the page), its reference, its own data
    # (never shown to the customer) and where the customer goes back to.
    description: Mapped[str | None] = mapped_column(String(140), default=None)
    external_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    order_metadata: Mapped[dict] = mapped_column("metadata", JSON, default=dict,
                                                 server_default=text("'{}'"))
    return_url: Mapped[str | None] = mapped_column(Text, default=None)

    def current_status(self, now: datetime | None = None) -> PaymentStatus:
        """Return the status, counting a pending charge past its expiry as expired."""
        status = PaymentStatus(self.status)
        if status is PaymentStatus.PENDING and (now or utcnow()) >= self.expires_at:
            return PaymentStatus.EXPIRED
        return status

    @property
    def qr_code(self) -> str:
        """Return the public name of this charge's QR code image."""
        return f"qr_code_payment_{self.bank_payment_id}"

    def to_dict(self, merchant: bool = True) -> dict:
        """Return the payment object: the merchant's view, or (``merchant=False``) the public one.

        The public view, for everything a customer's browser receives, leaves out what
        only the shop and the bank may know: ``bank_payment_id``, ``qr_code`` (the name
        built from it) and ``metadata``.
        """
        status = self.current_status()
        data = {
            "id": self.public_id,
            "value": cents_to_json(self.amount_cents),
            "status": status.value,
            "paid": status is PaymentStatus.PAID,
        }
        if merchant:
            data["bank_payment_id"] = self.bank_payment_id
            data["txid"] = self.txid
            data["qr_code"] = self.qr_code
            data["qr_code_url"] = path_for("pix.qr_code", name=self.qr_code)
        else:
            data["txid"] = self.txid
            data["qr_code_url"] = path_for("pix.qr_png", payment_id=self.public_id)
        data.update({
            "pix_code": self.pix_code,
            "page_url": path_for("pix.page", payment_id=self.public_id),
            "created_at": isoformat(self.created_at),
            "expiration_date": isoformat(self.expires_at),
            "paid_at": isoformat(self.paid_at),
            "description": self.description,
            "external_id": self.external_id,
        })
        if merchant:
            data["metadata"] = dict(self.order_metadata or {})
        data["return_url"] = self.return_url
        data["updated_at"] = isoformat(self.updated_at)
        return data
