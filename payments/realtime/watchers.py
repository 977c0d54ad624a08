"""Requests waiting for a payment to change (SSE streams, long polls), in this process.

``realtime.publish`` wakes them at once for changes made here; the background
task re-reads the watched payments on every tick, so changes made by another
process sharing the database wake them too.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app

EXTENSION = "payment_watchers"


class Watch:
    """One waiting request: the last status it knows, and the changes it has not seen."""

    def __init__(self, payment_id: str, status: str) -> None:
        self.payment_id = payment_id
        self.status = status
        self._changes: list[dict] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def offer(self, payment_object: dict) -> bool:
        """Take ``payment_object`` if its status is news to this watch; tell whether it was."""
        with self._lock:
            if payment_object["status"] == self.status:
                return False
            self.status = payment_object["status"]
            self._changes.append(payment_object)
        self._wake.set()
        return True

    def wait(self, timeout: float) -> list[dict]:
        """Return the changes since the last call, waiting up to ``timeout`` s for one."""
        self._wake.wait(timeout)
        with self._lock:
            changes, self._changes = self._changes, []
            self._wake.clear()
        return changes


class Hub:
    """Payment id -> the watches of that payment."""

    def __init__(self) -> None:
        self._watches: dict[str, set[Watch]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def watch(self, payment_id: str, status: str) -> Iterator[Watch]:
        """Register a watch of ``payment_id`` that knows ``status``; drop it on exit."""
        watch = Watch(payment_id, status)
        with self._lock:
            self._watches.setdefault(payment_id, set()).add(watch)
        try:
            yield watch
        finally:
            with self._lock:
                watches = self._watches.get(payment_id, set())
                watches.discard(watch)
                if not watches:
                    self._watches.pop(payment_id, None)

    def notify(self, payment_object: dict) -> int:
        """Offer a payment's current state to its watches; return how many took it."""
        with self._lock:
            watches = list(self._watches.get(payment_object["id"], ()))
        return sum(watch.offer(payment_object) for watch in watches)

    def known(self) -> dict[str, set[str]]:
        """Return, per status, the ids of the watched payments some watch knows in it."""
        known: dict[str, set[str]] = {}
        with self._lock:
            for payment_id, watches in self._watches.items():
                for watch in watches:
                    known.setdefault(watch.status, set()).add(payment_id)
        return known

    def count(self) -> int:
        """Return the number of live watches."""
        with self._lock:
            return sum(len(watches) for watches in self._watches.values())


def init_app(app: Flask) -> None:
    """Give ``app`` its hub of waiting requests."""
    app.extensions[EXTENSION] = Hub()


def hub() -> Hub:
    """Return the current app's hub."""
    return current_app.extensions[EXTENSION]
