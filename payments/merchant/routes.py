"""The merchant's API: create, list, cancel and refund charges. Thin: the rules are in the services.

Every route needs the merchant's API key (``keys.merchant_route``); the writes
take an ``Idempotency-Key`` (``idempotency.idempotent``).
"""

from flask import Blueprint, current_app, request

from payments.charges import listing, service
from payments.charges.schemas import CreatePayment, ListQuery
from payments.errors import BadRequest
from payments.extensions import db
from payments.merchant.idempotency import idempotent
from payments.merchant.keys import merchant_route
from payments.psp import refunds
from payments.psp.models import RefundStatus
from payments.web.bodies import parse
from payments.web.inputs import json_object

bp = Blueprint("merchant", __name__, url_prefix="/payments/pix")


@bp.post("")
@merchant_route
@idempotent
def create():
    """Create a charge from ``{"value", "description"?, "external_id"?, ...}``."""
    cfg = current_app.config
    body = parse(CreatePayment, json_object(), max_cents=cfg["PIX_MAX_CENTS"],
                 sandbox=cfg["PAYMENTS_ENV"] == "sandbox")
    payment = service.create_payment(body.value, body.order()).to_dict()
    answer = {"message": "The payment has been created", "payment": payment}
    return answer, 201, {"Location": payment["page_url"]}


@bp.get("")
@merchant_route
def list_payments():
    """List the merchant's charges, newest first, a page at a time."""
    repeated = [name for name, values in request.args.lists() if len(values) > 1]
    if repeated:
        raise BadRequest(f"{repeated[0]} must be given once")
    query = parse(ListQuery, request.args.to_dict())
    payments, next_cursor = listing.list_payments(query.filters())
    return {"data": [payment.to_dict() for payment in payments], "next_cursor": next_cursor}


@bp.post("/<payment_id>/cancel")
@merchant_route
@idempotent
def cancel(payment_id: str):
    """Cancel a pending charge; a canceled one stays as it is."""
    if request.get_data(cache=True).strip() and json_object():
        raise BadRequest("The body must be empty or {}")
    payment = service.get_payment(payment_id)
    changed = service.cancel_payment(payment)
    db.session.commit()  # the cancel's unit of work: its change is published after this
    message = "The payment has been canceled" if changed else "The payment was already canceled"
    return {"message": message, "payment": payment.to_dict()}


@bp.post("/<payment_id>/refund")
@merchant_route
@idempotent
def refund(payment_id: str):
    """Refund a paid charge at the Pix provider: ``{}`` all that remains, ``{"value"}`` a part.

    ``202`` while the provider processes it; ``200`` when it settled at once.
    """
    data = json_object() if request.get_data(cache=True).strip() else {}
    body = refunds.parse_request(data, current_app.config["PIX_MAX_CENTS"])
    payment = service.get_payment(payment_id)
    asked = refunds.request_refund(payment, body.value)
    db.session.refresh(payment)
    if asked.status == RefundStatus.SETTLED:
        message, status = "The refund has been settled", 200
    elif asked.status == RefundStatus.REQUESTED:
        message, status = ("The refund has been stored; the Pix provider did not answer yet and "
                           "is asked again in the background"), 202
    else:
        message, status = "The refund has been requested; the Pix provider is processing it", 202
    return {"message": message, "refund": asked.to_dict(), "payment": payment.to_dict()}, status
