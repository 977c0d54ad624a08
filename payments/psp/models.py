"""What the app keeps of its dealings with the provider: refunds it asked for, and leases."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from payments.charges.models import UTCDateTime, isoformat, utcnow
from payments.extensions import db
from payments.pix.money import cents_to_json


class RefundStatus:
    """A refund's states: ours before the provider answered, then the API Pix ones."""

    REQUESTED = "REQUESTED"  # stored, not yet acknowledged by the provider
    PROCESSING = "EM_PROCESSAMENTO"
    SETTLED = "DEVOLVIDO"
    FAILED = "NAO_REALIZADO"

    OPEN = (REQUESTED, PROCESSING)  # count against what may still be refunded; followed up
    ALL = (REQUESTED, PROCESSING, SETTLED, FAILED)


#: How the merchant's API names each state.
REFUND_STATES = {
    RefundStatus.REQUESTED: "requested",
    RefundStatus.PROCESSING: "processing",
    RefundStatus.SETTLED: "refunded",
    RefundStatus.FAILED: "failed",
}


class PspRefund(db.Model):
    """A refund (``devolucao``) the merchant asked for, at ``PUT /pix/{e2eid}/devolucao/{id}``."""

    __tablename__ = "psp_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The ``id`` of the devolucao at the provider, ours, unique: a repeated PUT is the same one.
    refund_id: Mapped[str] = mapped_column(String(35), unique=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.REQUESTED, index=True)
    rtr_id: Mapped[str | None] = mapped_column(String(35), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def to_dict(self) -> dict:
        """Return the refund as the merchant's API shows it."""
        return {
            "id": self.refund_id,
            "value": cents_to_json(self.amount_cents),
            "status": REFUND_STATES[self.status],
            "provider_status": None if self.status == RefundStatus.REQUESTED else self.status,
            "reason": self.reason,
            "created_at": isoformat(self.created_at),
            "updated_at": isoformat(self.updated_at),
        }


class PspLease(db.Model):
    """A job only one process may run at a time (``reconcile``), and how far it got."""

    __tablename__ = "psp_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64), default=None)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    #: Up to when the job has done its work (reconcile: the end of the last window listed).
    mark: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
