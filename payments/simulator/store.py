"""The simulator's state: one SQLite database, in memory (the default) or in a file.

Each record is the API Pix JSON object itself, with the columns the lookups need beside it.
One lock serialises every use of the one connection, so request threads, callback threads
and refund timers see a consistent state.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS token (token TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cob (
    loc_id INTEGER PRIMARY KEY AUTOINCREMENT,
    txid TEXT UNIQUE NOT NULL,
    loc_token TEXT UNIQUE NOT NULL,
    request TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pix (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    e2eid TEXT UNIQUE NOT NULL,
    txid TEXT,
    horario TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pix_horario ON pix (horario, seq);
CREATE TABLE IF NOT EXISTS webhook (chave TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


class Store:
    """The records of one simulator; ``path`` ``None`` keeps them in memory."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        #: Held around a read-then-write (pay, refund, create) so two threads cannot interleave.
        self.lock = threading.RLock()
        self._lock = self.lock
        with self.lock:
            self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and one transaction; commit at the end, roll back on an error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- meta and tokens ----------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        """Return a stored value (the signing key) or ``None``."""
        with self.transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        """Store a value under ``name``."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def add_token(self, token: str, expires: float) -> None:
        """Remember an access token until ``expires`` (a Unix time); forget expired ones."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM token WHERE expires < ?", (expires - 86400,))
            conn.execute("INSERT INTO token VALUES (?, ?)", (token, expires))

    def token_expires(self, token: str) -> float | None:
        """Return when ``token`` expires, or ``None`` when it was never issued."""
        with self.transaction() as conn:
            row = conn.execute("SELECT expires FROM token WHERE token = ?", (token,)).fetchone()
        return row[0] if row else None

    # --- charges ------------------------------------------------------------------------

    def cob(self, txid: str) -> tuple[dict, dict] | None:
        """Return (cob, the request that created it) for ``txid``, or ``None``."""
        with self.transaction() as conn:
            row = conn.execute("SELECT body, request FROM cob WHERE txid = ?", (txid,)).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def cob_by_location(self, loc_token: str) -> dict | None:
        """Return the cob whose location ends in ``loc_token``, or ``None``."""
        with self.transaction() as conn:
            row = conn.execute("SELECT body FROM cob WHERE loc_token = ?", (loc_token,)).fetchone()
        return json.loads(row[0]) if row else None

    def new_location(self, txid: str, loc_token: str, request: dict) -> int:
        """Reserve the location of a new cob and return its ``loc.id``."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO cob (txid, loc_token, request, body) VALUES (?, ?, ?, '{}')",
                (txid, loc_token, json.dumps(request)),
            )
            return cursor.lastrowid

    def save_cob(self, cob: dict) -> None:
        """Store ``cob`` (created with ``new_location``) as it now is."""
        with self.transaction() as conn:
            conn.execute("UPDATE cob SET body = ? WHERE txid = ?", (json.dumps(cob), cob["txid"]))

    # --- received Pix -------------------------------------------------------------------

    def add_pix(self, pix: dict) -> None:
        """Store a received Pix."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO pix (e2eid, txid, horario, body) VALUES (?, ?, ?, ?)",
                (pix["endToEndId"], pix.get("txid"), pix["horario"], json.dumps(pix)),
            )

    def pix(self, e2eid: str) -> dict | None:
        """Return the Pix ``e2eid``, or ``None``."""
        with self.transaction() as conn:
            row = conn.execute("SELECT body FROM pix WHERE e2eid = ?", (e2eid,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_pix(self, pix: dict) -> None:
        """Store ``pix`` (its refunds) as it now is."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE pix SET body = ? WHERE e2eid = ?", (json.dumps(pix), pix["endToEndId"])
            )

    def pix_of(self, txid: str) -> list[dict]:
        """Return the Pix received for the charge ``txid``, oldest first."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT body FROM pix WHERE txid = ? ORDER BY seq", (txid,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def pix_between(self, start: str, end: str) -> list[dict]:
        """Return the Pix with ``start <= horario <= end`` (same text format), oldest first."""
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT body FROM pix WHERE horario >= ? AND horario <= ? ORDER BY horario, seq",
                (start, end),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    # --- webhooks -----------------------------------------------------------------------

    def webhook(self, chave: str) -> dict | None:
        """Return the webhook registered for ``chave``, or ``None``."""
        with self.transaction() as conn:
            row = conn.execute("SELECT body FROM webhook WHERE chave = ?", (chave,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_webhook(self, chave: str, webhook: dict | None) -> bool:
        """Register (or with ``None`` remove) the webhook of ``chave``; return if one was there."""
        with self.transaction() as conn:
            found = conn.execute("DELETE FROM webhook WHERE chave = ?", (chave,)).rowcount > 0
            if webhook is not None:
                conn.execute("INSERT INTO webhook VALUES (?, ?)", (chave, json.dumps(webhook)))
        return found
