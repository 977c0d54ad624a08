"""Sign and verify webhook bodies: ``X-Webhook-Signature: t=<unix>,v1=<hex>`` (pure, no Flask).

``<hex>`` is HMAC-SHA256 with the shared secret over ``<t>.`` followed by the raw body, as
Stripe signs its webhooks. Several ``v1`` values may be sent (a secret being rotated); one match
is enough. ``t`` further than ``tolerance`` seconds from now, either way, is refused.
"""

import hashlib
import hmac
import re
import time

__all__ = ["HEADER", "TOLERANCE", "SignatureError", "compute", "sign", "verify_signature"]

HEADER = "X-Webhook-Signature"
TOLERANCE = 300
SCHEME = "v1"
#: Longer headers are refused unread: nobody needs 4 KiB to send a few signatures.
MAX_HEADER_LENGTH = 4096
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


class SignatureError(Exception):
    """The signature is missing, malformed, stale or wrong; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``<timestamp>.<body>`` with ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Return the header value that signs ``body`` at ``timestamp`` (default: now)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},{SCHEME}={compute(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    """Return the header's timestamp and its ``v1`` values.

    :raise SignatureError: the header is not ``t=<digits>`` plus ``key=value`` pairs.
    """
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("malformed signature header: too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not key:
            raise SignatureError("malformed signature header: expected t=<unix>,v1=<hex>")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            signatures.append(value)
        # Other schemes (v0, ...) are ignored, as Stripe does.
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError("malformed signature header: expected one t=<unix seconds>")
    if not signatures:
        raise SignatureError("no v1 signature in the header")
    return int(timestamps[0]), signatures


def verify_signature(
    secret: str, header: str | None, body: bytes, now: int | None = None, tolerance: int = TOLERANCE
) -> None:
    """Check that ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now.

    :raise SignatureError: missing, malformed, stale (either way) or not matching.
    """
    if header is None or not header.strip():
        raise SignatureError("missing X-Webhook-Signature header")
    timestamp, signatures = _parse(header)
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"timestamp {timestamp} is more than {tolerance} s from the server's clock"
        )
    expected = compute(secret, timestamp, body).encode("ascii")
    # Compare every candidate in constant time; skip non-hex junk without comparing it.
    matched = False
    for candidate in signatures:
        if _HEX_DIGEST.fullmatch(candidate):
            matched |= hmac.compare_digest(expected, candidate.lower().encode("ascii"))
    if not matched:
        raise SignatureError("signature does not match the body")
