"""Write events into the outbox, in the caller's transaction; destinations deliver them later.

``emit`` is the one way an event is made: one ``events`` row (the CloudEvents
1.0 document) and one ``event_deliveries`` row per target of each registered
destination, all in the transaction of the change itself. If that transaction
rolls back, the event never existed; once it commits, the relay
(``payments.events.relay``) sends it, at least once, to every target.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, current_app
from sqlalchemy import Connection, insert

from payments.events.models import Event, EventDelivery

SOURCE = "/payments/pix"
#: The destinations' registry, in ``app.extensions``: kind -> Destination.
EXTENSION = "outbox"
#: Called after a commit that emitted events (the relay's wake-up).
_WAKERS: list[Callable[[], None]] = []
_INSERT_EVENT = insert(Event.__table__)
_INSERT_DELIVERY = insert(EventDelivery.__table__)


@dataclass(frozen=True)
class Outcome:
    """What one attempt to send an event to one target gave."""

    delivered: bool
    status: int | None = None  # e.g. the HTTP status answered
    error: str | None = None  # short, never a secret
    final: bool = False  # do not retry: the delivery fails now (a push endpoint gone: 404/410)


@dataclass
class Destination:
    """Where events go: subclass it and override ``targets``, ``send`` and ``retry_seconds``."""

    kind: str

    def targets(self, connection: Connection, event: dict) -> list[str]:
        """Return the targets ``event`` goes to; called inside the emitting transaction."""
        raise NotImplementedError

    def send(self, target: str, event: dict) -> Outcome:
        """Send ``event`` to ``target`` (by the relay, outside any transaction); never raise."""
        raise NotImplementedError

    def retry_seconds(self) -> list[int]:
        """Return the delays between attempts; after the last one the delivery is failed."""
        raise NotImplementedError


def register(app: Flask, destination: Destination) -> None:
    """Make ``destination`` receive the events ``app`` emits from now on (one per kind)."""
    app.extensions.setdefault(EXTENSION, {})[destination.kind] = destination


def destinations(app: Flask | None = None) -> dict[str, Destination]:
    """Return ``app``'s (default: the current app's) registered destinations by kind."""
    return (app or current_app).extensions.get(EXTENSION, {})


def on_committed(waker: Callable[[], None]) -> None:
    """Call ``waker()`` after every commit that emitted events (in this process)."""
    if waker not in _WAKERS:
        _WAKERS.append(waker)


def committed() -> None:
    """Say that a transaction which emitted events has committed: wake whoever delivers them."""
    for waker in _WAKERS:
        waker()


def utc_text(moment: datetime) -> str:
    """Format ``moment`` as CloudEvents wants it: ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def dumps(event: dict) -> str:
    """Return the JSON text of ``event`` as it is stored and sent (compact, UTF-8)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def envelope(type: str, subject: str, data: dict, now: datetime) -> dict:
    """Return a CloudEvents 1.0 document."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": SOURCE,
        "type": type,
        "subject": subject,
        "time": utc_text(now),
        "datacontenttype": "application/json",
        "data": data,
    }


def emit(connection: Connection, *, type: str, payment: dict, data: dict | None = None,
         only: tuple[str, ...] | None = None) -> str:
    """Write one event about ``payment`` (its merchant view) in ``connection``'s transaction.

    ``data`` defaults to ``{"payment": payment}``; ``only`` limits the
    deliveries to those destination kinds. Return the event's id.
    """
    now = datetime.now(UTC)
    event = envelope(type, payment["id"], data if data is not None else {"payment": payment}, now)
    connection.execute(_INSERT_EVENT, {"id": event["id"], "type": type, "subject": payment["id"],
                                       "body": dumps(event), "created_at": now})
    rows = []
    for kind, destination in destinations().items():
        if only is not None and kind not in only:
            continue
        rows += [{"event_id": event["id"], "kind": kind, "target": target, "status": "pending",
                  "attempts": 0, "next_attempt_at": now}
                 for target in destination.targets(connection, event)]
    if rows:
        connection.execute(_INSERT_DELIVERY, rows)
    return event["id"]
