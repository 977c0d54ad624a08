"""The merchant's webhooks: each event POSTed, signed, to each of ``MERCHANT_WEBHOOK_URLS``.

The body is the event's CloudEvents document (``application/cloudevents+json``),
signed as the bank signs its notices to us (``payments.bank.signature``:
``X-Webhook-Signature: t=<unix>,v1=<hex>``, HMAC-SHA256 of ``<t>.`` + body with
``MERCHANT_WEBHOOK_SECRET``), so the merchant verifies it with the same code.
A 2xx answer within ``TIMEOUT_SECONDS`` is delivered; anything else is tried
again after ``MERCHANT_WEBHOOK_RETRY_SECONDS``.

requests is green under eventlet: the server patches the standard library's
sockets (``app.py``) before anything imports it.
"""

import threading
import time
from dataclasses import dataclass, field

import requests
from flask import Flask
from sqlalchemy import Connection

from payments.bank import signature
from payments.events import outbox

KIND = "webhook"
#: A delivery is answered with a 2xx within this many seconds, or it is tried again.
TIMEOUT_SECONDS = 10
CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "payments-pix-webhooks/1"


@dataclass
class Webhooks(outbox.Destination):
    """The merchant's URLs, each with its own delivery record of every event."""

    urls: list[str] = field(default_factory=list)
    secret: str = ""
    delays: list[int] = field(default_factory=list)
    timeout: float = TIMEOUT_SECONDS
    _sessions: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def targets(self, connection: Connection, event: dict) -> list[str]:
        return list(self.urls)

    def retry_seconds(self) -> list[int]:
        return list(self.delays)

    def _session(self, url: str) -> requests.Session:
        with self._lock:  # one keep-alive session per URL: its worker reuses the connection
            session = self._sessions.get(url)
            if session is None:
                session = self._sessions[url] = requests.Session()
                session.headers["User-Agent"] = USER_AGENT
            return session

    def send(self, target: str, event: dict) -> outbox.Outcome:
        body = outbox.dumps(event).encode("utf-8")
        headers = {"Content-Type": CONTENT_TYPE,
                   signature.HEADER: signature.sign(self.secret, body)}
        started = time.monotonic()
        try:
            with self._session(target).post(target, data=body, headers=headers,
                                            timeout=(self.timeout, self.timeout),
                                            allow_redirects=False, stream=True) as response:
                response.raw.read(4096, decode_content=False)  # a little: the rest is unread
                status = response.status_code
        except requests.Timeout:
            return outbox.Outcome(False, error=f"no answer within {self.timeout:g} s")
        except requests.ConnectionError as exc:
            return outbox.Outcome(False, error=f"connection failed: {_gist(exc)}")
        except requests.RequestException as exc:
            return outbox.Outcome(False, error=f"{type(exc).__name__}: {_gist(exc)}")
        if time.monotonic() - started > self.timeout:
            return outbox.Outcome(False, status, f"answered {status} after {self.timeout:g} s")
        if 200 <= status < 300:
            return outbox.Outcome(True, status)
        return outbox.Outcome(False, status, f"answered {status}")


def _gist(exc: BaseException) -> str:
    """Return the innermost reason of a requests error, short (no URL query, no secret)."""
    while exc.__context__ is not None and not isinstance(exc.__context__, KeyError):
        exc = exc.__context__
    text = str(exc).split(": ")[-1] if str(exc) else type(exc).__name__
    return text[:120]


def init_app(app: Flask) -> None:
    """Register the merchant's webhooks if ``MERCHANT_WEBHOOK_URLS`` is set."""
    cfg = app.config
    if cfg["MERCHANT_WEBHOOK_URLS"]:
        outbox.register(app, Webhooks(kind=KIND, urls=cfg["MERCHANT_WEBHOOK_URLS"],
                                      secret=cfg["MERCHANT_WEBHOOK_SECRET"],
                                      delays=cfg["MERCHANT_WEBHOOK_RETRY_SECONDS"]))
