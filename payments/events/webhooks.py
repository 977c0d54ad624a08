"""The merchant's webhooks: each event POSTed, signed, to each of ``MERCHANT_WEBHOOK_URLS``.

The body is the event's CloudEvents document (``application/cloudevents+json``),
signed as the bank signs its notices to us (``payments.bank.signature``:
``X-Webhook-Signature: t=<unix>,v1=<hex>``, HMAC-SHA256 of ``<t>.`` + body with
``MERCHANT_WEBHOOK_SECRET``), so the merchant verifies it with the same code.
A 2xx answer within ``TIMEOUT_SECONDS`` is delivered; anything else is tried
again after ``MERCHANT_WEBHOOK_RETRY_SECONDS``.

The client is urllib3 (what requests is built on), with keep-alive pools: its
sockets are green under eventlet, since the server patches the standard
library (``app.py``) before anything imports it. requests cost three times as
much CPU per event (most of it reading proxy settings from the environment on
every call), which the relay's share of a busy server could not afford
(docs/benchmarks.md). Proxies from the environment are therefore not used.
"""

import time
from dataclasses import dataclass, field

import urllib3
from flask import Flask
from sqlalchemy import Connection
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from payments.bank import signature
from payments.events import outbox

KIND = "webhook"
#: A delivery is answered with a 2xx within this many seconds, or it is tried again.
TIMEOUT_SECONDS = 10
CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "payments-pix-webhooks/1"
#: The most of an answer's body read; a longer one closes its connection.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass
class Webhooks(outbox.Destination):
    """The merchant's URLs, each with its own delivery record of every event."""

    urls: list[str] = field(default_factory=list)
    secret: str = ""
    delays: list[int] = field(default_factory=list)
    timeout: float = TIMEOUT_SECONDS
    _pool: urllib3.PoolManager = field(
        default_factory=lambda: urllib3.PoolManager(num_pools=32, maxsize=4, block=False),
        repr=False)

    def targets(self, connection: Connection, event: dict) -> list[str]:
        return list(self.urls)

    def retry_seconds(self) -> list[int]:
        return list(self.delays)

    def send(self, target: str, event: dict) -> outbox.Outcome:
        body = outbox.dumps(event).encode("utf-8")
        headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT,
                   signature.HEADER: signature.sign(self.secret, body)}
        started = time.monotonic()
        try:
            response = self._pool.request(
                "POST", target, body=body, headers=headers, retries=False, redirect=False,
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                preload_content=False)
            try:
                response.read(MAX_ANSWER_BYTES, decode_content=False)
                if response.read(1, decode_content=False):
                    response.close()  # a long answer: this connection is not kept
            finally:
                response.release_conn()
        except NewConnectionError as exc:  # before TimeoutError: it is one of them
            return outbox.Outcome(False, error=f"connection failed: {_gist(exc)}")
        except TimeoutError:
            return outbox.Outcome(False, error=f"no answer within {self.timeout:g} s")
        except HTTPError as exc:
            return outbox.Outcome(False, error=f"{type(exc).__name__}: {_gist(exc)}")
        status = response.status
        if time.monotonic() - started > self.timeout:
            return outbox.Outcome(False, status, f"answered {status} after {self.timeout:g} s")
        if 200 <= status < 300:
            return outbox.Outcome(True, status)
        return outbox.Outcome(False, status, f"answered {status}")


def _gist(exc: BaseException) -> str:
    """Return the last reason in an urllib3 error's text, short (no URL, no secret)."""
    text = str(exc).rsplit(": ", 1)[-1] if str(exc) else type(exc).__name__
    return text[:120]


def init_app(app: Flask) -> None:
    """Register the merchant's webhooks if ``MERCHANT_WEBHOOK_URLS`` is set."""
    cfg = app.config
    if cfg["MERCHANT_WEBHOOK_URLS"]:
        outbox.register(app, Webhooks(kind=KIND, urls=cfg["MERCHANT_WEBHOOK_URLS"],
                                      secret=cfg["MERCHANT_WEBHOOK_SECRET"],
                                      delays=cfg["MERCHANT_WEBHOOK_RETRY_SECONDS"]))
