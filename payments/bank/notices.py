"""The bank's notices, declared once: the contract's own shape and the API Pix ``{"pix": [...]}``.

Each model both checks a notice (every malformed one becomes a ``BadRequest``
naming the field, before anything is applied) and describes it in
``/openapi.json``. Fields an API Pix item may carry beyond these (``infoPagador``,
``chave``, ...) are ignored.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from payments.charges.service import OUTCOMES
from payments.patterns import END_TO_END_ID, MAX_PIX_ITEMS, TXID, UUID
from payments.pix.brcode import MAX_AMOUNT_CENTS
from payments.pix.money import reais_to_cents
from payments.web.bodies import Amount, invalid, parse

#: An API Pix ``valor``: a positive decimal string with exactly two places, ten digits at most.
VALOR = re.compile(r"(?:[1-9][0-9]{0,9}\.[0-9]{2}|0\.(?:[1-9][0-9]|0[1-9]))", re.ASCII)
REFUND_STATUSES = ("EM_PROCESSAMENTO", "DEVOLVIDO", "NAO_REALIZADO")
#: Longest ``horario`` read: RFC 3339 with nanoseconds and an offset is 35 characters.
MAX_HORARIO_LENGTH = 40


def _matching(pattern, text: str):
    """Return a validator that takes a string matching ``pattern`` (fully), else says ``text``."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise invalid(text)
        return value

    return check


def _valor(value: Any) -> int:
    """Return an API Pix ``valor`` (``"110.00"``) as centavos."""
    if not isinstance(value, str) or not VALOR.fullmatch(value):
        raise invalid('must be a positive decimal string with two places, e.g. "110.00"')
    return reais_to_cents(value)


def _horario(value: Any) -> datetime:
    """Return an RFC 3339 time with an offset (``2020-09-09T20:15:00.358Z``) as aware UTC.

    A time that is valid where it was written but falls outside years 1 to 9999 once in UTC
    (``9999-12-31T23:59:59-14:00``) is refused too: ``astimezone`` raises ``OverflowError``
    for it, which pydantic does not turn into a validation error, so left alone it is a 500.
    """
    moment = None
    if isinstance(value, str) and len(value) <= MAX_HORARIO_LENGTH and value[10:11] in "Tt":
        try:
            moment = datetime.fromisoformat(value.upper())
        except (ValueError, OverflowError):
            moment = None
    if moment is None or moment.tzinfo is None:
        raise invalid("must be an RFC 3339 time with an offset, e.g. 2026-11-23T10:05:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise invalid("must be a time from year 1 to year 9999 in UTC") from None


def _listed(value: Any) -> Any:
    """Take a lone refund object as a list of one, as the standard's own first example has it."""
    value = [value] if isinstance(value, dict) else value
    if not isinstance(value, list) or len(value) > MAX_PIX_ITEMS:
        raise invalid(f"must be a list of at most {MAX_PIX_ITEMS} refunds")
    return value


def _items(value: Any) -> Any:
    """Check that ``pix`` is a list of 1 to ``MAX_PIX_ITEMS`` items."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PIX_ITEMS:
        raise invalid(f"must be a list of 1 to {MAX_PIX_ITEMS} items")
    return value


Uuid = Annotated[str, BeforeValidator(_matching(UUID, "must be a UUID string")),
                 WithJsonSchema({"type": "string", "format": "uuid",
                                 "pattern": f"^{UUID.pattern}$"})]
Txid = Annotated[str, BeforeValidator(_matching(TXID, "must be 1 to 35 letters and digits")),
                 WithJsonSchema({"type": "string", "pattern": f"^{TXID.pattern}$"})]
EndToEndId = Annotated[str, BeforeValidator(_matching(END_TO_END_ID,
                                                      "must be 1 to 35 letters and digits")),
                       WithJsonSchema({"type": "string", "pattern": f"^{END_TO_END_ID.pattern}$",
                                       "example": "E00000000202611231005abcdefghijk"})]
Valor = Annotated[int, BeforeValidator(_valor),
                  WithJsonSchema({"type": "string", "pattern": f"^{VALOR.pattern}$",
                                  "example": "110.00"})]
Horario = Annotated[datetime, BeforeValidator(_horario),
                    WithJsonSchema({"type": "string", "format": "date-time",
                                    "example": "2026-11-23T10:05:00.000Z"})]


class Notice(BaseModel):
    """The contract's notice: this charge was approved, refused or refunded."""

    model_config = ConfigDict(frozen=True)

    bank_payment_id: Uuid
    value: Amount
    status: Literal[tuple(OUTCOMES)] = Field(  # type: ignore[valid-type]
        default="approved", description="What happened to the charge")


class Refund(BaseModel):
    """One ``devolucoes`` entry of a Pix."""

    model_config = ConfigDict(frozen=True)

    rtr_id: EndToEndId = Field(alias="rtrId")
    cents: Valor = Field(alias="valor")
    status: Literal[REFUND_STATUSES]  # type: ignore[valid-type]


class PixItem(BaseModel):
    """One received Pix of an API Pix notice."""

    model_config = ConfigDict(frozen=True)

    end_to_end_id: EndToEndId = Field(alias="endToEndId")
    txid: Txid
    cents: Valor = Field(alias="valor")
    paid_at: Horario = Field(alias="horario")
    refunds: Annotated[tuple[Refund, ...], BeforeValidator(_listed)] = Field(
        default=(), alias="devolucoes", max_length=MAX_PIX_ITEMS)


class PixNotice(BaseModel):
    """The API Pix callback: ``{"pix": [1 to 100 items]}``."""

    pix: Annotated[list[PixItem], BeforeValidator(_items)] = Field(
        min_length=1, max_length=MAX_PIX_ITEMS)


def parse_notice(data: dict) -> Notice:
    """Validate ``{"bank_payment_id", "value", "status"}``.

    :raise BadRequest: a field is missing or malformed.
    """
    notice = parse(Notice, data, max_cents=MAX_AMOUNT_CENTS)  # what a BR Code carries
    return notice.model_copy(update={"bank_payment_id": notice.bank_payment_id.lower()})


def parse_pix_notice(data: dict) -> list[PixItem]:
    """Validate ``{"pix": [{"endToEndId", "txid", "valor", "horario", ...}, ...]}``.

    :raise BadRequest: not that shape, or more than ``MAX_PIX_ITEMS`` items.
    """
    return parse(PixNotice, data).pix

