"""Response headers and the charge-creation rate limit, installed by ``init_app``."""

import math
import time

from flask import Flask, Response, current_app, jsonify
from flask_limiter import Limiter, RequestLimit

from payments.merchant.keys import rate_limit_key
from payments.web import chunked, proxies

#: Only the app's own assets; the Socket.IO client talks to the same origin ('self'); the
#: one worker is the push service worker, ``/payments/pix/sw.js`` ('self').
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; script-src 'self'; "
    "style-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_BY_LOWER_NAME = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())

#: The endpoint whose use the rate limit counts, per API key (per address without keys).
LIMITED_ENDPOINT = "merchant.create"
RATE_LIMIT_MESSAGE = "Too many payments created with this API key or from this address; retry later"


def add_security_headers(response: Response) -> Response:
    """Add the security headers to a response that does not set them itself."""
    # One pass over the response's headers: Headers.setdefault() searched them once per
    # header and raised (and built) a KeyError for each one missing, on every request.
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    for lower, name, value in _BY_LOWER_NAME:
        if lower not in present:
            headers.add(name, value)
    return response


#: Seconds the rate limiter waits for Redis before counting in this process's memory instead.
RATE_LIMIT_STORAGE_TIMEOUT = 1.0


def rate_limit_storage(config) -> str:
    """Return where rate-limit counters live: the setting, the Redis queue, or memory."""
    if config.get("RATE_LIMIT_STORAGE_URI"):
        return config["RATE_LIMIT_STORAGE_URI"]
    queue = config.get("SOCKETIO_MESSAGE_QUEUE") or ""
    if queue.startswith(("redis://", "rediss://")):
        return queue
    return "memory://"


def _too_many(limit: RequestLimit) -> Response:
    """Return the 429 answer, telling the client when the window resets."""
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    response = jsonify(message=RATE_LIMIT_MESSAGE)
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def _create_limit() -> str:
    """Return the configured limit of charge creations per client address."""
    return current_app.config["RATE_LIMIT_CREATE"]


def _storage_options(config) -> dict:
    """Return the Redis client's options for the rate limiter's storage (memory: none)."""
    if not rate_limit_storage(config).startswith(("redis://", "rediss://")):
        return {}
    # A silent Redis costs a request one second at most, never a hang.
    return {"socket_connect_timeout": RATE_LIMIT_STORAGE_TIMEOUT,
            "socket_timeout": RATE_LIMIT_STORAGE_TIMEOUT}


def init_app(app: Flask) -> None:
    """Add the security headers to every response and limit charge creation.

    The limiter belongs to this app alone (``app.extensions["limiter"]``); with
    ``RATE_LIMIT_CREATE`` empty there is none.
    """
    app.after_request(add_security_headers)
    # The client's address (for the rate limit) and scheme, as a trusted proxy saw them;
    # without it every client behind nginx would share nginx's address and limit.
    proxies.init_app(app)
    chunked.init_app(app)  # a chunked body keeps the size limits
    if not app.config["RATE_LIMIT_CREATE"]:
        return
    limiter = Limiter(
        rate_limit_key,
        app=app,
        storage_uri=rate_limit_storage(app.config),
        key_prefix="pix-payments",
        # Redis down: count in this process's memory, keep creating; back to Redis when it is.
        in_memory_fallback_enabled=True,
        # Requests in flight when Redis goes away fail on it before the fallback takes over:
        # they are let through (and logged), not answered 500.
        swallow_errors=True,
        storage_options=_storage_options(app.config),
    )
    view = app.view_functions[LIMITED_ENDPOINT]
    app.view_functions[LIMITED_ENDPOINT] = limiter.limit(
        _create_limit, error_message=RATE_LIMIT_MESSAGE, on_breach=_too_many
    )(view)
