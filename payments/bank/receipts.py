"""Rules for API Pix notices: one Pix per ``endToEndId`` and per charge, one refund per rtrId.

State changes still go through ``service.apply_notice`` (and so ``service.move``); this module
adds what the API Pix format brings: a Pix id that may be delivered again, and refunds. Each
receipt (or refund) and the state change it causes are committed together, in one transaction,
and the change is published after that commit.
"""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from payments.bank.models import PixReceipt, PixRefund
from payments.bank.notices import PixItem, Refund
from payments.charges import service
from payments.charges.models import Payment, PaymentStatus
from payments.errors import Conflict, PaymentError
from payments.extensions import db
from payments.pix.money import cents_to_decimal

REFUNDED = "DEVOLVIDO"


@dataclass(frozen=True)
class RefundResult:
    """What one settled refund (``devolucoes`` entry ``DEVOLVIDO``) of an item came to."""

    refund: Refund
    status: int  # 200 applied (or already), 409 refused by the rules
    message: str

    def to_dict(self) -> dict:
        """Return the refund's entry of its item's ``refunds``."""
        return {"rtrId": self.refund.rtr_id, "status": self.status, "message": self.message}


@dataclass(frozen=True)
class ItemResult:
    """What applying one ``pix`` item did; ``status`` reads like an HTTP status.

    ``status`` says what became of the Pix itself; ``refunds`` what became of each of its
    settled refunds, tried one by one once the Pix is applied: a refund refused leaves the
    Pix, and the other refunds, applied.
    """

    item: PixItem
    status: int
    message: str
    payment: Payment | None
    changes: int = 0
    refunds: tuple[RefundResult, ...] = ()

    def to_dict(self) -> dict:
        """Return the item's entry of the route's ``results``."""
        return {
            "endToEndId": self.item.end_to_end_id,
            "txid": self.item.txid,
            "status": self.status,
            "message": self.message,
            "payment": None if self.payment is None else self.payment.to_dict(),
            "refunds": [refund.to_dict() for refund in self.refunds],
        }


def find_by_txid(txid: str) -> Payment | None:
    """Return the charge whose BR Code carries ``txid``, or None."""
    return db.session.scalar(select(Payment).filter_by(txid=txid))


def apply_pix_item(item: PixItem) -> ItemResult:
    """Apply one received Pix, then each of its settled refunds; never raise for a refusal.

    The answer says what was applied and what was refused: a Pix refused (409) is applied
    with none of its refunds; a Pix applied is 200 whatever its refunds came to, each of
    which has its own result, and the message names the refused ones and why.
    """
    payment = find_by_txid(item.txid)
    if payment is None:
        return ItemResult(item, 404, "No payment with this txid", None)
    try:
        changes, message = _receive(payment, item)
    except PaymentError as exc:
        db.session.rollback()
        return ItemResult(item, exc.status_code, exc.message, payment)
    messages = [message]
    refunds = []
    for refund in item.refunds:
        if refund.status != REFUNDED:
            continue
        try:
            changed, text = _refund(payment, refund)
        except PaymentError as exc:
            db.session.rollback()  # this refund only: what was committed before it stays
            refunds.append(RefundResult(refund, exc.status_code, exc.message))
            messages.append(f"Refund {refund.rtr_id} refused: {exc.message}")
        else:
            changes += changed
            refunds.append(RefundResult(refund, 200, text))
            messages.append(text)
    return ItemResult(item, 200, "; ".join(messages), payment, changes, tuple(refunds))


def _same_pix(receipt: PixReceipt, payment: Payment, item: PixItem) -> None:
    """Check that a known ``endToEndId`` comes back for the same charge and value.

    :raise Conflict: it names another charge or another value.
    """
    if receipt.payment_id != payment.id:
        raise Conflict("This endToEndId was already applied to another payment")
    if receipt.amount_cents != item.cents:
        raise Conflict(f"This endToEndId was applied with the value "
                       f"{cents_to_decimal(receipt.amount_cents)}, "
                       f"not {cents_to_decimal(item.cents)}")


def _receive(payment: Payment, item: PixItem) -> tuple[int, str]:
    """Confirm ``payment`` by this Pix unless its ``endToEndId`` was seen; return (changes, text).

    :raise Conflict: value, state or another Pix already paid this charge.
    """
    receipt = db.session.scalar(select(PixReceipt).filter_by(end_to_end_id=item.end_to_end_id))
    if receipt is not None:
        _same_pix(receipt, payment, item)
        status = payment.current_status()
        if status is PaymentStatus.PAID:
            return 0, service.OUTCOMES["approved"][1]
        return 0, f"This Pix was already applied; the payment is {status.value}"
    result = service.apply_notice(payment, item.cents, "approved")
    db.session.add(PixReceipt(end_to_end_id=item.end_to_end_id, payment_id=payment.id,
                              amount_cents=item.cents, paid_at=item.paid_at))
    try:
        db.session.commit()  # the receipt and the change it causes: one transaction
    except IntegrityError:  # a twin delivery stored it first, or another Pix paid this charge
        db.session.rollback()  # the change goes too: the twin's transaction made it
        receipt = db.session.scalar(
            select(PixReceipt).filter_by(end_to_end_id=item.end_to_end_id))
        if receipt is None:
            raise Conflict("The payment was already paid by another Pix; "
                           "this one must be returned to the payer") from None
        _same_pix(receipt, payment, item)
    return int(result.changed), result.message


def refunded_cents(payment: Payment) -> int:
    """Return the sum of the settled refunds recorded for ``payment``."""
    return _refunded_cents(payment)


def _refunded_cents(payment: Payment) -> int:
    """Return the sum of the settled refunds recorded for ``payment``."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(PixRefund.amount_cents), 0)).filter_by(payment_id=payment.id))
    return int(total or 0)


def _record_refund(payment: Payment, refund: Refund) -> bool:
    """Add a settled refund to the transaction once; return False if its rtrId is known.

    :raise Conflict: the charge was never paid, or refunds would exceed its value.
    """
    known = db.session.scalar(select(PixRefund).filter_by(rtr_id=refund.rtr_id))
    if known is not None:
        if known.payment_id != payment.id:
            raise Conflict("This refund was already applied to another payment")
        return False
    # Lock the charge (PostgreSQL) so concurrent refunds add up one after the other.
    db.session.execute(select(Payment.id).where(Payment.id == payment.id).with_for_update())
    if payment.current_status() not in (PaymentStatus.PAID, PaymentStatus.REFUNDED):
        raise Conflict(f"A payment that is {payment.current_status().value} cannot be refunded")
    db.session.add(PixRefund(rtr_id=refund.rtr_id, payment_id=payment.id,
                             amount_cents=refund.cents))
    try:
        db.session.flush()
    except IntegrityError:  # a twin delivery stored it first
        db.session.rollback()
        return False
    if _refunded_cents(payment) > payment.amount_cents:
        raise Conflict("This refund would take the refunds above the payment's value")
    return True


def apply_refund(payment: Payment, refund: Refund) -> tuple[int, str]:
    """Apply one settled refund learnt otherwise than in a notice (the provider, asked)."""
    return _refund(payment, refund)


def _refund(payment: Payment, refund: Refund) -> tuple[int, str]:
    """Apply a settled refund; the charge becomes refunded when refunds reach its value."""
    recorded = _record_refund(payment, refund)
    total = _refunded_cents(payment)
    if total >= payment.amount_cents:
        result = service.apply_notice(payment, payment.amount_cents, "refunded")
        db.session.commit()  # the refund and the change it completes: one transaction
        return int(result.changed), result.message
    db.session.commit()
    what = "was recorded" if recorded else "was already recorded"
    return 0, (f"Partial refund {refund.rtr_id} of {cents_to_decimal(refund.cents)} {what}; "
               f"{cents_to_decimal(total)} of {cents_to_decimal(payment.amount_cents)} refunded")
