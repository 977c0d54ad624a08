"""Every payment rule: creation, lookup and state changes. Routes, CLI and tests call these.

A state change is made in the caller's transaction and published only after
the caller commits it (``payments.charges.changes``): a rolled-back change is
never seen by a page.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from payments.charges import changes
from payments.charges.models import Payment, PaymentStatus, can_move, utcnow
from payments.errors import Conflict, NotFound
from payments.events import outbox
from payments.extensions import db
from payments.patterns import PUBLIC_ID, QR_CODE_NAME
from payments.pix.brcode import build_brcode, new_txid
from payments.pix.money import cents_to_decimal

#: Most ids in one ``IN (...)``: far below every database's parameter limit.
IN_CHUNK = 500
# Statements built once: building one per request (coercing every operand, computing its
# cache key) cost as much as running it, on the hot paths of the page and the webhook.
_BY_PUBLIC_ID = select(Payment).where(Payment.public_id == bindparam("public_id"))
_BY_BANK_ID = select(Payment).where(Payment.bank_payment_id == bindparam("bank_payment_id"))
_TABLE = Payment.__table__
#: A move of one payment, if its status is still the one read (SET from the params).
_MOVE = update(_TABLE).where(_TABLE.c.id == bindparam("payment_id"),
                             _TABLE.c.status == bindparam("source"))
#: The same, for a pending charge that must not have expired meanwhile.
_MOVE_UNEXPIRED = _MOVE.where(_TABLE.c.expires_at > bindparam("now"))
#: A new charge's INSERT: Core on the model's table, whose column defaults fill the rest.
INSERT_PAYMENT = insert(_TABLE)
#: The attribute of each column whose name differs (``metadata`` is the declarative base's).
_ATTRIBUTE = {column.name: prop.key for prop in Payment.__mapper__.column_attrs
              for column in prop.columns if column.name != prop.key}

#: What a bank notice's ``status`` asks for, and what we answer when it is done.
OUTCOMES: dict[str, tuple[PaymentStatus, str]] = {
    "approved": (PaymentStatus.PAID, "The payment has been confirmed"),
    "refused": (PaymentStatus.REFUSED, "The payment has been refused"),
    "refunded": (PaymentStatus.REFUNDED, "The payment has been refunded"),
}


@dataclass(frozen=True)
class NoticeResult:
    """What applying a bank notice did."""

    payment: Payment
    changed: bool
    message: str


@dataclass(frozen=True)
class Order:
    """What the merchant says about a charge: all optional."""

    description: str | None = None
    external_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    return_url: str | None = None
    expires_in: int | None = None  # seconds; None: PIX_EXPIRATION_SECONDS


def create_payment(amount_cents: int, order: Order | None = None) -> Payment:
    """Create and commit a pending charge of ``amount_cents`` with its BR Code.

    The charge is committed in a transaction of its own (not the session's:
    call it outside a session's write, which SQLite would make it wait for)
    and returned detached; ``db.session.add()`` it to change it.
    """
    cfg = current_app.config
    order = order or Order()
    now = utcnow()
    txid = new_txid()
    return _insert(
        txid=txid,
        amount_cents=amount_cents,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=order.expires_in or cfg["PIX_EXPIRATION_SECONDS"]),
        paid_at=None,
        pix_code=build_brcode(
            key=cfg["PIX_KEY"],
            name=cfg["PIX_MERCHANT_NAME"],
            city=cfg["PIX_MERCHANT_CITY"],
            amount_cents=amount_cents,
            txid=txid,
        ),
        description=order.description,
        external_id=order.external_id,
        metadata=dict(order.metadata),
        return_url=order.return_url,
    )


def _insert(**values) -> Payment:
    """INSERT and commit a payment of ``values``; return it detached, every attribute loaded.

    A Core insert on a connection of its own, not ``session.add()`` and a
    commit: the unit of work's flush of one new object cost 40% of a create's
    CPU, and the session around the insert another 15% of what was left. The
    row's defaults are read back from the statement's parameters, so nothing
    needs loading later. Its ``payment.created`` event is written in the same
    transaction.
    """
    with db.engine.begin() as connection:
        result = connection.execute(INSERT_PAYMENT, values)
        row = {_ATTRIBUTE.get(column, column): value
               for column, value in result.last_inserted_params().items()}
        payment = Payment(id=result.inserted_primary_key[0], **row)
        outbox.emit(connection, type="payment.created", payment=payment.to_dict())
    outbox.committed()
    make_transient_to_detached(payment)  # as if loaded; ``session.add()`` would attach it
    return payment


def find_payment(public_id: object) -> Payment | None:
    """Return the payment with this public id, or None (also for malformed ids)."""
    if not isinstance(public_id, str) or not PUBLIC_ID.fullmatch(public_id):
        return None
    return db.session.scalar(_BY_PUBLIC_ID, {"public_id": public_id})


def get_payment(public_id: object) -> Payment:
    """Return the payment with this public id.

    :raise NotFound: no such payment.
    """
    payment = find_payment(public_id)
    if payment is None:
        raise NotFound("Payment not found")
    return payment


def find_changed(known: dict[str, set[str]]) -> list[Payment]:
    """Return the payments whose stored status is not the one they are known by.

    ``known`` maps a status to the public ids of payments believed to be in it
    (what their watchers last saw). Only the differing rows are loaded: the
    rest, however many, cost an index lookup each.
    """
    found: list[Payment] = []
    for status, public_ids in known.items():
        ids = sorted(public_ids)
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            found += db.session.scalars(
                select(Payment).where(Payment.public_id.in_(chunk), Payment.status != status))
    return found


def find_by_qr_code(name: str) -> Payment | None:
    """Return the payment whose QR code is called ``name``, or None."""
    match = QR_CODE_NAME.fullmatch(name)
    if match is None:
        return None
    return db.session.scalar(select(Payment).filter_by(bank_payment_id=match.group(1)))


def move(payment: Payment, target: PaymentStatus, now: datetime | None = None) -> bool:
    """Move ``payment`` to ``target`` in the caller's transaction; return True if this call did.

    The update is conditional on the status read, so of several concurrent
    callers (threads or processes) exactly one wins. The winner's change is
    published once the caller commits; nothing is published if it rolls back.
    A loser's ``payment`` is re-read, so the caller sees what it is now.
    """
    now = now or utcnow()
    source = payment.status
    if not can_move(PaymentStatus(source), target):
        return False
    values: dict = {"status": target.value, "updated_at": now}
    if target is PaymentStatus.PAID:
        values["paid_at"] = now
    # A Core update of the table: the ORM's bulk-update path cost a third of the webhook.
    unexpired = source == PaymentStatus.PENDING and target is not PaymentStatus.EXPIRED
    stmt = _MOVE_UNEXPIRED if unexpired else _MOVE
    params = {"payment_id": payment.id, "source": source, "now": now, **values}
    if db.session.execute(stmt, params).rowcount != 1:
        db.session.refresh(payment)  # someone else moved it: learn what it is now
        return False
    for key, value in values.items():
        set_committed_value(payment, key, value)  # what the row now holds
    changes.record(payment)
    return True


def expire_due(now: datetime | None = None, limit: int = 1000) -> int:
    """Expire and commit pending charges past their expiry (at most ``limit``); return how many.

    Each one goes through ``move``: where several processes race for the same
    charge, only the one whose conditional update wins publishes its expiry.
    """
    now = now or utcnow()
    due = db.session.scalars(
        select(Payment)
        .where(Payment.status == PaymentStatus.PENDING.value, Payment.expires_at <= now)
        .order_by(Payment.expires_at)
        .limit(limit)
    ).all()
    expired = sum(move(payment, PaymentStatus.EXPIRED, now) for payment in due)
    db.session.commit()
    return expired


def apply_notice(payment: Payment, amount_cents: int, outcome: str = "approved") -> NoticeResult:
    """Apply the bank's notice that ``payment`` was approved, refused or refunded.

    The change is made in the caller's transaction, which the caller commits.
    A repeated notice changes nothing and is answered as the first one was.

    :raise Conflict: the value differs, the charge expired, or the move is not allowed.
    """
    target, message = OUTCOMES[outcome]
    if amount_cents != payment.amount_cents:
        raise Conflict(
            f"The notified value {cents_to_decimal(amount_cents)} differs from the "
            f"payment's value {cents_to_decimal(payment.amount_cents)}"
        )
    for _ in range(3):
        now = utcnow()
        current = payment.current_status(now)
        if current is target:
            return NoticeResult(payment, False, message)
        if current is PaymentStatus.EXPIRED:
            raise Conflict("The payment has expired")  # the background task records it
        if not can_move(current, target):
            raise Conflict(f"A payment that is {current.value} cannot become {target.value}")
        if move(payment, target, now):
            return NoticeResult(payment, True, message)
        # Someone else moved it first: look again at what it is now.
    raise Conflict("The payment is changing; retry the notice")


def cancel_payment(payment: Payment) -> bool:
    """Cancel a pending charge in the caller's transaction; return True if this call did.

    A charge already canceled is left as it is (False).

    :raise Conflict: the charge is paid, expired, refused or refunded.
    """
    for _ in range(3):
        current = payment.current_status()
        if current is PaymentStatus.CANCELED:
            return False
        if not can_move(current, PaymentStatus.CANCELED):
            raise Conflict(f"A payment that is {current.value} cannot be canceled")
        if move(payment, PaymentStatus.CANCELED):
            return True
    raise Conflict("The payment is changing; retry")


def find_by_bank_payment_id(bank_payment_id: str) -> Payment:
    """Return the payment the bank knows by ``bank_payment_id``.

    :raise NotFound: no such payment.
    """
    payment = db.session.scalar(_BY_BANK_ID, {"bank_payment_id": bank_payment_id})
    if payment is None:
        raise NotFound("No payment with this bank_payment_id")
    return payment
