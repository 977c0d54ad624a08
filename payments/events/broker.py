"""RabbitMQ: the outbox's destination for the shop's other services (``BROKER_URL``).

Every event is published to the durable topic exchange ``payments`` with the
event's ``type`` as routing key, persistent, ``message_id`` = the event's id,
``content_type`` ``application/cloudevents+json`` and the CloudEvents document
as body. The channel is in confirm mode: a delivery is recorded as delivered
only after the broker confirmed the message (``basic.ack``); a ``basic.nack``,
a lost connection or no confirmation within ``CONFIRM_TIMEOUT`` is an attempt
that failed, retried later. The durable fanout exchanges of the seed's services,
``Pagamentos_Aprovados`` (``payment.paid``) and ``Pagamentos_Recusados``
(``payment.refused``), are declared and bound to ``payments`` with
exchange-to-exchange bindings on every (re)connection.

One connection per process, opened on first use and again after any failure
(kombu over py-amqp: pure Python sockets, which eventlet's monkey patching makes
green). A broker that cannot be reached never stops the start or a request:
``start`` logs one line, events wait in the outbox, a probe retries every
``PROBE_SECONDS`` and, once the broker answers, makes the waiting deliveries due
at once so they go out within seconds rather than at their backed-off retry.
"""

import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from flask import Flask
from kombu import Connection, Exchange, Producer
from sqlalchemy import Connection as Database
from sqlalchemy import update

from payments.events import outbox
from payments.events.models import EventDelivery
from payments.extensions import db, socketio

KIND = "broker"

#: The topic exchange every event is published to, with its type as routing key.
EXCHANGE = "payments"
#: The seed's fanout exchanges, each with the routing key it receives from ``payments``.
FANOUTS = {"Pagamentos_Aprovados": "payment.paid", "Pagamentos_Recusados": "payment.refused"}
#: The media type of a message: one CloudEvents 1.0 document in JSON ("structured mode").
CONTENT_TYPE = "application/cloudevents+json"
#: Seconds to wait for the TCP connection and the AMQP handshake.
CONNECT_TIMEOUT = 2.0
#: Seconds to wait for the broker's confirmation of one message.
CONFIRM_TIMEOUT = 5.0
#: Seconds after a failed connection during which attempts fail at once without connecting:
#: a thousand waiting events do not each wait out a connect timeout.
RECONNECT_SECONDS = 1.0
#: Seconds between the probes that notice a broker which is back.
PROBE_SECONDS = 2.0
#: Seconds ``status`` waits for a publish in flight before answering from what it knows.
STATUS_WAIT_SECONDS = 0.5
#: Delays between the attempts of one delivery, the last one repeated: at least 30 days of
#: waiting before a delivery is given up (``failed``; ``flask events resend`` sends it again).
#: The probe makes waiting deliveries due at once when the broker is back, so the backoff only
#: bounds how often a broker that is down is asked.
RETRY_SCHEDULE = (1, 2, 5, 15, 60, 300)
RETRY_FOREVER_DAYS = 30


def retry_seconds() -> list[int]:
    """Return the delays between attempts of one broker delivery (see ``RETRY_SCHEDULE``)."""
    return list(_DELAYS)


_DELAYS = RETRY_SCHEDULE + (RETRY_SCHEDULE[-1],) * (
    (RETRY_FOREVER_DAYS * 86400 - sum(RETRY_SCHEDULE)) // RETRY_SCHEDULE[-1] + 1
)


class BrokerError(Exception):
    """A message was not confirmed: the broker is unreachable, refused it, or did not answer."""


class Broker:
    """This process's connection to ``url``, its channel in confirm mode, and the topology.

    Every method may be called from several threads or green threads; one lock
    keeps them to one AMQP conversation at a time.
    """

    def __init__(self, url: str):
        self.url = url
        self.lock = threading.Lock()
        self.connection: Connection | None = None
        self.producer: Producer | None = None
        self.failed_at = float("-inf")  # monotonic time of the last failed connection
        self.last_error: str | None = None  # set by a failure, cleared by a success

    @property
    def down(self) -> bool:
        """Tell whether the last thing tried with the broker failed (and nothing since worked)."""
        return self.producer is None and self.last_error is not None

    def publish(self, event: dict) -> None:
        """Publish ``event`` to ``payments`` and return once the broker confirmed it.

        A connection found dead (the broker restarted meanwhile) is reopened and
        the message sent once more, so an idle process does not lose an attempt
        to a stale socket.

        :raise BrokerError: it was not confirmed; the text says why, in a few words.
        """
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        with self.lock:
            for attempt in (1, 2):
                fresh = self.producer is None
                producer = self._producer()
                try:
                    producer.publish(
                        body,
                        routing_key=event["type"],
                        delivery_mode=2,
                        message_id=event["id"],
                        content_type=CONTENT_TYPE,
                        content_encoding="utf-8",
                        timeout=CONFIRM_TIMEOUT,
                    )
                except Exception as exc:  # any error leaves the channel in doubt: start anew
                    self._drop(gist(exc))
                    if fresh or attempt == 2:
                        raise BrokerError(self.last_error) from None
                    continue
                self.last_error = None
                return

    def status(self) -> str:
        """Return ``ok`` when the broker answers now, else ``unavailable``.

        An open connection is asked a passive declare of ``payments`` (one round trip);
        otherwise one is opened, unless one failed within ``RECONNECT_SECONDS``. While a
        publish holds the connection longer than ``STATUS_WAIT_SECONDS``, the last
        known state is the answer: ``/health`` never waits out a confirmation.
        """
        if not self.lock.acquire(timeout=STATUS_WAIT_SECONDS):
            return "unavailable" if self.down else "ok"  # a publish is in flight: its news
        try:
            producer = self._producer()
            producer.channel.exchange_declare(EXCHANGE, "topic", durable=True, passive=True)
        except BrokerError:
            return "unavailable"
        except Exception as exc:  # a dead connection, whatever its error class
            self._drop(gist(exc))
            return "unavailable"
        finally:
            self.lock.release()
        return "ok"

    def close(self) -> None:
        """Close the connection, if one is open."""
        with self.lock:
            self._drop(self.last_error)

    def _producer(self) -> Producer:
        """Return the open producer, connecting and declaring the topology first if needed.

        :raise BrokerError: the broker cannot be reached (or failed within
            ``RECONNECT_SECONDS``), or refused a declaration.
        """
        if self.producer is not None:
            return self.producer
        if time.monotonic() - self.failed_at < RECONNECT_SECONDS:
            raise BrokerError(self.last_error or "unavailable")
        connection = Connection(
            self.url, connect_timeout=CONNECT_TIMEOUT, transport_options={"confirm_publish": True}
        )
        try:
            connection.ensure_connection(max_retries=0)  # one try: the outbox retries
            channel = connection.channel()
            declare(channel)
        except Exception as exc:  # refused, timed out, bad credentials, a declaration refused
            connection.release()
            self.failed_at = time.monotonic()
            self.last_error = gist(exc)
            raise BrokerError(self.last_error) from None
        self.connection = connection
        self.producer = Producer(channel, exchange=Exchange(EXCHANGE), auto_declare=False)
        self.last_error = None
        return self.producer

    def _drop(self, error: str | None) -> None:
        """Forget the connection (closing what can be closed) after ``error``."""
        connection, self.connection, self.producer = self.connection, None, None
        if error is not None:
            self.last_error = error
        if connection is not None:
            try:
                connection.release()
            except Exception:  # closing a dead socket may fail too; it is gone either way
                pass


def declare(channel) -> None:
    """Declare ``payments`` (durable topic) and the seed's fanouts bound to it (idempotent)."""
    topic = Exchange(EXCHANGE, type="topic", durable=True)
    topic.declare(channel=channel)
    for name, routing_key in FANOUTS.items():
        fanout = Exchange(name, type="fanout", durable=True)
        fanout.declare(channel=channel)
        fanout.bind_to(topic, routing_key=routing_key, channel=channel)


def gist(exc: BaseException) -> str:
    """Return why a broker call failed in a few words (``connection refused``), no secrets."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer in time"
    cause: BaseException | None = exc
    while cause is not None:  # the socket's own error, whatever layer wrapped it
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]


def safe_url(url: str) -> str:
    """Return ``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def broker(app: Flask) -> Broker | None:
    """Return this process's ``Broker`` of ``app``, or None when ``BROKER_URL`` is unset."""
    url = app.config.get("BROKER_URL")
    if not url:
        return None
    found = app.extensions.get("broker")
    if found is None:
        found = app.extensions.setdefault("broker", Broker(url))
    return found


def status(app: Flask) -> str:
    """Return the broker's state for ``/health``: ``ok``, ``unavailable`` or ``disabled``."""
    found = broker(app)
    return "disabled" if found is None else found.status()


@dataclass
class BrokerDestination(outbox.Destination):
    """The outbox's destination ``broker``: one target, the exchange ``payments``."""

    kind: str = KIND
    broker: Broker | None = field(default=None, repr=False)

    def targets(self, connection: Database, event: dict) -> list[str]:
        return [EXCHANGE]

    def send(self, target: str, event: dict) -> outbox.Outcome:
        try:
            self.broker.publish(event)
        except BrokerError as exc:
            return outbox.Outcome(False, error=f"broker: {exc}")
        return outbox.Outcome(True)

    def retry_seconds(self) -> list[int]:
        return retry_seconds()


def init_app(app: Flask) -> None:
    """Register the broker destination when ``BROKER_URL`` is set (nothing is connected yet)."""
    found = broker(app)
    if found is not None:
        outbox.register(app, BrokerDestination(broker=found))


def start(app: Flask) -> None:
    """Connect at a server's start, logging one line either way; start the recovery probe.

    An unreachable broker is not a reason to refuse the start (the contract: creates
    and bank notices still work, events wait): the line says so, and the probe
    notices when it is back.
    """
    found = broker(app)
    if found is None:
        return
    where = safe_url(found.url)
    if found.status() == "ok":
        with app.app_context():
            resumed = make_due(app)  # what waited for the broker before this start goes now
        app.logger.info(
            "broker: publishing events to exchange %r at %s (%d waiting)", EXCHANGE, where, resumed
        )
    else:
        app.logger.warning(
            "broker unreachable at %s: %s; events wait in the outbox until it answers",
            where,
            found.last_error,
        )
    socketio.start_background_task(probe_forever, app)


def probe(app: Flask) -> bool:
    """If the broker was down and answers now, make its waiting deliveries due; tell if so."""
    found = broker(app)
    if found is None or not found.down or found.status() != "ok":
        return False
    with app.app_context():
        resumed = make_due(app)
    app.logger.warning(
        "broker answers again at %s: %d waiting events resumed", safe_url(found.url), resumed
    )
    from payments.events import relay  # the relay imports the destinations' registry

    relay.wake()
    return True


def probe_forever(app: Flask) -> None:
    """Run ``probe`` every ``PROBE_SECONDS``; a failure is logged once and retried."""
    while True:
        socketio.sleep(PROBE_SECONDS)
        try:
            probe(app)
        except Exception:  # the database may be away too: try again next time
            app.logger.exception("broker probe failed; retrying every %s s", PROBE_SECONDS)


def make_due(app: Flask) -> int:
    """Make every pending broker delivery that failed an attempt due now; return how many.

    A delivery claimed by a relay at this moment (never tried yet, or being
    retried) keeps its lease unless it failed before: at worst one is sent
    twice, which at-least-once allows.
    """
    table = EventDelivery.__table__
    with db.engine.begin() as connection:
        return connection.execute(
            update(table)
            .where(table.c.kind == KIND, table.c.status == "pending", table.c.attempts > 0)
            .values(next_attempt_at=datetime.now(UTC))
        ).rowcount
