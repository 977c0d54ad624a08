"""Merchant API keys: ``Authorization: Bearer <key>``, compared in constant time.

``MERCHANT_API_KEYS`` holds several keys so one can be rotated; a request is the
merchant's when its key equals any of them. A key is known inside the app by
its id (the first 16 hex digits of its SHA-256), never by itself: the id scopes
idempotency keys and rate-limit counters, and reaches no log.
"""

import hashlib
import hmac
from functools import wraps

from flask import current_app, g, request

from payments.errors import NeedsApiKey

#: Shortest key accepted in ``MERCHANT_API_KEYS``.
MIN_KEY_LENGTH = 24
#: The id of the merchant when no keys are configured (sandbox only: the routes are open).
OPEN = "open"


def key_id(key: str) -> str:
    """Return the id a key is known by (its SHA-256, 16 hex digits)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def parse_keys(value: object) -> tuple[str, ...]:
    """Return the keys of a ``MERCHANT_API_KEYS`` value (comma-separated, or a list).

    :raise ValueError: a key is shorter than ``MIN_KEY_LENGTH`` or not printable ASCII.
    """
    items = value.split(",") if isinstance(value, str) else list(value or ())
    keys = tuple(str(item).strip() for item in items if str(item).strip())
    for number, key in enumerate(keys, 1):
        if len(key) < MIN_KEY_LENGTH or not key.isascii() or not key.isprintable() or " " in key:
            raise ValueError(f"key {number} must be at least {MIN_KEY_LENGTH} printable ASCII "
                             "characters without spaces")
    return keys


def _bearer() -> str | None:
    """Return the request's bearer token, or None when it has no ``Authorization: Bearer``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _matching(token: str) -> str | None:
    """Return the id of the configured key equal to ``token``, comparing with every key."""
    found = None
    given = token.encode()
    for key in current_app.config["MERCHANT_API_KEYS"]:
        if hmac.compare_digest(given, key.encode()):  # no early exit: time does not tell which
            found = key
    return None if found is None else key_id(found)


def merchant() -> str | None:
    """Return the id of the merchant this request authenticates as; None for no credentials.

    With no keys configured (sandbox), every request is the merchant's (``OPEN``).

    :raise NeedsApiKey: credentials were given and are wrong.
    """
    if "merchant" in g:
        return g.merchant
    token = _bearer()
    if not current_app.config["MERCHANT_API_KEYS"]:
        g.merchant = OPEN
    elif token is None:
        if request.headers.get("Authorization"):
            raise NeedsApiKey("The Authorization header must be Bearer <API key>")
        g.merchant = None
    else:
        g.merchant = _matching(token)
        if g.merchant is None:
            raise NeedsApiKey("Invalid API key")
    return g.merchant


def merchant_route(view):
    """Let only the merchant call ``view``: a valid API key (any request when none is set).

    :raise NeedsApiKey: no key, or a wrong one (401 with ``WWW-Authenticate: Bearer``).
    """

    @wraps(view)
    def guarded(*args, **kwargs):
        if merchant() is None:
            raise NeedsApiKey("This route needs Authorization: Bearer <API key>")
        return view(*args, **kwargs)

    return guarded


def rate_limit_key() -> str:
    """Return what the create rate limit counts by: the API key's id, else the client address."""
    try:
        who = merchant()
    except NeedsApiKey:
        who = None
    if who and who != OPEN:
        return f"key:{who}"
    return f"address:{request.remote_addr}"
