"""``Idempotency-Key`` on the merchant's writes: a repeat gets the first answer, nothing more.

The key is scoped to the API key. The first request with a key claims it with
an INSERT that a unique constraint arbitrates (across threads and processes:
no read-then-write); its answer is stored, and a repeat with the same request
gets that answer again with ``Idempotent-Replayed: true`` and changes nothing.
The same key with another request is ``422``; while the first is still running,
``409``. Answers are kept ``KEEP`` (24 hours), then purged.
"""

import hashlib
import json
from datetime import datetime, timedelta
from functools import wraps

from flask import Response, current_app, request
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from payments.charges.models import utcnow
from payments.errors import BadRequest, Conflict, PaymentError, UnprocessableEntity
from payments.extensions import db
from payments.merchant import keys
from payments.merchant.models import IdempotentRequest
from payments.patterns import IDEMPOTENCY_KEY

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
#: How long an answer is kept for its key.
KEEP = timedelta(hours=24)
#: A claim still running after this long was left by a process that died: it is taken over.
ABANDONED = timedelta(seconds=60)
#: The answer's headers that are kept and replayed with its body.
KEPT_HEADERS = ("Location",)

_TABLE = IdempotentRequest.__table__


class InFlight(Conflict):
    """The first request with this key is still running."""

    headers = {"Retry-After": "1"}


def fingerprint(method: str, route: str, args: dict, body: bytes) -> str:
    """Return what identifies a request for its key: method, route, its path's values, body."""
    digest = hashlib.sha256()
    for part in (method, route, json.dumps(args, sort_keys=True)):
        digest.update(part.encode() + b"\n")
    digest.update(body)
    return digest.hexdigest()


def claim(merchant: str, key: str, print_: str, now: datetime | None = None) -> int | Response:
    """Claim ``key`` for this request; return its row id, or the first answer to replay.

    :raise UnprocessableEntity: the key was used with another request.
    :raise InFlight: the first request with this key is still running.
    """
    now = now or utcnow()
    for _ in range(3):
        try:
            with db.engine.begin() as connection:
                result = connection.execute(insert(_TABLE), {
                    "merchant": merchant, "key": key, "fingerprint": print_, "created_at": now})
            return result.inserted_primary_key[0]
        except IntegrityError:
            pass  # someone has the key: see what they made of it
        with db.engine.connect() as connection:
            first = connection.execute(select(_TABLE).where(
                _TABLE.c.merchant == merchant, _TABLE.c.key == key)).first()
        if first is None:
            continue  # purged meanwhile: claim it again
        stale = first.created_at <= now - KEEP
        abandoned = first.status_code is None and first.created_at <= now - ABANDONED
        if stale or abandoned:
            release(first.id)
            continue
        if first.fingerprint != print_:
            raise UnprocessableEntity(f"This {HEADER} was used with another request; "
                                      "use a new key for a new request")
        if first.status_code is None:
            raise InFlight(f"The first request with this {HEADER} is still being processed; "
                           "retry in a moment")
        return replay(first)
    raise InFlight(f"This {HEADER} is changing hands; retry in a moment")


def replay(row) -> Response:
    """Return the stored answer, marked as replayed."""
    response = Response(row.body, status=row.status_code, mimetype="application/json")
    for name, value in json.loads(row.headers or "{}").items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def finish(row_id: int, response: Response) -> None:
    """Store the answer of the request that claimed ``row_id``."""
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    with db.engine.begin() as connection:
        connection.execute(update(_TABLE).where(_TABLE.c.id == row_id), {
            "status_code": response.status_code, "body": response.get_data(),
            "headers": json.dumps(kept)})


def release(row_id: int) -> None:
    """Forget a claim (its request failed without an answer to keep): the key is free again."""
    with db.engine.begin() as connection:
        connection.execute(delete(_TABLE).where(_TABLE.c.id == row_id))


def purge(now: datetime | None = None) -> int:
    """Delete the answers older than ``KEEP``; return how many."""
    cutoff = (now or utcnow()) - KEEP
    with db.engine.begin() as connection:
        return connection.execute(delete(_TABLE).where(_TABLE.c.created_at <= cutoff)).rowcount


def idempotent(view):
    """Make ``view`` idempotent under ``Idempotency-Key`` (after the API key is checked).

    Every answer below 500 is stored and replayed, errors included: a repeat learns
    what the first request came to. A failure without an answer (a 5xx, the database
    gone) frees the key, so the merchant can retry.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise BadRequest(f"{HEADER} must be 1 to 255 printable ASCII characters")
        print_ = fingerprint(request.method, request.endpoint or "", kwargs,
                             request.get_data(cache=True))
        claimed = claim(keys.merchant() or keys.OPEN, key, print_)
        if isinstance(claimed, Response):
            return claimed
        try:
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except PaymentError as exc:
                response = current_app.make_response(
                    ({"message": exc.message}, exc.status_code, exc.headers))
        except BaseException:
            release(claimed)
            raise
        if response.status_code >= 500:
            release(claimed)
        else:
            finish(claimed, response)
        return response

    return wrapped
