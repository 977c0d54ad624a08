"""The bank's webhook: notices that a charge was paid, refused or refunded.

Every request is recorded in the delivery log before it is acted on; with
``PIX_WEBHOOK_SECRET`` set, one whose signature does not hold is answered 401, recorded
without its body, and goes no further. With ``PIX_PSP_URL`` set, ``/confirmation/pix`` is the
provider's callback: no signature (mutual TLS at the edge), and each item is applied only once
the provider confirms it (``payments.psp.callbacks``).
"""

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from payments.bank import deliveries, receipts
from payments.bank.models import WebhookDelivery
from payments.bank.notices import parse_notice, parse_pix_notice
from payments.bank.signature import HEADER, SignatureError, verify_signature
from payments.charges import service
from payments.errors import BadRequest, PaymentError, Unauthorized
from payments.extensions import db
from payments.patterns import MAX_WEBHOOK_BODY
from payments.psp import callbacks
from payments.psp.client import enabled as psp_enabled
from payments.web.inputs import json_object, parse_json_object

bp = Blueprint("webhooks", __name__, url_prefix="/payments/pix")


def confirm(data: dict) -> tuple[dict, int]:
    """Apply a contract notice; return the answer and how many payments changed.

    :raise PaymentError: 400 malformed, 404 unknown charge, 409 refused by the rules.
    """
    notice = parse_notice(data)
    payment = service.find_by_bank_payment_id(notice.bank_payment_id)
    result = service.apply_notice(payment, notice.value, notice.status)
    db.session.commit()  # the notice's unit of work: its change is published after this
    return {"message": result.message, "payment": result.payment.to_dict()}, int(result.changed)


def confirm_pix(data: dict) -> tuple[dict, int]:
    """Apply an API Pix notice item by item; return the answer and how many payments changed.

    :raise BadRequest: the body is not ``{"pix": [...]}`` of valid items; nothing is applied.
    """
    items = parse_pix_notice(data)
    # With a Pix provider each item is a hint, applied only as the provider records it.
    apply = callbacks.apply_verified if psp_enabled() else receipts.apply_pix_item
    results = [apply(item) for item in items]
    return {"results": [r.to_dict() for r in results]}, sum(r.changes for r in results)


#: The handler of each webhook route, by endpoint name: the name, not the path, is what the
#: delivery log records, so ``deliveries replay`` finds it again whatever the URL prefix.
HANDLERS = {
    "webhooks.confirmation": confirm,
    "webhooks.confirmation_pix": confirm_pix,
}


def replay(delivery: WebhookDelivery, force: bool = False) -> tuple[int, dict]:
    """Apply a recorded delivery's body again; return status and answer.

    The signature is not checked again (we recorded it), but a delivery whose
    signature failed when it came is refused unless ``force``: it may be forged.
    """
    handler = HANDLERS.get(delivery.route)
    try:
        if handler is None:
            raise BadRequest(f"No webhook route {delivery.route}")
        if delivery.signature_ok is False and not force:
            raise Unauthorized("This delivery's signature did not hold when it came; it may be "
                               "forged and is not replayed without --force")
        kept = deliveries.body_kept(delivery)
        if kept == "none":
            raise BadRequest("The body of this delivery was not kept (refused before it was "
                             "read, or its signature failed); it cannot be replayed")
        if kept == "cut":
            raise BadRequest("The recorded body was cut short; it cannot be replayed")
        answer, _ = handler(parse_json_object(delivery.body))
    except PaymentError as exc:
        return exc.status_code, {"message": exc.message}
    return 200, answer


@bp.before_request
def receive() -> None:
    """Record the delivery, then refuse it if its signature does not hold.

    :raise Unauthorized: a secret is configured and the signature is missing, stale or wrong.
    """
    if request.method != "POST":  # OPTIONS (a CORS preflight) is no delivery
        return
    request.max_content_length = MAX_WEBHOOK_BODY
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        g.delivery_id = deliveries.record(request.endpoint, b"", None, request.content_length or 0)
        raise
    secret = current_app.config.get("PIX_WEBHOOK_SECRET")
    if request.endpoint == "webhooks.confirmation_pix" and psp_enabled():
        # The provider authenticates with mutual TLS at our edge, not our HMAC; and each item
        # is checked with the provider before it is applied.
        secret = None
    reason = None
    if secret:
        try:
            verify_signature(secret, request.headers.get(HEADER), body)
        except SignatureError as exc:
            reason = exc.reason
    if reason is not None:  # kept without its body: time, route, size and (as result) why
        g.delivery_id = deliveries.record(request.endpoint, b"", False, len(body))
        raise Unauthorized(f"Invalid webhook signature: {reason}")
    g.delivery_id = deliveries.record(request.endpoint, body, True if secret else None)


def _summary(response: Response) -> str:
    """Return what the answer said, in one line, for the delivery log."""
    data = response.get_json(silent=True) if response.is_json else None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return "; ".join(f"{r['endToEndId']}: {r['status']} {r['message']}"
                         for r in data["results"])
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return response.status


@bp.after_request
def log_result(response: Response) -> Response:
    """Store the answer in the delivery log."""
    delivery_id = g.pop("delivery_id", None)
    if delivery_id is not None:
        deliveries.finish(delivery_id, response.status_code, _summary(response),
                          g.pop("delivery_changes", None))
    return response


@bp.post("/confirmation")
def confirmation():
    """Apply the bank's notice ``{"bank_payment_id", "value", "status"}``."""
    answer, g.delivery_changes = confirm(json_object())
    return answer


@bp.post("/confirmation/pix")
def confirmation_pix():
    """Apply the bank's API Pix notice ``{"pix": [{"endToEndId", "txid", "valor", ...}]}``.

    Items are matched by ``txid`` and applied in order under the same rules as
    ``/confirmation`` (value must equal the charge's; expired or illegal moves are refused).
    A known ``endToEndId`` is not applied twice; a second Pix for an already paid charge is
    refused. ``devolucoes`` entries with status ``DEVOLVIDO`` are refunds: once per ``rtrId``;
    the charge becomes ``refunded`` when they add up to its value.

    Answers ``200 {"results": [{"endToEndId", "txid", "status", "message", "payment"}]}``, one
    result per item in order: ``status`` 200 (applied, or already applied), 404 (no charge
    with that txid; ``payment`` is null) or 409 (refused by the rules). A body that is not
    ``{"pix": [1 to 100 valid items]}`` is answered 400 and nothing is applied.
    """
    answer, g.delivery_changes = confirm_pix(json_object())
    return answer
