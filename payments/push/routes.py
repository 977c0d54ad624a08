"""Web Push routes: the public key, (un)subscribe, the merchant's notify, the service worker.

Thin: the rules are in ``subscriptions`` and ``notices``. The customer's routes
need no key; ``notify`` is a merchant route (API key, ``Idempotency-Key``).
"""

from pathlib import Path

from flask import Blueprint, Response, current_app, request

from payments.charges import service
from payments.merchant.idempotency import idempotent
from payments.merchant.keys import merchant_route
from payments.push import keys, notices, subscriptions
from payments.web.bodies import parse
from payments.web.inputs import json_object

bp = Blueprint("push", __name__, url_prefix="/payments/pix")


@bp.get("/<payment_id>/push")
def public_key(payment_id: str):
    """Return the key browsers subscribe with (``applicationServerKey``)."""
    service.get_payment(payment_id)
    return {"public_key": keys.public_key()}


@bp.post("/<payment_id>/push")
def subscribe(payment_id: str):
    """Subscribe a browser's ``PushSubscription`` to the charge's news."""
    body = json_object()
    service.get_payment(payment_id)  # 404 before 400: there is no such charge to subscribe to
    sandbox = current_app.config["PAYMENTS_ENV"] == "sandbox"
    found = subscriptions.subscribe(
        payment_id, subscriptions.parse_subscription(body, sandbox=sandbox)
    )
    return {"id": found.id}, 201


@bp.delete("/<payment_id>/push/<subscription_id>")
def unsubscribe(payment_id: str, subscription_id: str):
    """Stop pushing the charge's news to one browser."""
    subscriptions.unsubscribe(payment_id, subscription_id)
    return "", 204


@bp.post("/<payment_id>/push/notify")
@merchant_route
@idempotent
def notify(payment_id: str):
    """Queue the merchant's ``{"title", "body", "url"?}`` for the charge's browsers."""
    cfg = current_app.config
    notice = parse(notices.PushNotice, json_object(), sandbox=cfg["PAYMENTS_ENV"] == "sandbox")
    return {"queued": notices.queue(payment_id, notice)}, 202


@bp.get("/sw.js")
def service_worker():
    """Serve the service worker that shows pushes; its scope is ``/payments/pix/``."""
    script = (Path(current_app.static_folder) / "js" / "sw.js").read_bytes()
    response = Response(script, mimetype="text/javascript")
    response.cache_control.no_cache = True  # an update of the worker reaches browsers at once
    response.add_etag()
    return response.make_conditional(request)
