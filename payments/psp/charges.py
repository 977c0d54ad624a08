"""Dynamic charges (``cob``) at the provider: create with ``PUT /cob/{txid}``, remove with PATCH."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from payments.pix.money import cents_to_decimal
from payments.psp.client import ProviderError, client, parse_time

#: The status that removes a charge at the receiver's request.
REMOVED = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
#: A static BR Code's txid has at most this many characters; a dynamic charge's, more.
STATIC_TXID_LENGTH = 25
#: Longest ``solicitacaoPagador`` the standard takes.
MAX_PAYER_REQUEST = 140


@dataclass(frozen=True)
class Cob:
    """What the app keeps of a charge the provider created."""

    txid: str
    pix_code: str
    expires_at: datetime


def new_dynamic_txid() -> str:
    """Return a random txid for a dynamic charge: 32 letters and digits (26 to 35 allowed)."""
    return uuid.uuid4().hex


def is_dynamic(txid: str) -> bool:
    """Tell whether ``txid`` names a dynamic charge at the provider (26 to 35 characters)."""
    return len(txid) > STATIC_TXID_LENGTH


def create_cob(amount_cents: int, expires_in: int, description: str | None) -> Cob:
    """Create the charge at the provider; return its txid, copia-e-cola code and expiry.

    :raise ProviderError: the provider is down (503) or refused it, or its answer lacks
        what a charge needs (502). Nothing is stored here, so nothing needs undoing.
    """
    txid = new_dynamic_txid()
    body: dict = {
        "calendario": {"expiracao": expires_in},
        "valor": {"original": str(cents_to_decimal(amount_cents))},
        "chave": current_app.config["PIX_KEY"],
    }
    if description:
        body["solicitacaoPagador"] = description[:MAX_PAYER_REQUEST]
    answer = client().put_cob(txid, body)
    pix_code = answer.get("pixCopiaECola")
    calendar = answer.get("calendario") if isinstance(answer.get("calendario"), dict) else {}
    created = parse_time(calendar.get("criacao"))
    seconds = calendar.get("expiracao", expires_in)
    if not isinstance(pix_code, str) or not pix_code:
        raise ProviderError("The Pix provider's charge has no pixCopiaECola")
    if answer.get("txid", txid) != txid:
        raise ProviderError(f"The Pix provider answered for txid {answer.get('txid')!r}, "
                            f"not {txid}")
    if created is None or isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ProviderError("The Pix provider's charge has no calendario.criacao and expiracao")
    valor = (answer.get("valor") or {}).get("original") if isinstance(answer.get("valor"),
                                                                      dict) else None
    if valor is not None and valor != body["valor"]["original"]:
        raise ProviderError(f"The Pix provider's charge is of {valor}, not "
                            f"{body['valor']['original']}")
    return Cob(txid=txid, pix_code=pix_code, expires_at=created + timedelta(seconds=seconds))


def remove_cob(txid: str) -> None:
    """Remove the charge at the provider so it can no longer be paid.

    :raise ProviderError: the provider is down (503) or refused (502: e.g. already paid).
    """
    client().patch_cob(txid, {"status": REMOVED})
