"""services.move(): the one atomic conditional state change, the machine it obeys, and its
publication after the caller's commit (never before, never after a rollback)."""

from itertools import product

import pytest
from sqlalchemy import text

from payments.charges import service as services
from payments.charges.models import FINAL, LIVE, TRANSITIONS, Payment, PaymentStatus, can_move
from payments.extensions import db
from payments.realtime import publish as realtime


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(realtime, "publish", sent.append)
    return sent


def new_payment() -> Payment:
    """Create a charge and add it to the session, as a request that goes on to change it would."""
    payment = services.create_payment(1000)
    db.session.add(payment)
    return payment


def set_status(payment_id: int, status: str) -> None:
    """Change the row behind the session's back, as another process would."""
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE payments SET status = :s WHERE id = :id"),
                           {"s": status, "id": payment_id})


@pytest.mark.parametrize(("source", "target"), list(product(PaymentStatus, PaymentStatus)))
def test_move_follows_the_transitions_table(app, published, source, target):
    with app.app_context():
        payment = new_payment()
        set_status(payment.id, source.value)
        db.session.refresh(payment)

        moved = services.move(payment, target)
        assert published == []  # not before the caller commits
        db.session.commit()

        allowed = target in TRANSITIONS.get(source, ())
        assert moved is allowed
        assert db.session.get(Payment, payment.id).status == (target if allowed else source)
        assert len(published) == int(allowed)
        assert [event["status"] for event in published] == ([target.value] if allowed else [])


def test_a_rolled_back_move_publishes_nothing_and_changes_nothing(app, published):
    with app.app_context():
        payment = new_payment()
        assert services.move(payment, PaymentStatus.PAID) is True
        db.session.rollback()
        db.session.commit()  # a later commit of the same session does not bring it back

        assert published == []
        assert db.session.get(Payment, payment.id).status == "pending"


def test_final_and_live_statuses_come_from_the_transitions():
    assert FINAL == {PaymentStatus.EXPIRED, PaymentStatus.REFUSED, PaymentStatus.REFUNDED,
                     PaymentStatus.CANCELED}
    assert LIVE == {PaymentStatus.PENDING, PaymentStatus.PAID}
    for status in FINAL:
        assert not any(can_move(status, target) for target in PaymentStatus)


def test_move_from_a_stale_read_changes_nothing_and_emits_nothing(app, published):
    with app.app_context():
        payment = new_payment()
        assert payment.status == "pending"  # what this request read
        set_status(payment.id, "paid")  # another request got there first

        moved = services.move(payment, PaymentStatus.PAID)

        assert moved is False
        assert published == []
        assert payment.status == "paid"  # refreshed: the caller sees the truth


def test_apply_notice_after_a_lost_race_answers_like_a_repeat(app, published):
    with app.app_context():
        payment = new_payment()
        set_status(payment.id, "paid")

        result = services.apply_notice(payment, 1000, "approved")

        assert result.changed is False
        assert result.message == "The payment has been confirmed"
        assert published == []


def test_apply_notice_after_losing_to_a_refusal_is_409(app, published):
    with app.app_context():
        payment = new_payment()
        set_status(payment.id, "refused")

        with pytest.raises(services.Conflict):
            services.apply_notice(payment, 1000, "approved")
        assert published == []
