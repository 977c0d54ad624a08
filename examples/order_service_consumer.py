"""An order service's consumer of paid charges: the starting point for one of the shop's services.

    BROKER_URL=amqp://guest:guest@127.0.0.1:5672// python examples/order_service_consumer.py

It binds its own durable queue (``order-service.pagamentos-aprovados``) to the
fanout exchange ``Pagamentos_Aprovados``, which receives every ``payment.paid``
event of the payment service. For each message it marks the order paid in its
own database (SQLite, ``orders.sqlite``) and records the message's
``message_id`` (the event's id) in the same transaction, then acknowledges the
message, only after that commit. The payment service publishes at least once:
a message may come again (after a crash between the commit and the ack, or a
second publish after a lost confirmation); its ``message_id`` is then found in
``processed_messages`` and the message is acknowledged without doing the work
twice.

Only this file's ``handle`` is about orders; the rest is what any consumer of
the payment events needs. It uses kombu, the client the payment service uses.
"""

import argparse
import json
import logging
import os
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

from kombu import Connection, Consumer, Exchange, Message, Queue

log = logging.getLogger("order_service")

#: The exchange of the payment service this consumer follows (``Pagamentos_Recusados``
#: for refusals, or ``payments`` with a routing key such as ``payment.*``).
EXCHANGE = Exchange("Pagamentos_Aprovados", type="fanout", durable=True)
QUEUE = "order-service.pagamentos-aprovados"

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    reference TEXT PRIMARY KEY,          -- the merchant's external_id, else the payment id
    payment_id TEXT NOT NULL,
    status TEXT NOT NULL,
    paid_cents INTEGER,                  -- money in centavos, never a float
    paid_at TEXT
);
CREATE TABLE IF NOT EXISTS ledger (     -- one credit per payment: a duplicate would double it
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reference TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS processed_messages (
    message_id TEXT PRIMARY KEY,
    processed_at TEXT NOT NULL
);
"""


def open_database(path: str) -> sqlite3.Connection:
    """Return the service's own database at ``path``, its tables created."""
    db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit below
    db.executescript(SCHEMA)
    return db


def handle(db: sqlite3.Connection, message_id: str, event: dict) -> bool:
    """Do the order's work for one event and record ``message_id``, in one transaction.

    Return False (and change nothing) when this message was processed before.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        seen = db.execute(
            "SELECT 1 FROM processed_messages WHERE message_id = ?", (message_id,)
        ).fetchone()
        if seen:
            db.execute("ROLLBACK")
            return False
        payment = event["data"]["payment"]
        reference = payment.get("external_id") or payment["id"]
        cents = int(Decimal(str(payment["value"])) * 100)  # JSON 150.5 is R$ 150,50 exactly
        db.execute(
            "INSERT INTO orders (reference, payment_id, status, paid_cents, paid_at)"
            " VALUES (?, ?, 'paid', ?, ?)"
            " ON CONFLICT (reference) DO UPDATE SET status = 'paid',"
            " payment_id = excluded.payment_id, paid_cents = excluded.paid_cents,"
            " paid_at = excluded.paid_at",
            (reference, payment["id"], cents, payment.get("paid_at")),
        )
        db.execute(
            "INSERT INTO ledger (reference, payment_id, amount_cents) VALUES (?, ?, ?)",
            (reference, payment["id"], cents),
        )
        db.execute(
            "INSERT INTO processed_messages (message_id, processed_at) VALUES (?, ?)",
            (message_id, datetime.now(UTC).isoformat()),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return True


def on_message(db: sqlite3.Connection, message: Message) -> None:
    """Handle one message, then acknowledge it (after the commit, never before)."""
    message_id = message.properties.get("message_id")
    try:
        event = json.loads(message.body)
        event["data"]["payment"]["id"]  # noqa: B018 -- the shape this service relies on
    except (ValueError, KeyError, TypeError):
        log.error("message %s is not a payment event; rejected", message_id)
        message.reject(requeue=False)  # a dead-letter exchange on the queue would keep it
        return
    if not message_id:
        message_id = event.get("id")
    if handle(db, message_id, event):
        log.info("order paid: payment %s (message %s)", event["subject"], message_id)
    else:
        log.info("message %s seen before: acknowledged, nothing done", message_id)
    message.ack()


def queue(name: str = QUEUE) -> Queue:
    """Return the service's durable queue, bound to ``EXCHANGE``."""
    return Queue(name, exchange=EXCHANGE, durable=True)


def run(
    url: str,
    database: str,
    queue_name: str = QUEUE,
    idle_seconds: float | None = None,
    limit: int | None = None,
) -> int:
    """Consume until stopped (or ``limit`` messages, or ``idle_seconds`` without one).

    Return how many messages were received.
    """
    db = open_database(database)
    received = 0
    with Connection(url, connect_timeout=5) as connection:

        def callback(message: Message) -> None:  # the raw message: the body is ours to parse
            nonlocal received
            received += 1
            on_message(db, message)

        with Consumer(
            connection, queues=[queue(queue_name)], on_message=callback, prefetch_count=10
        ):
            while limit is None or received < limit:
                try:
                    connection.drain_events(timeout=idle_seconds)
                except TimeoutError:
                    break
    db.close()
    return received


def main() -> None:
    """Run the consumer from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--broker", default=os.environ.get("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    )
    parser.add_argument("--database", default="orders.sqlite")
    parser.add_argument("--queue", default=QUEUE)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        run(args.broker, args.database, args.queue)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
