"""Customer-facing routes: a charge's page, its status, its events and its QR code."""

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from payments.charges import service
from payments.charges.models import LIVE, PaymentStatus
from payments.errors import BadRequest
from payments.extensions import db
from payments.merchant import keys
from payments.pix.brcode import MAX_CITY_LENGTH, MAX_NAME_LENGTH, ascii_text
from payments.pix.money import format_brl
from payments.pix.qr import render_png
from payments.realtime import sse, watchers

bp = Blueprint("pix", __name__, url_prefix="/payments/pix")

BRASILIA = ZoneInfo("America/Sao_Paulo")


def _display(moment: datetime | None) -> str | None:
    """Format a time for the page: Brasília time, ``23/11/2026 às 07:30``."""
    if moment is None:
        return None
    return moment.astimezone(BRASILIA).strftime("%d/%m/%Y às %H:%M")


@bp.get("/<payment_id>")
def page(payment_id: str):
    """Show the customer's page for the charge's current state."""
    payment = service.get_payment(payment_id)
    data = payment.to_dict(merchant=False)
    html = render_template(
        f"payment/{data['status']}.html",
        payment=data,
        amount=format_brl(payment.amount_cents),
        description=payment.description,
        receiver=receiver(),
        return_url=payment.return_url,
        paid_at_display=_display(payment.paid_at),
        expires_at_display=_display(payment.expires_at),
        status_url=url_for("pix.status", payment_id=payment.public_id),
        events_url=url_for("pix.events", payment_id=payment.public_id),
        push_url=url_for("push.public_key", payment_id=payment.public_id),
        worker_url=url_for("push.service_worker"),
        worker_scope=url_for("push.service_worker").rsplit("/", 1)[0] + "/",  # its folder
    )
    # The page reloads itself on a change: it must get the new state, never a cached one.
    return html, 200, {"Cache-Control": "no-store"}


#: Longest a long poll may hold its answer, in seconds.
MAX_WAIT_SECONDS = 30
STATUSES = frozenset(status.value for status in PaymentStatus)


@bp.app_template_global()
def status_names(live_only: bool = False) -> str:
    """Return the statuses (or only those a page keeps listening in), for the page's script."""
    return " ".join(status.value for status in PaymentStatus if status in LIVE or not live_only)


def _long_poll_args() -> tuple[int, str | None]:
    """Return ``wait`` (0 when absent) and ``status`` from the query string.

    :raise BadRequest: ``wait`` is not a whole number from 0 to 30, or ``status`` is unknown.
    """
    raw_wait = request.args.get("wait")
    wait = 0
    if raw_wait is not None:
        if not (raw_wait.isascii() and raw_wait.isdigit()) or int(raw_wait) > MAX_WAIT_SECONDS:
            raise BadRequest(f"wait must be a whole number of seconds from 0 to {MAX_WAIT_SECONDS}")
        wait = int(raw_wait)
    known = request.args.get("status")
    if known is not None and known not in STATUSES:
        raise BadRequest(f"status must be one of: {', '.join(sorted(STATUSES))}")
    return wait, known


def receiver() -> dict[str, str]:
    """Return the receiver as every BR Code names it, so the page shows what the bank app will."""
    cfg = current_app.config
    return {"name": ascii_text(cfg["PIX_MERCHANT_NAME"], MAX_NAME_LENGTH),
            "city": ascii_text(cfg["PIX_MERCHANT_CITY"], MAX_CITY_LENGTH)}


@bp.get("/<payment_id>/status")
def status(payment_id: str):
    """Return the payment object; with ``wait``, once it differs from ``status`` or time is up.

    Without ``status`` a long poll waits for a change from the current status. With a
    valid API key the answer is the merchant's view, else the public one; a wrong key is 401.
    """
    merchant = keys.merchant() not in (None, keys.OPEN) or _open_and_asked()
    wait, known = _long_poll_args()
    data = service.get_payment(payment_id).to_dict(merchant)
    known = known or data["status"]
    if wait == 0 or data["status"] != known:
        return data
    db.session.close()  # hand the connection back to the pool while we wait
    with watchers.hub().watch(data["id"], known) as watch:
        changes = watch.wait(wait)
    if changes and not merchant:
        return changes[-1]  # what the watch was told: the public view
    # No news (or the merchant's view): answer with a fresh read, which also catches a
    # change that slipped in between the first read and the watch.
    return service.get_payment(payment_id).to_dict(merchant)


def _open_and_asked() -> bool:
    """Tell whether, with no API keys set (sandbox), the caller still sent a bearer token.

    Then it is the merchant's system, asking as it would in production: its view.
    """
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


@bp.get("/<payment_id>/events")
def events(payment_id: str):
    """Stream the payment object as Server-Sent Events: now, then on every change."""
    first = service.get_payment(payment_id).to_dict(merchant=False)
    stream = sse.stream(watchers.hub(), first, current_app.config["SSE_KEEPALIVE_SECONDS"])
    return Response(stream, mimetype="text/event-stream", headers=sse.HEADERS)


@bp.get("/qr_code/<name>")
def qr_code(name: str):
    """Return the charge's QR code as PNG, by its name (``qr_code_payment_<bank id>``)."""
    return _png(service.find_by_qr_code(name))


@bp.get("/<payment_id>/qr.png")
def qr_png(payment_id: str):
    """Return the charge's QR code as PNG, by the charge's public id (what the page uses)."""
    return _png(service.find_payment(payment_id))


def _png(payment) -> Response:
    """Return the payment's QR code, cacheable for a day (it never changes).

    :raise NotFound: no such payment (404).
    """
    if payment is None:
        abort(404, "QR code not found")
    png = render_png(payment.pix_code)
    response = Response(png, mimetype="image/png")
    response.set_etag(hashlib.sha256(png).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    response.cache_control.immutable = True
    return response.make_conditional(request)
