"""A browser's push subscription to one charge."""

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from payments.charges.models import UTCDateTime, utcnow
from payments.extensions import db


def new_subscription_id() -> str:
    """Return an opaque, unguessable id (128 random bits): it is what unsubscribes."""
    return secrets.token_urlsafe(16)


class PushSubscription(db.Model):
    """Where to push a charge's news: a push service's endpoint and the browser's keys.

    Kept while the charge can change and ``PUSH_KEEP_SECONDS`` after, then purged
    by the background task: an endpoint says which browser this is.
    """

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        UniqueConstraint("payment_id", "endpoint", name="uq_push_subscriptions_endpoint"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_subscription_id)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048))
    p256dh: Mapped[str] = mapped_column(String(100))  # base64url, as the browser gave it
    auth: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def info(self) -> dict:
        """Return the subscription as pywebpush takes it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
