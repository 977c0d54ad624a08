"""The location payload's signature: a compact JWS (RS256) whose ``jku`` names the key set.

The key is an RSA 2048 key made when the simulator first starts, kept in its database (so a
``--db`` simulator keeps it across restarts; in memory it is new each run). Its public half is
published at ``GET /jwks`` (a JSON Web Key Set); the header's ``kid`` picks it.
"""

from __future__ import annotations

import json
import secrets

from joserfc import jws
from joserfc.jwk import KeySet, RSAKey

from payments.simulator.store import Store

ALGORITHM = "RS256"
META_NAME = "signing_key"


class Signer:
    """Signs payloads with the simulator's key and publishes its public half."""

    def __init__(self, store: Store) -> None:
        stored = store.meta(META_NAME)
        if stored is None:
            kid = f"simulator-{secrets.token_hex(4)}"
            key = RSAKey.generate_key(
                2048, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM}, private=True
            )
            store.set_meta(META_NAME, json.dumps(key.as_dict(private=True)))
        else:
            key = RSAKey.import_key(json.loads(stored))
        self._key = key
        self.kid: str = key.kid

    def key_set(self) -> dict:
        """Return the public JSON Web Key Set."""
        return KeySet([self._key]).as_dict(private=False)

    def sign(self, payload: dict, jku: str) -> str:
        """Return ``payload`` as a compact JWS whose header names the key and ``jku``."""
        header = {"alg": ALGORITHM, "typ": "JWS", "kid": self.kid, "jku": jku}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return jws.serialize_compact(header, body, self._key)
