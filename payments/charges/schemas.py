"""The bodies of the charge routes, declared once: what they accept and what they answer.

The request models check input (``payments.web.bodies.parse``); every model
gives ``/openapi.json`` its schema; the tests hold each answer to its model.
"""

import unicodedata
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)

from payments.charges.listing import Filters
from payments.charges.models import PaymentStatus
from payments.charges.service import Order
from payments.patterns import EXTERNAL_ID, PUBLIC_ID, TXID, UUID
from payments.pix.brcode import MAX_PAYLOAD_LENGTH
from payments.web.bodies import Amount, invalid

#: Most keys of a charge's ``metadata``.
MAX_METADATA_KEYS = 20


def _text(value: Any) -> Any:
    """Refuse control characters (newlines included) in a text the page shows."""
    if isinstance(value, str) and any(unicodedata.category(c) == "Cc" for c in value):
        raise invalid("must not contain control characters")
    return value


def _external_id(value: Any) -> Any:
    """Take 1 to 64 of ``A-Za-z0-9._:-``."""
    if isinstance(value, str) and not EXTERNAL_ID.fullmatch(value):
        raise invalid("must be 1 to 64 of A-Z a-z 0-9 . _ : -")
    return value


def _metadata(value: Any) -> Any:
    """Check the metadata's shape before its keys and values are checked one by one."""
    if isinstance(value, dict) and len(value) > MAX_METADATA_KEYS:
        raise invalid(f"must have at most {MAX_METADATA_KEYS} keys")
    return value


def _return_url(value: Any, info: ValidationInfo) -> Any:
    """Take an absolute ``https`` URL (``http`` too in sandbox) with a host."""
    if not isinstance(value, str):
        return value
    schemes = ("https", "http") if (info.context or {}).get("sandbox") else ("https",)
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname or any(c.isspace() for c in value):
        raise invalid("must be an absolute " + " or ".join(schemes) + " URL")
    return value


Description = Annotated[str, Field(min_length=1, max_length=140,
                                   description="What is paid, shown on the page"),
                        AfterValidator(_text),
                        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 140,
                                        "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
                                        "description": "What is paid, shown on the page"})]
ExternalId = Annotated[str, BeforeValidator(_external_id),
                       WithJsonSchema({"type": "string", "pattern": f"^{EXTERNAL_ID.pattern}$",
                                       "description": "The merchant's order reference"})]
Metadata = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=40)], Annotated[str, Field(max_length=500)]],
    BeforeValidator(_metadata),
    WithJsonSchema({"type": "object", "maxProperties": MAX_METADATA_KEYS,
                    "propertyNames": {"minLength": 1, "maxLength": 40},
                    "additionalProperties": {"type": "string", "maxLength": 500},
                    "description": "The merchant's own data; never shown to the customer"}),
]
ReturnUrl = Annotated[str, BeforeValidator(_return_url), Field(max_length=2048),
                      WithJsonSchema({"type": "string", "format": "uri", "maxLength": 2048,
                                      "pattern": "^https://[^\\s/?#]+[^\\s]*$",
                                      "description": "Absolute https URL (http too in sandbox) "
                                      "the final pages link to: \"Voltar para a loja\""})]
ExpiresIn = Annotated[int, Field(strict=True, ge=10, le=604800,
                                 description="Seconds until the charge expires; default "
                                 "PIX_EXPIRATION_SECONDS")]


class CreatePayment(BaseModel):
    """``POST /payments/pix``: a charge of ``value`` reais, and what the order says of it."""

    model_config = ConfigDict(extra="forbid")

    value: Amount
    description: Description | None = None
    external_id: ExternalId | None = None
    metadata: Metadata | None = None
    return_url: ReturnUrl | None = None
    expires_in: ExpiresIn | None = None

    def order(self) -> Order:
        """Return the order's fields for ``service.create_payment``."""
        return Order(description=self.description, external_id=self.external_id,
                     metadata=dict(self.metadata or {}), return_url=self.return_url,
                     expires_in=self.expires_in)


class PublicPayment(BaseModel):
    """The payment object as the customer's browser gets it: no bank id, no metadata."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=f"^{PUBLIC_ID.pattern}$",
                             description="Opaque, unguessable id (128 random bits)")]
    value: Annotated[float, Field(gt=0, description="Reais, at most two decimals")]
    status: PaymentStatus
    paid: Annotated[bool, Field(description="True exactly when status is paid")]
    txid: Annotated[str, Field(pattern=f"^{TXID.pattern}$",
                               description="The Pix transaction id written into the BR Code")]
    qr_code_url: Annotated[str, Field(description="The PNG QR code: /payments/pix/<id>/qr.png "
                                      "(public view), /payments/pix/qr_code/<qr_code> (merchant)")]
    pix_code: Annotated[str, Field(max_length=MAX_PAYLOAD_LENGTH,
                                   description="Pix BR Code (copia e cola) with its CRC16")]
    page_url: str
    created_at: datetime
    expiration_date: datetime
    paid_at: datetime | None
    description: str | None
    external_id: str | None
    return_url: str | None
    updated_at: datetime


class Payment(PublicPayment):
    """The payment object in the merchant's view: the public one and what only it may see."""

    bank_payment_id: Annotated[str, Field(pattern=f"^{UUID.pattern}$")]
    qr_code: str
    metadata: dict[str, str]


class PaymentMessage(BaseModel):
    """An answer that reports what was done to a payment."""

    message: str
    payment: Payment


class Error(BaseModel):
    """Every error: what is wrong, in one sentence."""

    message: Annotated[str, Field(description="What is wrong")]


class ListQuery(BaseModel):
    """``GET /payments/pix``: the merchant's filters and page."""

    model_config = ConfigDict(extra="forbid")

    status: PaymentStatus | None = None
    external_id: ExternalId | None = None
    created_gte: Annotated[AwareDatetime | None, Field(
        description="Created at or after this time (ISO 8601 with an offset)")] = None
    created_lt: Annotated[AwareDatetime | None, Field(
        description="Created before this time (ISO 8601 with an offset)")] = None
    limit: Annotated[int, Field(ge=1, le=100, description="Charges per page")] = 20
    cursor: Annotated[str | None, Field(max_length=200,
                                        description="The next_cursor of the page before")] = None

    def filters(self) -> Filters:
        """Return the query as ``listing.Filters``."""
        return Filters(**self.model_dump())


class PaymentList(BaseModel):
    """A page of the merchant's charges, newest first."""

    data: list[Payment]
    next_cursor: Annotated[str | None, Field(
        description="Pass it back as cursor for the next page; null on the last")]
