"""Customer-facing routes: create a charge, its page, its status and its QR code."""

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from . import services
from .errors import BadRequest
from .inputs import json_object
from .money import InvalidAmount, format_brl, parse_amount
from .qr import render_png

bp = Blueprint("pix", __name__, url_prefix="/payments/pix")

BRASILIA = ZoneInfo("America/Sao_Paulo")


@bp.post("")
def create():
    """Create a charge from ``{"value": ...}``."""
    data = json_object()
    if "value" not in data:
        raise BadRequest("Missing field: value")
    try:
        cents = parse_amount(data["value"], max_cents=current_app.config["PIX_MAX_CENTS"])
    except InvalidAmount as exc:
        raise BadRequest(str(exc)) from None
    payment = services.create_payment(cents)
    body = {"message": "The payment has been created", "payment": payment.to_dict()}
    return body, 201, {"Location": url_for("pix.page", payment_id=payment.public_id)}


def _display(moment: datetime | None) -> str | None:
    """Format a time for the page: Brasília time, ``23/11/2026 às 07:30``."""
    if moment is None:
        return None
    return moment.astimezone(BRASILIA).strftime("%d/%m/%Y às %H:%M")


@bp.get("/<payment_id>")
def page(payment_id: str):
    """Show the customer's page for the charge's current state."""
    payment = services.get_payment(payment_id)
    data = payment.to_dict()
    html = render_template(
        f"payment/{data['status']}.html",
        payment=data,
        amount=format_brl(payment.amount_cents),
        paid_at_display=_display(payment.paid_at),
        expires_at_display=_display(payment.expires_at),
        status_url=url_for("pix.status", payment_id=payment.public_id),
        events_url=f"{data['page_url']}/events",
    )
    # The page reloads itself on a change: it must get the new state, never a cached one.
    return html, 200, {"Cache-Control": "no-store"}


@bp.get("/<payment_id>/status")
def status(payment_id: str):
    """Return the payment object."""
    return services.get_payment(payment_id).to_dict()


@bp.get("/qr_code/<name>")
def qr_code(name: str):
    """Return the charge's QR code as PNG, rendered from its stored BR Code."""
    payment = services.find_by_qr_code(name)
    if payment is None:
        abort(404, "QR code not found")
    png = render_png(payment.pix_code)
    response = Response(png, mimetype="image/png")
    response.set_etag(hashlib.sha256(png).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    response.cache_control.immutable = True
    return response.make_conditional(request)
