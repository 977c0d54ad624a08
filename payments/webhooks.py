"""The bank's webhook: notices that a charge was paid, refused or refunded."""

from flask import Blueprint

from . import services
from .errors import BadRequest
from .inputs import json_object
from .money import InvalidAmount, parse_amount

bp = Blueprint("webhooks", __name__, url_prefix="/payments/pix")

#: Largest amount a BR Code can carry (field 54: ten digits of reais).
NOTICE_MAX_CENTS = 99_999_999_999


def _notice(data: dict) -> tuple[str, int, str]:
    """Validate a notice body; return (bank_payment_id, cents, outcome).

    :raise BadRequest: a field is missing or malformed.
    """
    bank_payment_id = data.get("bank_payment_id")
    if not isinstance(bank_payment_id, str) or not services.UUID.fullmatch(bank_payment_id):
        raise BadRequest("bank_payment_id must be a UUID string")
    if "value" not in data:
        raise BadRequest("Missing field: value")
    try:
        cents = parse_amount(data["value"], max_cents=NOTICE_MAX_CENTS)
    except InvalidAmount as exc:
        raise BadRequest(str(exc)) from None
    outcome = data.get("status", "approved")
    if not isinstance(outcome, str) or outcome not in services.OUTCOMES:
        raise BadRequest("status must be one of: " + ", ".join(services.OUTCOMES))
    return bank_payment_id.lower(), cents, outcome


@bp.post("/confirmation")
def confirmation():
    """Apply the bank's notice ``{"bank_payment_id", "value", "status"}``."""
    bank_payment_id, cents, outcome = _notice(json_object())
    payment = services.find_by_bank_payment_id(bank_payment_id)
    result = services.apply_notice(payment, cents, outcome)
    return {"message": result.message, "payment": result.payment.to_dict()}
