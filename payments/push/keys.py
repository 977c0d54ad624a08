"""The VAPID key pair that signs every push: ``VAPID_PRIVATE_KEY`` or one generated once.

The private key never leaves this module's objects: not in logs, not in
``app.config`` (only whether it was generated), not in any answer. The public
key is what browsers subscribe with (``applicationServerKey``).
"""

import base64
import os
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask, current_app
from py_vapid import Vapid, VapidException

#: Where a generated key is kept, under the instance folder (mode 0600, ignored by git).
KEY_FILE = "vapid_private_key.pem"
#: ``sub`` of the VAPID JWT: who the push service may contact (RFC 8292 section 2.1).
SUBJECT = re.compile(r"(mailto:[^@\s]+@[^@\s]+\.[^@\s]+|https://[^\s/]+\.[^\s]+)", re.ASCII)


class InvalidKey(ValueError):
    """``VAPID_PRIVATE_KEY`` is not a PEM P-256 private key."""


def parse_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """Return the P-256 private key of a PEM text (``\\n`` escapes, as in an env file, work).

    :raise InvalidKey: not PEM, encrypted, or not a P-256 (prime256v1) key.
    """
    text = pem.strip().replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidKey("VAPID_PRIVATE_KEY must be an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InvalidKey("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) EC key")
    return key


def new_private_key_pem() -> str:
    """Return a new P-256 private key as PKCS#8 PEM (what ``flask push keygen`` prints)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _generated(instance_path: str) -> str:
    """Return the PEM kept in ``instance/``, generating it first if there is none.

    Written to a private temporary file and linked into place, so of several
    processes starting at once exactly one key wins and nobody reads half a file.
    """
    path = Path(instance_path) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".vapid-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(new_private_key_pem())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            os.unlink(temporary)
    return path.read_text(encoding="ascii")


def load(app: Flask) -> None:
    """Load the VAPID key (the setting, else ``instance/``) and check ``VAPID_SUBJECT``.

    :raise InvalidKey: the key is not a PEM P-256 private key.
    :raise ValueError: the subject is not a ``mailto:`` or ``https:`` URI.
    """
    cfg = app.config
    pem = cfg.get("VAPID_PRIVATE_KEY")
    cfg["VAPID_KEY_GENERATED"] = not pem
    key = parse_private_key(pem or _generated(app.instance_path))
    cfg["VAPID_PRIVATE_KEY"] = None  # kept in the extension below, not in the config
    subject = str(cfg.get("VAPID_SUBJECT") or "").strip()
    if not SUBJECT.fullmatch(subject):
        raise ValueError(
            f"VAPID_SUBJECT must be a mailto: address or an https: URL, not {subject!r}"
        )
    signer = Vapid(private_key=key)
    try:  # py-vapid's own check of the subject, once here rather than at every push
        signer.sign({"sub": subject, "aud": "https://push.example.com"})
    except VapidException:
        raise ValueError(
            f"VAPID_SUBJECT is not a subject push services accept: {subject!r}"
        ) from None
    cfg["VAPID_SUBJECT"] = subject
    app.extensions["push_keys"] = signer


def vapid() -> Vapid:
    """Return this app's VAPID signer (py-vapid, RFC 8292 ``vapid t=..., k=...``)."""
    return current_app.extensions["push_keys"]


def public_key() -> str:
    """Return the public key as base64url (no padding) of its uncompressed P-256 point."""
    point = vapid().public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode("ascii")
