"""The bodies of the charge routes, declared once: what they accept and what they answer.

The request models check input (``payments.web.bodies.parse``); every model
gives ``/openapi.json`` its schema; the tests hold each answer to its model.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from payments.charges.models import PaymentStatus
from payments.patterns import PUBLIC_ID, TXID, UUID
from payments.pix.brcode import MAX_PAYLOAD_LENGTH
from payments.web.bodies import Amount


class CreatePayment(BaseModel):
    """``POST /payments/pix``: a charge of ``value`` reais."""

    value: Amount


class Payment(BaseModel):
    """The payment object, as every route and event carries it."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=f"^{PUBLIC_ID.pattern}$",
                             description="Opaque, unguessable id (128 random bits)")]
    value: Annotated[float, Field(gt=0, description="Reais, at most two decimals")]
    status: PaymentStatus
    paid: Annotated[bool, Field(description="True exactly when status is paid")]
    bank_payment_id: Annotated[str, Field(pattern=f"^{UUID.pattern}$")]
    txid: Annotated[str, Field(pattern=f"^{TXID.pattern}$",
                               description="The Pix transaction id written into the BR Code")]
    qr_code: str
    qr_code_url: str
    pix_code: Annotated[str, Field(max_length=MAX_PAYLOAD_LENGTH,
                                   description="Pix BR Code (copia e cola) with its CRC16")]
    page_url: str
    created_at: datetime
    expiration_date: datetime
    paid_at: datetime | None


class PaymentMessage(BaseModel):
    """An answer that reports what was done to a payment."""

    message: str
    payment: Payment


class Error(BaseModel):
    """Every error: what is wrong, in one sentence."""

    message: Annotated[str, Field(description="What is wrong")]
