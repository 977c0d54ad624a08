"""The relay: send the outbox's due deliveries, after commit, in every server process.

A round claims due pending deliveries in a short transaction by pushing their
``next_attempt_at`` a lease ahead (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; the
conditional ``UPDATE ... RETURNING`` makes the claim exact on SQLite's single
writer too), commits, sends each outside any transaction, then records what
came of it: delivered; or one attempt more and the next try after the
destination's delay; or failed. A process that dies between claiming and
recording leaves its claims to be taken again once the lease ends: at least
once, a duplicate only after a crash.

Each (kind, target) pair is served by at most ``WORKERS_PER_TARGET`` workers of
a process at a time, each sending its share of the claimed deliveries one after
the other; the workers of different targets run side by side. A dead or slow
target therefore holds only its own workers: when one of its sends fails, the
rest of that worker's batch is recorded with the same failure without waiting
on it again, and the other targets' events go on. Outcomes are recorded in one
transaction per batch (or every ``RECORD_EVERY_SECONDS``): a crash duplicates at
most what was sent in that last moment.
"""

import json
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import bindparam, func, select, update

from payments.events import outbox
from payments.events.models import Event, EventDelivery
from payments.extensions import db, socketio

#: Seconds between rounds when nothing woke the relay.
POLL_SECONDS = 1.0
#: Deliveries looked at per kind and round, and sent per target by one worker in one go.
CLAIM_LIMIT = 500
BATCH_PER_TARGET = 100
#: Workers of one kind at once in one process (push may have a target per device), and of
#: one target: a fast endpoint gets a few events at once, a dead one holds only these.
WORKERS_PER_KIND = 16
WORKERS_PER_TARGET = 4
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


_COLUMNS = _DELIVERIES.c
# Statements built once, with bound parameters: building them per call (coercing every
# operand) cost more than running them, per delivery.
_DUE = (
    select(_COLUMNS.id, _COLUMNS.target)
    .where(_COLUMNS.status == "pending", _COLUMNS.next_attempt_at <= bindparam("now"),
           _COLUMNS.kind == bindparam("kind"),
           _COLUMNS.target.not_in(bindparam("busy", expanding=True)))
    .order_by(_COLUMNS.next_attempt_at, _COLUMNS.id)
    .limit(CLAIM_LIMIT)
    .with_for_update(skip_locked=True)
)
_DUE_OF_EVENT = _DUE.where(_COLUMNS.event_id == bindparam("event_id"))
#: Conditional: of two processes that read the same rows, only one moves each.
_CLAIM = (
    update(_DELIVERIES)
    .where(_COLUMNS.id.in_(bindparam("ids", expanding=True)), _COLUMNS.status == "pending",
           _COLUMNS.next_attempt_at <= bindparam("now"))
    .values(next_attempt_at=bindparam("until"))
    .returning(_COLUMNS.id, _COLUMNS.target, _COLUMNS.attempts, _COLUMNS.event_id)
)
_BODIES = select(_EVENTS.c.id, _EVENTS.c.body).where(
    _EVENTS.c.id.in_(bindparam("event_ids", expanding=True)))
_RECORD = (
    update(_DELIVERIES)
    .where(_COLUMNS.id == bindparam("delivery_id"), _COLUMNS.status == "pending")
    .values(status=bindparam("new_status"), attempts=bindparam("new_attempts"),
            next_attempt_at=bindparam("new_next_attempt_at"),
            last_status=bindparam("new_last_status"), last_error=bindparam("new_last_error"),
            delivered_at=bindparam("new_delivered_at"))
)
_RELEASE = (
    update(_DELIVERIES)
    .where(_COLUMNS.id.in_(bindparam("ids", expanding=True)), _COLUMNS.status == "pending")
    .values(next_attempt_at=bindparam("now"))
)
#: A worker records its outcomes at the end of its batch, or sooner once this many seconds
#: passed since it last did (a slow target: after each send).
RECORD_EVERY_SECONDS = 0.05


def claim(app: Flask, kind: str, busy: set[str], targets_wanted: int,
          event_id: str | None = None) -> dict[str, list[dict]]:
    """Claim due deliveries of ``kind`` for at most ``targets_wanted`` targets not in ``busy``.

    Return them grouped by target, oldest first, each with its event's document.
    With ``event_id``, only that event's.
    """
    now = utcnow()
    params = {"now": now, "kind": kind, "busy": sorted(busy), "event_id": event_id}
    with db.engine.begin() as connection:
        picked: dict[str, list[int]] = {}
        for delivery_id, target in connection.execute(
                _DUE if event_id is None else _DUE_OF_EVENT, params):
            if target not in picked and len(picked) >= targets_wanted:
                continue
            ids = picked.setdefault(target, [])
            if len(ids) < BATCH_PER_TARGET:
                ids.append(delivery_id)
        ids = [delivery_id for group in picked.values() for delivery_id in group]
        if not ids:
            return {}
        until = now + timedelta(seconds=lease_seconds(app))
        claimed = connection.execute(_CLAIM, {"ids": ids, "now": now, "until": until}).all()
        bodies = dict(connection.execute(
            _BODIES, {"event_ids": sorted({row.event_id for row in claimed})}).all())
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in sorted(claimed, key=lambda row: row.id):
        groups[row.target].append({"id": row.id, "attempts": row.attempts,
                                   "event_id": row.event_id, "body": bodies[row.event_id]})
    return dict(groups)


def outcome_values(destination: outbox.Destination, delivery: dict, outcome: outbox.Outcome,
                   note: str = "") -> dict:
    """Return what to store of one attempt: delivered, or the next try, or failed."""
    now = utcnow()
    attempts = delivery["attempts"] + 1
    values = {"delivery_id": delivery["id"], "new_attempts": attempts,
              "new_last_status": outcome.status, "new_next_attempt_at": now,
              "new_last_error": None, "new_delivered_at": None, "new_status": "pending"}
    if outcome.delivered:
        values.update(new_status="delivered", new_delivered_at=now)
        return values
    values["new_last_error"] = (note + (outcome.error or "failed"))[:ERROR_LENGTH]
    delays = list(destination.retry_seconds())
    if outcome.final or attempts > len(delays):
        values["new_status"] = "failed"
    else:
        values["new_next_attempt_at"] = now + timedelta(seconds=delays[attempts - 1])
    return values


def record(rows: list[dict]) -> None:
    """Store outcomes (``outcome_values``) in one transaction."""
    if rows:
        with db.engine.begin() as connection:
            connection.execute(_RECORD, rows)


def release(deliveries: list[dict]) -> None:
    """Give claimed deliveries back, unsent and due now (another worker may take them)."""
    if deliveries:
        with db.engine.begin() as connection:
            connection.execute(_RELEASE, {"ids": [d["id"] for d in deliveries],
                                          "now": utcnow()})


def send_batch(app: Flask, destination: outbox.Destination, target: str,
               deliveries: list[dict]) -> int:
    """Send ``deliveries`` to ``target`` in order and record each; return how many were tried.

    After a failure the rest are recorded as failed alike, unsent: the target is down.
    A batch stops sending halfway through its lease, giving back what is left.
    Outcomes are recorded together, at the end or every ``RECORD_EVERY_SECONDS``.
    """
    started = last_recorded = time.monotonic()
    budget = lease_seconds(app) / 2
    done: list[dict] = []
    try:
        for index, delivery in enumerate(deliveries):
            if time.monotonic() - started > budget:
                record(done)
                done = []
                release(deliveries[index:])
                return index
            try:
                outcome = destination.send(target, json.loads(delivery["body"]))
            except Exception as exc:  # a destination must not end its worker
                app.logger.exception("outbox: %s send failed", destination.kind)
                outcome = outbox.Outcome(False, error=f"{type(exc).__name__}")
            done.append(outcome_values(destination, delivery, outcome))
            if not outcome.delivered and not outcome.final:
                done += [outcome_values(destination, rest, outcome,
                                        note="not sent, the target failed just now: ")
                         for rest in deliveries[index + 1:]]
                return len(deliveries)
            if time.monotonic() - last_recorded > RECORD_EVERY_SECONDS:
                record(done)
                done = []
                last_recorded = time.monotonic()
        return len(deliveries)
    finally:
        record(done)


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
    """This process's background relay: claims due deliveries and gives each target workers."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.busy: dict[str, Counter] = defaultdict(Counter)  # kind -> target -> workers
        self.lock = threading.Lock()
        self.stopped = False

    def stop(self) -> None:
        """End ``run`` after its current round (tests)."""
        self.stopped = True
        wake()

    def round(self) -> None:
        """Claim what is due for every target with a free worker, and start the workers.

        A target's claimed batch is split between its free workers (at most
        ``WORKERS_PER_TARGET``), so a fast endpoint has several events in flight.
        """
        with self.app.app_context():
            for kind, destination in outbox.destinations(self.app).items():
                with self.lock:
                    busy = Counter(self.busy[kind])
                room = WORKERS_PER_KIND - sum(busy.values())
                if room <= 0:
                    continue
                full = {target for target, workers in busy.items()
                        if workers >= WORKERS_PER_TARGET}
                for target, deliveries in claim(self.app, kind, full, room).items():
                    free = max(1, min(WORKERS_PER_TARGET - busy[target], room))
                    size = -(-len(deliveries) // free)  # ceiling: at most ``free`` chunks
                    for start in range(0, len(deliveries), size):
                        with self.lock:
                            self.busy[kind][target] += 1
                        room -= 1
                        socketio.start_background_task(self.work, destination, target,
                                                       deliveries[start:start + size])

    def work(self, destination: outbox.Destination, target: str, deliveries: list[dict]) -> None:
        try:
            with self.app.app_context():
                send_batch(self.app, destination, target, deliveries)
        except Exception:  # the database went away: the lease gives them back later
            self.app.logger.exception("outbox: recording a %s delivery failed", destination.kind)
        finally:
            with self.lock:
                self.busy[destination.kind][target] -= 1
                if self.busy[destination.kind][target] <= 0:
                    del self.busy[destination.kind][target]
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

