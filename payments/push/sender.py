"""One push to one browser: encrypted (aes128gcm), VAPID-signed, through pywebpush."""

import json
import threading
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.request import getproxies

import requests
from flask import current_app
from pywebpush import WebPushException, webpush

from payments.charges.models import utcnow
from payments.push import keys

#: Seconds to wait for a push service's answer.
TIMEOUT_SECONDS = 10
#: Longest Retry-After honoured, in seconds (beyond it the usual back-off applies).
MAX_RETRY_AFTER = 3600

_local = threading.local()  # one HTTP session (kept-alive connections) per thread


@dataclass(frozen=True)
class Answer:
    """What the push service said: its status, or why there is none."""

    status: int | None
    error: str | None = None
    retry_after: int | None = None  # seconds, when a 429 or 503 said so

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """The subscription no longer exists (the browser unsubscribed, or it expired)."""
        return self.status in (404, 410)

    @property
    def retryable(self) -> bool:
        """Worth trying again later: no answer, too many requests, or the service's fault."""
        return self.status is None or self.status == 429 or self.status >= 500


def _session() -> requests.Session:
    """Return this thread's HTTP session, its proxies read from the environment once.

    ``trust_env`` off: requests otherwise re-reads the proxy variables (and
    ``.netrc``) on every push, a quarter of a push's CPU. ``HTTPS_PROXY`` and
    ``HTTP_PROXY`` still apply; ``NO_PROXY`` does not.
    """
    if not hasattr(_local, "session"):
        session = requests.Session()
        session.trust_env = False
        session.proxies = {
            scheme: url for scheme, url in getproxies().items() if scheme in ("http", "https")
        }
        _local.session = session
    return _local.session


def retry_after(value: str | None) -> int | None:
    """Return a ``Retry-After`` (seconds or an HTTP date) as seconds, or None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = int(value)
    else:
        try:
            seconds = int((parsedate_to_datetime(value) - utcnow()).total_seconds())
        except (TypeError, ValueError, OverflowError):
            return None
    return max(0, min(seconds, MAX_RETRY_AFTER))


def push(subscription: dict, payload: dict, *, ttl: int, urgency: str) -> Answer:
    """Send ``payload`` (JSON) to the browser of ``subscription``; return the service's answer.

    The ``Authorization`` is a VAPID JWT for the endpoint's origin, signed with
    this app's key; the body is encrypted for the browser's keys (RFC 8291).
    Nothing secret (the endpoint's token, the keys) goes into ``error``.
    """
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    claims = {"sub": current_app.config["VAPID_SUBJECT"]}  # aud, exp: filled per endpoint
    try:
        response = webpush(
            subscription,
            data,
            vapid_private_key=keys.vapid(),
            vapid_claims=claims,
            content_encoding="aes128gcm",
            ttl=ttl,
            headers={"Urgency": urgency},
            timeout=TIMEOUT_SECONDS,
            requests_session=_session(),
        )
    except WebPushException as exc:
        status = exc.status_code
        if status is None:
            return Answer(None, "the subscription's keys cannot encrypt a push")
        return Answer(status, f"push service answered {status}", retry_after(exc.retry_after))
    except requests.Timeout:
        return Answer(None, f"no answer within {TIMEOUT_SECONDS} s")
    except requests.RequestException as exc:
        return Answer(None, f"cannot reach the push service: {type(exc).__name__}")
    return Answer(response.status_code)
