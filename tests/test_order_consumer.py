"""examples/order_service_consumer.py: once per message, acknowledged after its own commit.

With the machine's RabbitMQ. The consumer's queue has a name of this test's own
and is deleted afterwards; it also receives whatever else is published as paid
meanwhile, so the checks look at this test's payment only.
"""

import sqlite3
import uuid

import pytest
from kombu import Connection

from examples import order_service_consumer as consumer
from payments.events.broker import Broker
from tests.rabbitmq import broker_url  # noqa: F401  (fixture)
from tests.test_broker import event


@pytest.fixture
def queue_name(broker_url):  # noqa: F811
    """Return a queue name of this test's own; the queue is deleted afterwards."""
    name = f"test-order-service-{uuid.uuid4().hex[:12]}"
    yield name
    with Connection(broker_url, connect_timeout=5) as connection:
        consumer.queue(name)(connection.channel()).delete()


def paid(reference: str) -> dict:
    return event(
        "payment.paid",
        id=f"pay-{reference}",
        value=150.5,
        external_id=reference,
        paid_at="2026-11-23T10:05:00Z",
    )


def ledger(path, reference) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT payment_id, amount_cents FROM ledger WHERE reference = ?", (reference,)
        ).fetchall()


def declare(url, queue_name) -> None:
    """Bind the service's queue before anything is published, as the service's first start does."""
    with Connection(url, connect_timeout=5) as connection:
        consumer.queue(queue_name)(connection.channel()).declare()


def test_a_paid_event_becomes_one_paid_order(broker_url, queue_name, tmp_path):  # noqa: F811
    declare(broker_url, queue_name)
    reference = f"PED-{uuid.uuid4().hex[:8]}"
    publisher = Broker(broker_url)
    publisher.publish(event("payment.created", external_id=reference))  # not for this exchange
    publisher.publish(paid(reference))
    publisher.close()

    consumer.run(broker_url, str(tmp_path / "orders.sqlite"), queue_name, idle_seconds=1)

    assert ledger(tmp_path / "orders.sqlite", reference) == [(f"pay-{reference}", 15050)]
    with sqlite3.connect(tmp_path / "orders.sqlite") as db:
        assert db.execute(
            "SELECT status, paid_cents FROM orders WHERE reference = ?", (reference,)
        ).fetchone() == ("paid", 15050)


def test_a_message_redelivered_after_a_crash_before_the_ack_is_processed_once(
    broker_url, queue_name, tmp_path, monkeypatch  # noqa: F811
):
    declare(broker_url, queue_name)
    reference = f"PED-{uuid.uuid4().hex[:8]}"
    sent = paid(reference)
    publisher = Broker(broker_url)
    publisher.publish(sent)
    publisher.close()
    database = str(tmp_path / "orders.sqlite")

    # A first run commits its work, then dies before acknowledging: the broker keeps the message.
    with Connection(broker_url, connect_timeout=5) as connection:
        queue = consumer.queue(queue_name)(connection.channel())
        while (message := queue.get(no_ack=False)) is not None:
            if message.properties["message_id"] == sent["id"]:
                break
            message.ack()  # someone else's paid event: not this test's business
        assert message is not None and not message.delivery_info["redelivered"]
        db = consumer.open_database(database)
        assert consumer.handle(db, message.properties["message_id"], sent) is True
        db.close()
    # ...the connection closed without the ack.

    redelivered = []
    original = consumer.on_message

    def watch(db, message):
        if message.properties.get("message_id") == sent["id"]:
            redelivered.append(message.delivery_info["redelivered"])
        original(db, message)

    monkeypatch.setattr(consumer, "on_message", watch)
    consumer.run(broker_url, database, queue_name, idle_seconds=1)

    assert redelivered == [True]
    assert ledger(database, reference) == [(f"pay-{reference}", 15050)]
    with Connection(broker_url, connect_timeout=5) as connection:  # acknowledged: gone
        queue = consumer.queue(queue_name)(connection.channel())
        left = []
        while (message := queue.get(no_ack=True)) is not None:
            left.append(message.properties["message_id"])
        assert sent["id"] not in left


def test_the_same_message_id_twice_does_the_work_once(tmp_path):
    db = consumer.open_database(str(tmp_path / "orders.sqlite"))
    sent = paid("PED-1")

    assert consumer.handle(db, sent["id"], sent) is True
    assert consumer.handle(db, sent["id"], sent) is False

    assert ledger(tmp_path / "orders.sqlite", "PED-1") == [("pay-PED-1", 15050)]
