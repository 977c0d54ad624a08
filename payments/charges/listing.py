"""The merchant's list of charges: filters, newest first, pages by keyset (never OFFSET).

A page ends at a cursor naming its last charge's ``(created_at, public_id)``; the
next page starts strictly after it in that order, which the index
``ix_payments_created_at_public_id`` serves. Charges created meanwhile are newer
than any cursor, so pages never repeat or skip one.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select, tuple_

from payments.charges.models import Payment, PaymentStatus, utcnow
from payments.errors import BadRequest
from payments.extensions import db

CURSOR_ERROR = "cursor must be a next_cursor this API gave"


@dataclass(frozen=True)
class Filters:
    """What the merchant asks for; None: any."""

    status: PaymentStatus | None = None
    external_id: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    limit: int = 20
    cursor: str | None = None


def encode_cursor(payment: Payment) -> str:
    """Return the opaque cursor after ``payment``."""
    mark = [payment.created_at.astimezone(UTC).isoformat(), payment.public_id]
    return base64.urlsafe_b64encode(json.dumps(mark).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Return the ``(created_at, public_id)`` a cursor names.

    :raise BadRequest: it is not a cursor this API gave.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, public_id = json.loads(raw)
        moment = datetime.fromisoformat(created)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise BadRequest(CURSOR_ERROR) from None
    if moment.tzinfo is None or not isinstance(public_id, str):
        raise BadRequest(CURSOR_ERROR)
    return moment, public_id


def _status_is(status: PaymentStatus, now: datetime):
    """Return the condition for charges that read as ``status`` now (expiry counted)."""
    pending = Payment.status == PaymentStatus.PENDING.value
    if status is PaymentStatus.PENDING:
        return and_(pending, Payment.expires_at > now)
    if status is PaymentStatus.EXPIRED:
        return or_(Payment.status == status.value, and_(pending, Payment.expires_at <= now))
    return Payment.status == status.value


def list_payments(filters: Filters) -> tuple[list[Payment], str | None]:
    """Return one page of charges, newest first, and the cursor of the next page (or None).

    :raise BadRequest: the cursor is not one this API gave.
    """
    query = select(Payment)
    if filters.status is not None:
        query = query.where(_status_is(filters.status, utcnow()))
    if filters.external_id is not None:
        query = query.where(Payment.external_id == filters.external_id)
    if filters.created_gte is not None:
        query = query.where(Payment.created_at >= filters.created_gte)
    if filters.created_lt is not None:
        query = query.where(Payment.created_at < filters.created_lt)
    if filters.cursor is not None:
        created, public_id = decode_cursor(filters.cursor)
        # A row value: SQLite and PostgreSQL seek the index to it (an OR of the two scans).
        query = query.where(tuple_(Payment.created_at, Payment.public_id) < (created, public_id))
    query = query.order_by(Payment.created_at.desc(), Payment.public_id.desc())
    rows = list(db.session.scalars(query.limit(filters.limit + 1)))
    more = len(rows) > filters.limit
    rows = rows[:filters.limit]
    return rows, encode_cursor(rows[-1]) if more else None
