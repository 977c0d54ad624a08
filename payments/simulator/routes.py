"""The simulator's routes: API Pix under ``/v2``, the location payload, and ``/sim`` helpers."""

from __future__ import annotations

import ipaddress
import json
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from payments.pix.brcode import InvalidPixKey, normalize_pix_key
from payments.simulator import auth, charges, received
from payments.simulator.problems import Problem, invalid
from payments.simulator.values import now, stamp

api = Blueprint("api_pix", __name__, url_prefix="/v2")
public = Blueprint("public", __name__)
sim_bp = Blueprint("sim", __name__, url_prefix="/sim")

api.before_request(auth.require_token)


def _sim():
    return current_app.extensions["simulator"]


def _body(kind: str, prop: str) -> object:
    """Return the JSON body (``None`` when empty).

    :raise Problem: a body that is not JSON, as a ``kind`` problem.
    """
    data = request.get_data()
    if not data.strip():
        return None
    try:
        return json.loads(data)
    except ValueError:
        raise invalid(kind, "the body is not valid JSON", prop) from None


# --- cob -------------------------------------------------------------------------------------


@api.put("/cob/<txid>")
def put_cob(txid: str):
    """Create an immediate charge (idempotent by txid)."""
    return charges.create(_sim(), txid, _body(charges.KIND, "cob"), request.host), 201


@api.get("/cob/<txid>")
def get_cob(txid: str):
    """Read a charge, with the Pix it received."""
    return charges.find(_sim(), txid)


@api.patch("/cob/<txid>")
def patch_cob(txid: str):
    """Revise or remove a charge."""
    return charges.revise(_sim(), txid, _body(charges.KIND, "cob"))


# --- pix and refunds -------------------------------------------------------------------------


@api.get("/pix/<e2eid>")
def get_pix(e2eid: str):
    """Read a received Pix."""
    return received.find(_sim(), e2eid)


@api.get("/pix")
def list_pix():
    """List received Pix, a page at a time."""
    return received.listing(_sim(), request.args)


@api.put("/pix/<e2eid>/devolucao/<refund_id>")
def put_refund(e2eid: str, refund_id: str):
    """Ask for a refund."""
    body = _body("PixDevolucaoInvalida", "devolucao")
    return received.refund(_sim(), e2eid, refund_id, body), 201


@api.get("/pix/<e2eid>/devolucao/<refund_id>")
def get_refund(e2eid: str, refund_id: str):
    """Read a refund."""
    return received.find_refund(_sim(), e2eid, refund_id)


# --- webhook ---------------------------------------------------------------------------------


def _chave(chave: str, kind: str) -> str:
    try:
        return normalize_pix_key(chave)
    except InvalidPixKey as exc:
        raise invalid(kind, str(exc), "webhook.chave", chave) from None


@api.put("/webhook/<chave>")
def put_webhook(chave: str):
    """Register where the Pix of ``chave`` are called back (``{webhookUrl}/pix``)."""
    kind = "WebhookOperacaoInvalida"
    chave = _chave(chave, kind)
    body = _body(kind, "webhook")
    url = body.get("webhookUrl") if isinstance(body, dict) else None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(kind, "webhookUrl must be an http(s) URL", "webhook.webhookUrl", url)
    webhook = {"webhookUrl": url, "chave": chave, "criacao": stamp(now())}
    _sim().store.set_webhook(chave, webhook)
    return webhook


def _webhook(chave: str) -> dict:
    webhook = _sim().store.webhook(_chave(chave, "WebhookOperacaoInvalida"))
    if webhook is None:
        raise Problem("WebhookNaoEncontrado", 404, f"no webhook for the key {chave}")
    return webhook


@api.get("/webhook/<chave>")
def get_webhook(chave: str):
    """Read the webhook of ``chave``."""
    return _webhook(chave)


@api.delete("/webhook/<chave>")
def delete_webhook(chave: str):
    """Remove the webhook of ``chave``."""
    _sim().store.set_webhook(_webhook(chave)["chave"], None)
    return "", 204


# --- public: the location payload and its key ------------------------------------------------


@public.get("/qr/v2/<loc_token>")
def location(loc_token: str) -> Response:
    """Serve the charge behind a location as a signed JWS (``application/jose``)."""
    payload = charges.payload(_sim(), loc_token)
    token = _sim().signer.sign(payload, url_for("public.jwks", _external=True))
    return Response(token, mimetype="application/jose")


@public.get("/jwks")
def jwks():
    """Publish the public key that signs the location payloads."""
    return jsonify(_sim().signer.key_set())


@public.get("/health")
def health():
    """Say the simulator is up."""
    return {"status": "ok"}


# --- /sim: playing the payer's bank (loopback only) ------------------------------------------


@sim_bp.before_request
def _loopback_only():
    """Refuse ``/sim`` calls from anywhere but this machine."""
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Problem("AcessoNegado", 403, "/sim is only served to this machine")


@sim_bp.post("/pay/<txid>")
def pay(txid: str):
    """Pay a charge as the payer's bank would (optional ``{"valor", "infoPagador"}``)."""
    pix, callback = received.pay(_sim(), txid, _body("RequisicaoInvalida", "pagamento"))
    return {"pix": pix, "callback": callback}, 201


@sim_bp.get("/callbacks")
def callbacks():
    """List the callbacks sent (or dropped) and how each went."""
    return {"callbacks": _sim().notifier.log()}
