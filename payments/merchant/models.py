"""What the merchant API keeps of its own: the answers to idempotent requests."""

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payments.charges.models import UTCDateTime, utcnow
from payments.extensions import db


class IdempotentRequest(db.Model):
    """A request sent with ``Idempotency-Key``: while it runs, then its answer, for 24 hours.

    The unique (merchant, key) pair is what decides, across threads and processes,
    which of several identical requests runs: the others find its row.
    """

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("merchant", "key", name="uq_idempotent_requests_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant: Mapped[str] = mapped_column(String(32))  # the API key's id; "open" without keys
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, route and body
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)  # None: running
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    headers: Mapped[str | None] = mapped_column(Text, default=None)  # JSON of kept headers
