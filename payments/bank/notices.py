"""Read the bank's notices strictly: the contract's own shape and the API Pix ``{"pix": [...]}``.

Pure validation: every malformed notice becomes a ``BadRequest`` naming the field, before
anything is applied.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import BadRequest
from .money import InvalidAmount, parse_amount, reais_to_cents
from .pix import MAX_AMOUNT_CENTS
from .services import OUTCOMES, UUID

#: Most items one API Pix delivery may carry.
MAX_PIX_ITEMS = 100

TXID = re.compile(r"[A-Za-z0-9]{1,35}", re.ASCII)  # API Pix allows 35; ours have 25
# The spec says 32 characters, yet some of its own examples have 34: take up to 35.
END_TO_END_ID = re.compile(r"[A-Za-z0-9]{1,35}", re.ASCII)
VALOR = re.compile(r"[0-9]{1,10}\.[0-9]{2}", re.ASCII)
REFUND_STATUSES = ("EM_PROCESSAMENTO", "DEVOLVIDO", "NAO_REALIZADO")
MAX_HORARIO_LENGTH = 40


@dataclass(frozen=True)
class Notice:
    """The contract's notice: this charge was approved, refused or refunded."""

    bank_payment_id: str
    cents: int
    outcome: str


@dataclass(frozen=True)
class Refund:
    """One ``devolucoes`` entry of a Pix."""

    rtr_id: str
    cents: int
    status: str


@dataclass(frozen=True)
class PixItem:
    """One received Pix of an API Pix notice."""

    end_to_end_id: str
    txid: str
    cents: int
    paid_at: datetime
    refunds: tuple[Refund, ...]


def parse_notice(data: dict) -> Notice:
    """Validate ``{"bank_payment_id", "value", "status"}``.

    :raise BadRequest: a field is missing or malformed.
    """
    bank_payment_id = data.get("bank_payment_id")
    if not isinstance(bank_payment_id, str) or not UUID.fullmatch(bank_payment_id):
        raise BadRequest("bank_payment_id must be a UUID string")
    if "value" not in data:
        raise BadRequest("Missing field: value")
    try:
        cents = parse_amount(data["value"], max_cents=MAX_AMOUNT_CENTS)  # what a BR Code carries
    except InvalidAmount as exc:
        raise BadRequest(str(exc)) from None
    outcome = data.get("status", "approved")
    if not isinstance(outcome, str) or outcome not in OUTCOMES:
        raise BadRequest("status must be one of: " + ", ".join(OUTCOMES))
    return Notice(bank_payment_id.lower(), cents, outcome)


def _valor(value: object, where: str) -> int:
    """Return an API Pix ``valor`` (``"110.00"``: a string with two decimals) as centavos."""
    if not isinstance(value, str) or not VALOR.fullmatch(value):
        raise BadRequest(f'{where} must be a decimal string with two places, e.g. "110.00"')
    try:
        return reais_to_cents(value)
    except InvalidAmount:
        raise BadRequest(f"{where} must be positive") from None


def _horario(value: object, where: str) -> datetime:
    """Return an RFC 3339 time (``2020-09-09T20:15:00.358Z``) as aware UTC."""
    if isinstance(value, str) and len(value) <= MAX_HORARIO_LENGTH and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    raise BadRequest(f"{where} must be an RFC 3339 time with an offset, e.g. 2026-11-23T10:05:00Z")


def _refunds(value: object, where: str) -> tuple[Refund, ...]:
    """Validate ``devolucoes``: a list of refunds (a lone object, as in the spec's example 1)."""
    if value is None:
        return ()
    entries = [value] if isinstance(value, dict) else value
    if not isinstance(entries, list) or len(entries) > MAX_PIX_ITEMS:
        raise BadRequest(f"{where} must be a list of at most {MAX_PIX_ITEMS} refunds")
    refunds = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise BadRequest(f"{at} must be an object")
        rtr_id = entry.get("rtrId")
        if not isinstance(rtr_id, str) or not END_TO_END_ID.fullmatch(rtr_id):
            raise BadRequest(f"{at}.rtrId must be 1 to 35 letters and digits")
        status = entry.get("status")
        if not isinstance(status, str) or status not in REFUND_STATUSES:
            raise BadRequest(f"{at}.status must be one of: " + ", ".join(REFUND_STATUSES))
        refunds.append(Refund(rtr_id, _valor(entry.get("valor"), f"{at}.valor"), status))
    return tuple(refunds)


def _pix_item(item: object, where: str) -> PixItem:
    """Validate one ``pix`` item."""
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object")
    end_to_end_id = item.get("endToEndId")
    if not isinstance(end_to_end_id, str) or not END_TO_END_ID.fullmatch(end_to_end_id):
        raise BadRequest(f"{where}.endToEndId must be 1 to 35 letters and digits")
    txid = item.get("txid")
    if not isinstance(txid, str) or not TXID.fullmatch(txid):
        raise BadRequest(f"{where}.txid must be 1 to 35 letters and digits")
    return PixItem(
        end_to_end_id=end_to_end_id,
        txid=txid,
        cents=_valor(item.get("valor"), f"{where}.valor"),
        paid_at=_horario(item.get("horario"), f"{where}.horario"),
        refunds=_refunds(item.get("devolucoes"), f"{where}.devolucoes"),
    )


def parse_pix_notice(data: dict) -> list[PixItem]:
    """Validate ``{"pix": [{"endToEndId", "txid", "valor", "horario", ...}, ...]}``.

    :raise BadRequest: not that shape, or more than ``MAX_PIX_ITEMS`` items.
    """
    items = data.get("pix")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_PIX_ITEMS:
        raise BadRequest(f'The body must be {{"pix": [...]}} with 1 to {MAX_PIX_ITEMS} items')
    return [_pix_item(item, f"pix[{index}]") for index, item in enumerate(items)]
