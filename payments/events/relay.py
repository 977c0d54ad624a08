"""The relay: send the outbox's due deliveries, after commit, in every server process.

A round claims due pending deliveries in a short transaction by pushing their
``next_attempt_at`` a lease ahead (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the
conditional ``UPDATE ... RETURNING`` makes the claim exact on SQLite's single
writer too), commits, sends each outside any transaction, then records what
came of it: delivered; or one attempt more and the next try after the
destination's delay; or failed. A process that dies between claiming and
recording leaves its claims to be taken again once the lease ends: at least
once, a duplicate only after a crash.

Each (kind, target) pair is served by at most one worker of a process at a
time, sending its claimed deliveries one after the other; the workers of
different targets run side by side. A dead or slow target therefore holds only
its own worker: when one of its sends fails, the rest of its batch is recorded
with the same failure without waiting on it again, and the others' events go on.
"""

import json
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import func, not_, select, update

from payments.events import outbox
from payments.events.models import Event, EventDelivery
from payments.extensions import db, socketio

#: Seconds between rounds when nothing woke the relay.
POLL_SECONDS = 1.0
#: Deliveries looked at per kind and round, and sent per target by one worker in one go.
CLAIM_LIMIT = 200
BATCH_PER_TARGET = 20
#: Workers of one kind at once in one process (push may have a target per device).
WORKERS_PER_KIND = 16
#: The longest error text kept.
ERROR_LENGTH = 300

_DELIVERIES = EventDelivery.__table__
_EVENTS = Event.__table__

#: This process's relay, woken by ``outbox.committed()``.
_wake = threading.Event()


def wake() -> None:
    """Make the relay look for due deliveries now."""
    _wake.set()


outbox.on_committed(wake)


def utcnow() -> datetime:
    return datetime.now(UTC)


def lease_seconds(app: Flask) -> float:
    """Return how long a claim holds its deliveries before another process may take them."""
    return float(app.config["EVENTS_LEASE_SECONDS"])


def claim(app: Flask, kind: str, busy: set[str], targets_wanted: int,
          event_id: str | None = None) -> dict[str, list[dict]]:
    """Claim due deliveries of ``kind`` for at most ``targets_wanted`` targets not in ``busy``.

    Return them grouped by target, oldest first, each with its event's document.
    With ``event_id``, only that event's.
    """
    now = utcnow()
    candidates = (
        select(_DELIVERIES.c.id, _DELIVERIES.c.target)
        .where(_DELIVERIES.c.status == "pending", _DELIVERIES.c.next_attempt_at <= now,
               _DELIVERIES.c.kind == kind)
        .order_by(_DELIVERIES.c.next_attempt_at, _DELIVERIES.c.id)
        .limit(CLAIM_LIMIT)
        .with_for_update(skip_locked=True)
    )
    if event_id is not None:
        candidates = candidates.where(_DELIVERIES.c.event_id == event_id)
    if busy:
        candidates = candidates.where(not_(_DELIVERIES.c.target.in_(sorted(busy))))
    with db.engine.begin() as connection:
        picked: dict[str, list[int]] = {}
        for delivery_id, target in connection.execute(candidates):
            if target not in picked and len(picked) >= targets_wanted:
                continue
            ids = picked.setdefault(target, [])
            if len(ids) < BATCH_PER_TARGET:
                ids.append(delivery_id)
        ids = [delivery_id for group in picked.values() for delivery_id in group]
        if not ids:
            return {}
        until = now + timedelta(seconds=lease_seconds(app))
        # Conditional: of two processes that read the same rows, only one moves each.
        claimed = connection.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id.in_(ids), _DELIVERIES.c.status == "pending",
                   _DELIVERIES.c.next_attempt_at <= now)
            .values(next_attempt_at=until)
            .returning(_DELIVERIES.c.id, _DELIVERIES.c.target, _DELIVERIES.c.attempts,
                       _DELIVERIES.c.event_id)
        ).all()
        bodies = dict(connection.execute(
            select(_EVENTS.c.id, _EVENTS.c.body)
            .where(_EVENTS.c.id.in_({row.event_id for row in claimed}))).all())
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(claimed, key=lambda row: row.id):
        groups[row.target].append({"id": row.id, "attempts": row.attempts,
                                   "event_id": row.event_id, "body": bodies[row.event_id]})
    return dict(groups)


def record(destination: outbox.Destination, delivery: dict, outcome: outbox.Outcome,
           note: str = "") -> None:
    """Store what one attempt gave: delivered, or the next try, or failed."""
    now = utcnow()
    attempts = delivery["attempts"] + 1
    values: dict = {"attempts": attempts, "last_status": outcome.status,
                    "last_error": None if outcome.delivered else
                    (note + (outcome.error or "failed"))[:ERROR_LENGTH]}
    if outcome.delivered:
        values.update(status="delivered", delivered_at=now)
    else:
        delays = list(destination.retry_seconds())
        if outcome.final or attempts > len(delays):
            values.update(status="failed")
        else:
            values.update(next_attempt_at=now + timedelta(seconds=delays[attempts - 1]))
    with db.engine.begin() as connection:
        connection.execute(update(_DELIVERIES).where(_DELIVERIES.c.id == delivery["id"],
                                                     _DELIVERIES.c.status == "pending")
                           .values(**values))


def release(deliveries: list[dict]) -> None:
    """Give claimed deliveries back, unsent and due now (another worker may take them)."""
    if deliveries:
        with db.engine.begin() as connection:
            connection.execute(update(_DELIVERIES)
                               .where(_DELIVERIES.c.id.in_([d["id"] for d in deliveries]),
                                      _DELIVERIES.c.status == "pending")
                               .values(next_attempt_at=utcnow()))


def send_batch(app: Flask, destination: outbox.Destination, target: str,
               deliveries: list[dict]) -> int:
    """Send ``deliveries`` to ``target`` in order and record each; return how many were tried.

    After a failure the rest are recorded as failed alike, unsent: the target is down.
    A batch stops sending halfway through its lease, giving back what is left.
    """
    started = time.monotonic()
    budget = lease_seconds(app) / 2
    for index, delivery in enumerate(deliveries):
        if time.monotonic() - started > budget:
            release(deliveries[index:])
            return index
        try:
            outcome = destination.send(target, json.loads(delivery["body"]))
        except Exception as exc:  # a destination must not end its worker
            app.logger.exception("outbox: %s send failed", destination.kind)
            outcome = outbox.Outcome(False, error=f"{type(exc).__name__}")
        record(destination, delivery, outcome)
        if not outcome.delivered and not outcome.final:
            for rest in deliveries[index + 1:]:
                record(destination, rest, outcome, note="not sent, the target failed just now: ")
            return len(deliveries)
    return len(deliveries)


def deliver_due(app: Flask, event_id: str | None = None) -> int:
    """Run one round now, in the caller, every target in turn; return how many were tried.

    With ``event_id``, only that event's due deliveries.
    """
    tried = 0
    with app.app_context():
        for kind, destination in outbox.destinations(app).items():
            while True:
                groups = claim(app, kind, set(), CLAIM_LIMIT, event_id)
                if not groups:
                    break
                for target, deliveries in groups.items():
                    tried += send_batch(app, destination, target, deliveries)
    return tried


class Relay:
    """This process's background relay: claims due deliveries and gives each target a worker."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.busy: dict[str, set[str]] = defaultdict(set)  # kind -> targets being sent to
        self.lock = threading.Lock()
        self.stopped = False

    def stop(self) -> None:
        """End ``run`` after its current round (tests)."""
        self.stopped = True
        wake()

    def round(self) -> None:
        """Claim what is due for every target without a worker, and start their workers."""
        with self.app.app_context():
            for kind, destination in outbox.destinations(self.app).items():
                with self.lock:
                    busy = set(self.busy[kind])
                room = WORKERS_PER_KIND - len(busy)
                if room <= 0:
                    continue
                for target, deliveries in claim(self.app, kind, busy, room).items():
                    with self.lock:
                        self.busy[kind].add(target)
                    socketio.start_background_task(self.work, destination, target, deliveries)

    def work(self, destination: outbox.Destination, target: str, deliveries: list[dict]) -> None:
        try:
            with self.app.app_context():
                send_batch(self.app, destination, target, deliveries)
        except Exception:  # the database went away: the lease gives them back later
            self.app.logger.exception("outbox: recording a %s delivery failed", destination.kind)
        finally:
            with self.lock:
                self.busy[destination.kind].discard(target)
            wake()  # its target may have more waiting

    def run(self, rounds: int | None = None) -> None:
        """Run rounds when woken or every ``POLL_SECONDS``; log failures and go on."""
        failing = False
        done = 0
        while not self.stopped and (rounds is None or done < rounds):
            done += 1
            _wake.wait(POLL_SECONDS)
            _wake.clear()
            try:
                self.round()
            except Exception:
                if not failing:
                    self.app.logger.exception("outbox relay failed; retrying every %s s",
                                              POLL_SECONDS)
                failing = True
            else:
                if failing:
                    self.app.logger.warning("outbox relay works again")
                failing = False


def start(app: Flask) -> None:
    """Start this process's relay (a green thread under eventlet, a thread otherwise)."""
    socketio.start_background_task(run, app)


def run(app: Flask, rounds: int | None = None) -> None:
    """Be ``app``'s relay in this process: forever, or ``rounds`` rounds."""
    relay = app.extensions["outbox_relay"] = Relay(app)
    relay.run(rounds)


def waiting() -> int:
    """Return how many deliveries are still pending (in the current app's database)."""
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(_DELIVERIES)
                                 .where(_DELIVERIES.c.status == "pending"))

