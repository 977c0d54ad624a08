"""A fake push service on loopback: checks each push as a real one would, and decrypts it.

Each browser is a ``Browser``: a P-256 key pair and an auth secret, as a
browser makes them, and an endpoint on this service. A push is accepted only
with ``Content-Encoding: aes128gcm``, a ``TTL`` above 0 and a VAPID
``Authorization`` (RFC 8292) whose JWT is signed by the expected public key,
names this service's origin as ``aud``, expires within 24 hours and has a
``sub``; its body is decrypted with http_ece and the browser's private key.
What the service answers can be scripted per browser (410, 500, ...).
"""

import base64
import json
import os
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_point(key: ec.EllipticCurvePrivateKey) -> str:
    """Return base64url of ``key``'s public uncompressed P-256 point (as browsers give keys)."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def vapid_key_pair() -> tuple[str, str]:
    """Return a new VAPID key for a server under test: (PEM private key, base64url public)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, public_point(key)


@dataclass
class Browser:
    """One browser's push subscription: its keys and its endpoint on the fake service."""

    name: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict:
        """Return what ``PushSubscription.toJSON()`` would give."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": public_point(self.private_key), "auth": b64url(self.auth)},
        }


@dataclass
class Push:
    """A push the service accepted: its decrypted payload and headers."""

    browser: str
    payload: dict
    headers: dict
    claims: dict


def verify_vapid(header: str, public_key: str, origin: str) -> dict:
    """Return the claims of a ``vapid t=<JWT>,k=<key>`` header, or raise ValueError why not."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"Authorization scheme {scheme!r}, not vapid")
    parts = dict(item.strip().split("=", 1) for item in params.split(","))
    if parts.get("k") != public_key:
        raise ValueError("k is not the app's VAPID public key")
    head, body, signature = parts["t"].split(".")
    if json.loads(unb64url(head)) != {"typ": "JWT", "alg": "ES256"}:
        raise ValueError("JWT header is not ES256")
    raw = unb64url(signature)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    try:
        key.verify(
            encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:])),
            f"{head}.{body}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise ValueError("JWT signature does not verify") from None
    claims = json.loads(unb64url(body))
    if claims.get("aud") != origin:
        raise ValueError(f"aud {claims.get('aud')!r} is not {origin!r}")
    if not time.time() < claims.get("exp", 0) <= time.time() + 86400:
        raise ValueError("exp is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("sub is not a mailto: or https: URI")
    return claims


class PushService:
    """The fake service: ``with PushService(public_key) as service:``; ``service.browser()``."""

    def __init__(self, public_key: str | None = None):
        self.public_key = public_key  # the app's VAPID key, once known
        self.browsers: dict[str, Browser] = {}
        self.pushes: list[Push] = []
        self.rejected: list[str] = []  # why pushes were refused (a test asserts it is empty)
        self.attempts: dict[str, int] = defaultdict(int)
        self.scripted: dict[str, deque] = defaultdict(deque)  # name -> statuses to answer
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def browser(self, name: str | None = None) -> Browser:
        """Return a new browser subscribed at this service."""
        name = name or f"b{len(self.browsers) + 1}"
        browser = Browser(name, f"{self.origin}/push/{name}")
        self.browsers[name] = browser
        return browser

    def answer(self, name: str, *statuses: int) -> None:
        """Make the next pushes to ``name`` get these statuses (then 201 again)."""
        self.scripted[name].extend(statuses)

    def wait_for(self, count: int, timeout: float = 10) -> list[Push]:
        """Return the pushes once there are ``count``; raise AssertionError after ``timeout``."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.pushes) >= count, timeout):
                raise AssertionError(
                    f"{len(self.pushes)} pushes arrived, not {count}; refused: {self.rejected}"
                )
            return list(self.pushes)

    def _receive(self, name: str, headers: dict, body: bytes) -> int:
        with self.lock:
            self.attempts[name] += 1
            if self.scripted[name]:
                return self.scripted[name].popleft()
        browser = self.browsers.get(name)
        if browser is None:
            return 404
        try:
            if headers.get("content-encoding") != "aes128gcm":
                raise ValueError(f"Content-Encoding {headers.get('content-encoding')!r}")
            if not headers.get("ttl", "").isdigit() or int(headers["ttl"]) <= 0:
                raise ValueError(f"TTL {headers.get('ttl')!r} is not above 0")
            claims = verify_vapid(headers.get("authorization", ""), self.public_key, self.origin)
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
        except Exception as exc:  # noqa: BLE001  (every reason is a refusal to report)
            with self.lock:
                self.rejected.append(f"{name}: {exc}")
            return 400
        with self.arrived:
            self.pushes.append(Push(name, payload, headers, claims))
            self.arrived.notify_all()
        return 201

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.removeprefix("/push/")
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = service._receive(name, headers, body)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> "PushService":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
