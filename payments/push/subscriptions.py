"""Subscribe a browser to a charge's news, unsubscribe it, and forget old subscriptions.

The rules of the contract's "Web Push" section: an ``https`` endpoint (``http``
only on a loopback address, in sandbox), a P-256 ``p256dh`` point and a 16-byte
``auth`` secret, a pending charge, at most ``MAX_PER_CHARGE`` browsers per charge.
"""

import base64
import binascii
import ipaddress
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from payments.charges.models import Payment, PaymentStatus, utcnow
from payments.errors import Conflict, NotFound
from payments.extensions import db
from payments.push.models import PushSubscription
from payments.web.bodies import invalid, parse

#: Most browsers one charge notifies (a customer's phone, laptop, a retry or two).
MAX_PER_CHARGE = 5
#: Longest endpoint accepted (push services' are about 200-500 characters).
MAX_ENDPOINT_LENGTH = 2048
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}", re.ASCII)


def _base64url(value: Any, size: int, what: str) -> str:
    """Return ``value`` if it is base64url text of ``size`` bytes; else a validation error."""
    if not isinstance(value, str):
        raise invalid("must be a base64url string")
    if len(value) > 200 or not _BASE64URL.fullmatch(value):
        raise invalid(f"must be base64url of {what}")
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise invalid(f"must be base64url of {what}") from None
    if len(raw) != size:
        raise invalid(f"must be base64url of {what} ({size} bytes, not {len(raw)})")
    return value


def _p256dh(value: Any) -> str:
    """Check the browser's public key: an uncompressed point on P-256, 65 bytes."""
    text = _base64url(value, 65, "an uncompressed P-256 point")
    raw = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise invalid("must be base64url of an uncompressed P-256 point") from None
    if raw[0] != 0x04:
        raise invalid("must be base64url of an uncompressed P-256 point")
    return text


def _auth(value: Any) -> str:
    return _base64url(value, 16, "the 16-byte auth secret")


def _loopback(host: str) -> bool:
    """Tell whether ``host`` is a loopback address (127.0.0.0/8, ::1) or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint(value: Any, info: ValidationInfo) -> str:
    """Check the push service's URL: ``https``; ``http`` on loopback in sandbox only.

    Outside sandbox an address that is not public (private, loopback, link-local)
    is refused too: the server POSTs to this URL, so it must not reach inside.
    """
    sandbox = bool((info.context or {}).get("sandbox"))
    if not isinstance(value, str):
        raise invalid("must be a string")
    if len(value) > MAX_ENDPOINT_LENGTH:
        raise invalid(f"must be at most {MAX_ENDPOINT_LENGTH} characters")
    try:
        url = urlsplit(value)
        host = url.hostname or ""
        url.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise invalid("must be an https URL") from None
    if not value.isascii() or not value.isprintable() or " " in value or not host:
        raise invalid("must be an https URL")
    if url.username is not None or url.password is not None:
        raise invalid("must not hold a user name or password")
    if url.scheme == "http":
        if sandbox and _loopback(host):
            return value
        raise invalid("must be an https URL (http only on a loopback address in sandbox)")
    if url.scheme != "https":
        raise invalid("must be an https URL")
    if _loopback(host):
        if sandbox:
            return value
        raise invalid("must be a push service's public address")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return value  # a name: the push services' endpoints are names
    if not address.is_global:
        raise invalid("must be a push service's public address")
    return value


class SubscriptionKeys(BaseModel):
    """``keys`` of a PushSubscription: the browser's ECDH key and auth secret."""

    model_config = ConfigDict(extra="ignore")
    p256dh: Annotated[str, BeforeValidator(_p256dh)]
    auth: Annotated[str, BeforeValidator(_auth)]


class Subscription(BaseModel):
    """A browser's ``PushSubscription.toJSON()``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    endpoint: Annotated[str, BeforeValidator(_endpoint)] = Field(
        description="The push service's URL for this browser (https)."
    )
    expirationTime: int | None = Field(  # noqa: N815  (the browser's own name)
        default=None, ge=0, description="When the push service drops it, in ms since 1970."
    )
    keys: SubscriptionKeys


def parse_subscription(data: Any, *, sandbox: bool) -> Subscription:
    """Return the validated subscription.

    :raise BadRequest: naming the first field that does not hold.
    """
    return parse(Subscription, data, sandbox=sandbox)


def _locked_payment(public_id: str) -> Payment:
    """Return the charge, its row locked until commit (PostgreSQL; SQLite has one writer).

    :raise NotFound: no such charge.
    """
    from payments.charges.service import find_payment

    if find_payment(public_id) is None:
        raise NotFound("Payment not found")
    return db.session.scalar(
        select(Payment).where(Payment.public_id == public_id).with_for_update()
    )


def subscribe(public_id: str, subscription: Subscription) -> PushSubscription:
    """Subscribe a browser to the charge's news and commit; return the subscription.

    The same endpoint again (a reload of the page) updates its keys and keeps its id.

    :raise NotFound: no such charge.
    :raise Conflict: the charge is no longer pending, or has ``MAX_PER_CHARGE`` already.
    """
    payment = _locked_payment(public_id)
    if payment.current_status() is not PaymentStatus.PENDING:
        db.session.rollback()
        raise Conflict("The payment is no longer pending; there is nothing to be told of")
    expires = subscription.expirationTime
    expires_at = None if expires is None else _from_millis(expires)
    found = db.session.scalar(
        select(PushSubscription).filter_by(payment_id=payment.id, endpoint=subscription.endpoint)
    )
    if found is None:
        count = db.session.scalar(
            select(func.count())
            .select_from(PushSubscription)
            .where(PushSubscription.payment_id == payment.id)
        )
        if count >= MAX_PER_CHARGE:
            db.session.rollback()
            raise Conflict(f"This payment has {MAX_PER_CHARGE} push subscriptions already")
        found = PushSubscription(payment_id=payment.id, endpoint=subscription.endpoint)
        db.session.add(found)
    found.p256dh = subscription.keys.p256dh
    found.auth = subscription.keys.auth
    found.expires_at = expires_at
    db.session.commit()
    return found


def _from_millis(millis: int) -> datetime | None:
    """Return a time in ms since 1970 as UTC, or None when it is beyond what dates hold."""
    try:
        return datetime.fromtimestamp(millis / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def unsubscribe(public_id: str, subscription_id: str) -> None:
    """Delete one of the charge's subscriptions and commit.

    :raise NotFound: no such charge, or no such subscription of it.
    """
    from payments.charges.service import get_payment

    payment = get_payment(public_id)
    deleted = db.session.execute(
        delete(PushSubscription).where(
            PushSubscription.id == subscription_id, PushSubscription.payment_id == payment.id
        )
    )
    db.session.commit()
    if deleted.rowcount != 1:
        raise NotFound("Push subscription not found")


def ids_for(connection: Connection, public_id: str) -> list[str]:
    """Return the ids of the charge's subscriptions, read on ``connection`` (an outbox's)."""
    table = PushSubscription.__table__
    payments = Payment.__table__
    query = (
        select(table.c.id)
        .join(payments, payments.c.id == table.c.payment_id)
        .where(payments.c.public_id == public_id)
        .order_by(table.c.created_at, table.c.id)
    )
    return list(connection.scalars(query))


def forget(subscription_id: str) -> None:
    """Delete a subscription the push service says is gone (404, 410) and commit."""
    db.session.execute(delete(PushSubscription).where(PushSubscription.id == subscription_id))
    db.session.commit()


def purge(keep_seconds: int | None = None, now: datetime | None = None) -> int:
    """Delete the subscriptions of charges not pending for ``keep_seconds``; return how many.

    ``keep_seconds`` defaults to ``PUSH_KEEP_SECONDS`` (the background task's call).
    """
    if keep_seconds is None:
        keep_seconds = current_app.config["PUSH_KEEP_SECONDS"]
    cutoff = (now or utcnow()) - timedelta(seconds=keep_seconds)
    done = select(Payment.id).where(
        Payment.status != PaymentStatus.PENDING.value, Payment.updated_at < cutoff
    )
    result = db.session.execute(
        delete(PushSubscription).where(PushSubscription.payment_id.in_(done))
    )
    db.session.commit()
    return result.rowcount
