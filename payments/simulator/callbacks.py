"""Webhook callbacks: ``POST {webhookUrl}/pix`` with ``{"pix": [...]}``, retried with back-off.

Each callback runs in its own thread: up to ``SIM_CALLBACK_ATTEMPTS`` tries, waiting
``SIM_CALLBACK_DELAY`` seconds after the first failure and twice as long after each next one
(at most 30 s). A ``2xx`` answer ends it. ``--drop-callbacks`` records each callback as
dropped and sends nothing, so the receiver's reconciliation can be seen at work. The log of
the last callbacks is ``GET /sim/callbacks``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque

TIMEOUT = 5
MAX_DELAY = 30
LOG_SIZE = 500


class Notifier:
    """Sends callbacks and remembers how each went."""

    def __init__(self, *, attempts: int, delay: float, drop: bool) -> None:
        self.attempts, self.delay, self.drop = attempts, delay, drop
        self._log: deque[dict] = deque(maxlen=LOG_SIZE)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def log(self) -> list[dict]:
        """Return a copy of the callbacks' records, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._log]

    def send(self, url: str | None, items: list[dict]) -> dict:
        """Start the callback of ``items`` to ``url`` (a webhook base) and return its record."""
        entry = {
            "id": next(self._ids),
            "url": f"{url.rstrip('/')}/pix" if url else None,
            "endToEndIds": [item["endToEndId"] for item in items],
            "state": "pending",
            "attempts": 0,
            "last_status": None,
            "last_error": None,
        }
        with self._lock:
            self._log.append(entry)
        if url is None:
            self._update(entry, state="no_webhook")
        elif self.drop:
            self._update(entry, state="dropped")
        else:
            body = json.dumps({"pix": items}).encode()
            threading.Thread(
                target=self._deliver,
                args=(entry, body),
                daemon=True,
                name=f"callback-{entry['id']}",
            ).start()
        return dict(entry)

    def _update(self, entry: dict, **changes: object) -> None:
        with self._lock:
            entry.update(changes)

    def _deliver(self, entry: dict, body: bytes) -> None:
        """Post ``body`` until a ``2xx`` or the attempts run out."""
        delay = self.delay
        for attempt in range(1, self.attempts + 1):
            status, error = _post(entry["url"], body)
            self._update(entry, attempts=attempt, last_status=status, last_error=error)
            if status is not None and 200 <= status < 300:
                self._update(entry, state="delivered")
                return
            if attempt < self.attempts:
                time.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
        self._update(entry, state="failed")


def _post(url: str, body: bytes) -> tuple[int | None, str | None]:
    """Post once; return (status, None) or (None, why it could not be sent)."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            answer.read()
            return answer.status, None
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, None
    except (OSError, ValueError) as exc:
        return None, str(exc)
