"""Refunds (``devolucao``) of a paid charge, asked of the provider and followed to their end.

A refund is stored first (``REQUESTED``: what it reserves is counted at once, so two
requests can never refund more than was paid), then asked for with ``PUT
/pix/{e2eid}/devolucao/{id}``, its ``id`` ours and unique. Its final state comes from a
callback (the Pix's ``devolucoes``) or from asking (``GET .../devolucao/{id}``, in the
background). Settled ones (``DEVOLVIDO``) go through ``receipts.apply_refund``, once per rtrId;
the charge becomes ``refunded`` when they add up to its value.
"""

import uuid
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import func, select

from payments.bank import receipts
from payments.bank.models import PixReceipt
from payments.bank.notices import Refund
from payments.charges.models import Payment, PaymentStatus, utcnow
from payments.errors import BadRequest, Conflict
from payments.extensions import db
from payments.pix.money import cents_to_decimal
from payments.psp.client import (
    ProviderError,
    ProviderNotFound,
    ProviderUnavailable,
    client,
    enabled,
)
from payments.psp.models import PspRefund, RefundStatus
from payments.web.bodies import Amount, parse

#: A refund not yet acknowledged is asked again only after this long (the first PUT may still
#: be on its way).
ASK_AGAIN_AFTER = timedelta(seconds=10)
#: Most open refunds followed up in one background run.
FOLLOW_LIMIT = 100
REASON_LIMIT = 500


class RefundRequest(BaseModel):
    """``POST /payments/pix/<id>/refund``: ``{}`` refunds what remains; ``{"value"}`` a part."""

    model_config = ConfigDict(extra="forbid")

    value: Amount | None = None


def new_refund_id() -> str:
    """Return a refund's id at the provider: 32 letters and digits, unique."""
    return uuid.uuid4().hex


def _open_cents(payment: Payment) -> int:
    """Return what the refunds still in progress reserve of ``payment``."""
    total = db.session.scalar(select(func.coalesce(func.sum(PspRefund.amount_cents), 0)).where(
        PspRefund.payment_id == payment.id, PspRefund.status.in_(RefundStatus.OPEN)))
    return int(total or 0)


def refundable_cents(payment: Payment) -> int:
    """Return what may still be refunded: the value less settled and open refunds."""
    return payment.amount_cents - receipts.refunded_cents(payment) - _open_cents(payment)


def request_refund(payment: Payment, amount_cents: int | None) -> PspRefund:
    """Store a refund of ``amount_cents`` (None: all that remains), ask the provider; return it.

    The provider not answering leaves the refund ``REQUESTED``: it is asked again in the
    background, never twice at once (the same id).

    :raise Conflict: no provider, the charge is not paid, or the value is more than remains.
    :raise ProviderError: the provider refused the refund (it is stored as failed).
    """
    if not enabled():
        raise Conflict("Refunds need a Pix provider: set PIX_PSP_URL (static BR Codes cannot "
                       "be refunded through the app)")
    status = payment.current_status()
    if status is PaymentStatus.REFUNDED:
        raise Conflict("The payment has already been refunded in full")
    if status is not PaymentStatus.PAID:
        raise Conflict(f"A payment that is {status.value} cannot be refunded; only a paid one")
    receipt = db.session.scalar(select(PixReceipt).filter_by(payment_id=payment.id))
    if receipt is None:
        raise Conflict("No Pix received at the provider is recorded for this payment; "
                       "there is nothing the provider could refund")
    # Lock the charge (PostgreSQL) so concurrent refunds reserve one after the other.
    db.session.execute(select(Payment.id).where(Payment.id == payment.id).with_for_update())
    remaining = refundable_cents(payment)
    amount = remaining if amount_cents is None else amount_cents
    if amount <= 0 or remaining <= 0:
        raise Conflict("Nothing remains to refund: settled and pending refunds already add up "
                       "to the payment's value")
    if amount > remaining:
        raise Conflict(f"The refund of {cents_to_decimal(amount)} is more than what remains "
                       f"to refund, {cents_to_decimal(remaining)}")
    refund = PspRefund(refund_id=new_refund_id(), payment_id=payment.id,
                       end_to_end_id=receipt.end_to_end_id, amount_cents=amount,
                       status=RefundStatus.REQUESTED)
    db.session.add(refund)
    db.session.commit()  # reserved before the provider hears of it
    ask(refund, payment)
    return refund


def ask(refund: PspRefund, payment: Payment) -> None:
    """Send the refund to the provider and store its answer.

    :raise ProviderError: the provider refused it (stored as failed); not for no answer.
    """
    try:
        answer = client().put_refund(refund.end_to_end_id, refund.refund_id,
                                     {"valor": str(cents_to_decimal(refund.amount_cents))})
    except ProviderUnavailable:
        return  # still REQUESTED: asked again in the background
    except ProviderError as exc:
        refund.status, refund.reason = RefundStatus.FAILED, exc.message[:REASON_LIMIT]
        db.session.commit()
        raise
    update(refund, payment, answer)


def update(refund: PspRefund, payment: Payment, data: dict) -> None:
    """Take the provider's record of ``refund``; apply it when settled; commit."""
    status = data.get("status")
    if status not in RefundStatus.ALL or status == RefundStatus.REQUESTED:
        return
    if isinstance(data.get("rtrId"), str):
        refund.rtr_id = data["rtrId"]
    if isinstance(data.get("motivo"), str):
        refund.reason = data["motivo"][:REASON_LIMIT]
    refund.status = status
    db.session.commit()
    if status == RefundStatus.SETTLED and refund.rtr_id:
        try:
            settled = Refund.model_validate({"rtrId": refund.rtr_id, "status": status,
                                             "valor": str(cents_to_decimal(refund.amount_cents))})
        except ValidationError:
            return
        receipts.apply_refund(payment, settled)  # once per rtrId; refunded when it adds up


def follow(devolucoes) -> None:
    """Take the states of our refunds from a Pix record's ``devolucoes`` (a list or one)."""
    entries = [devolucoes] if isinstance(devolucoes, dict) else devolucoes or []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        refund = db.session.scalar(select(PspRefund).filter_by(refund_id=entry["id"]))
        if refund is not None and refund.status in RefundStatus.OPEN:
            update(refund, db.session.get(Payment, refund.payment_id), entry)


def follow_open(limit: int = FOLLOW_LIMIT) -> int:
    """Ask the provider about refunds still open; return how many changed state."""
    now = utcnow()
    changed = 0
    open_refunds = db.session.scalars(select(PspRefund).where(
        PspRefund.status.in_(RefundStatus.OPEN)).order_by(PspRefund.id).limit(limit)).all()
    for refund in open_refunds:
        before = refund.status
        payment = db.session.get(Payment, refund.payment_id)
        try:
            data = client().get_refund(refund.end_to_end_id, refund.refund_id)
        except ProviderNotFound:
            if refund.status == RefundStatus.REQUESTED and \
                    refund.created_at <= now - ASK_AGAIN_AFTER:
                try:
                    ask(refund, payment)
                except ProviderError:
                    pass  # stored as failed
            changed += refund.status != before
            continue
        except ProviderError:
            break  # the provider is not answering: next run
        update(refund, payment, data)
        changed += refund.status != before
    db.session.commit()
    return changed


def parse_request(data: dict, max_cents: int) -> RefundRequest:
    """Validate the refund's body.

    :raise BadRequest: an unknown field or a bad value.
    """
    body = parse(RefundRequest, data, max_cents=max_cents)
    if body.value is not None and body.value <= 0:
        raise BadRequest("value must be positive")
    return body
