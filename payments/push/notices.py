"""The merchant's own message to the browsers of a charge: queued in the outbox."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from payments.charges.schemas import ReturnUrl, _text
from payments.charges.service import get_payment
from payments.events import outbox
from payments.extensions import db
from payments.push import messages, subscriptions
from payments.push.destination import KIND, MESSAGE_TYPE

Title = Annotated[
    str,
    Field(min_length=1, max_length=messages.MAX_TITLE, description="The notification's title"),
    AfterValidator(_text),
]
Body = Annotated[
    str,
    Field(min_length=1, max_length=messages.MAX_BODY, description="The notification's text"),
    AfterValidator(_text),
]


class PushNotice(BaseModel):
    """``POST /payments/pix/<id>/push/notify``: what the charge's browsers are told."""

    model_config = ConfigDict(extra="forbid")
    title: Title
    body: Body
    url: ReturnUrl | None = None


def queue(public_id: str, notice: PushNotice) -> int:
    """Queue ``notice`` for every subscription of the charge and commit; return how many.

    :raise NotFound: no such charge.
    """
    payment = get_payment(public_id)
    connection = db.session.connection()
    queued = len(subscriptions.ids_for(connection, payment.public_id))
    if queued:
        outbox.emit(
            connection,
            type=MESSAGE_TYPE,
            payment=payment.to_dict(),
            data=notice.model_dump(),
            only=(KIND,),
        )
    db.session.commit()
    if queued:
        outbox.committed()  # wake the relay: the push goes out now, not at its next poll
    return queued
