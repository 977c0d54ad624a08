"""RabbitMQ: what is published, where it goes, and a broker that goes away and comes back.

With the machine's RabbitMQ (127.0.0.1:5672, guest); skipped without it, except
under CI=true. Each test reads through its own exclusive queues (tests/rabbitmq.py).
"""

import time
import uuid

import pytest

from payments.events import broker as broker_module
from payments.events.broker import Broker, BrokerError
from tests.rabbitmq import body_of, broker_url, proxy_to, taps, through  # noqa: F401  (fixtures)


def event(type_: str = "payment.paid", **data) -> dict:
    """Return a CloudEvents document as the outbox makes it."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/payments/pix",
        "type": type_,
        "subject": "Xq3kR9vTzL0bYw2mN8aP4g",
        "time": "2026-11-23T10:05:00Z",
        "datacontenttype": "application/json",
        "data": {"payment": {"id": "Xq3kR9vTzL0bYw2mN8aP4g", "value": 150.5, **data}},
    }


def test_a_published_event_has_the_contracts_properties(broker_url, taps):  # noqa: F811
    tap = taps("payments", "topic", "payment.paid")
    sent = event("payment.paid", description="Pedido 7: café")
    connection = Broker(broker_url)

    connection.publish(sent)

    message = tap.collect({sent["id"]})[sent["id"]]
    assert message.delivery_info["exchange"] == "payments"
    assert message.delivery_info["routing_key"] == "payment.paid"
    assert message.properties["message_id"] == sent["id"]
    assert message.properties["delivery_mode"] == 2
    assert message.properties["content_type"] == "application/cloudevents+json"
    assert body_of(message) == sent
    connection.close()


def test_the_seeds_fanouts_receive_paid_and_refused_only(broker_url, taps):  # noqa: F811
    approved = taps("Pagamentos_Aprovados", "fanout")
    refused = taps("Pagamentos_Recusados", "fanout")
    connection = Broker(broker_url)
    sent = {
        kind: event(kind)
        for kind in (
            "payment.created",
            "payment.paid",
            "payment.refused",
            "payment.refunded",
            "payment.expired",
            "payment.canceled",
        )
    }
    for each in sent.values():
        connection.publish(each)
    ids = {each["id"] for each in sent.values()}

    got_approved = approved.drain(ids, seconds=1.5)
    got_refused = refused.drain(ids, seconds=0.5)

    assert [m.properties["message_id"] for m in got_approved] == [sent["payment.paid"]["id"]]
    assert [m.properties["message_id"] for m in got_refused] == [sent["payment.refused"]["id"]]
    assert body_of(got_approved[0]) == sent["payment.paid"]
    connection.close()


def test_an_unreachable_broker_fails_at_once_with_a_short_reason(broker_url):  # noqa: F811
    with proxy_to(broker_url) as proxy:
        url = through(broker_url, proxy.address)
    connection = Broker(url)  # the proxy is cut: nothing listens there

    started = time.monotonic()
    with pytest.raises(BrokerError, match="connection refused"):
        connection.publish(event())
    with pytest.raises(BrokerError):  # within RECONNECT_SECONDS: no new connection tried
        connection.publish(event())

    assert time.monotonic() - started < 1
    assert connection.status() == "unavailable"
    assert "guest" not in str(connection.last_error)


def test_a_cut_connection_is_reopened_when_the_broker_is_back(broker_url, taps):  # noqa: F811
    tap = taps("payments", "topic", "payment.#")
    proxy = proxy_to(broker_url)
    connection = Broker(through(broker_url, proxy.address))
    first = event("payment.created")
    connection.publish(first)
    assert connection.status() == "ok"

    proxy.cut()
    assert connection.status() == "unavailable"
    with pytest.raises(BrokerError):
        connection.publish(event("payment.paid"))

    proxy.restore()
    time.sleep(broker_module.RECONNECT_SECONDS)
    again = event("payment.paid")
    connection.publish(again)

    assert connection.status() == "ok"
    assert set(tap.collect({first["id"], again["id"]})) == {first["id"], again["id"]}
    connection.close()
    proxy.cut()


def test_a_stale_connection_is_replaced_within_the_same_attempt(broker_url, taps):  # noqa: F811
    tap = taps("payments", "topic", "payment.paid")
    proxy = proxy_to(broker_url)
    connection = Broker(through(broker_url, proxy.address))
    connection.publish(event())
    proxy.cut()  # the broker "restarts" while this process is idle
    proxy.restore()
    after = event()

    connection.publish(after)  # no error: the dead socket is found, a new one opened

    assert after["id"] in tap.collect({after["id"]})
    assert proxy.accepted == 2
    connection.close()
    proxy.cut()


def test_retries_wait_for_weeks_backing_off_to_five_minutes():
    delays = broker_module.retry_seconds()

    assert delays[:3] == [1, 2, 5]
    assert max(delays) == 300
    assert sum(delays) >= 30 * 86400
