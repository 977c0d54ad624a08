"""Socket.IO: a page joins its payment's room, catches up at once, and hears only its own."""

import pytest

from tests.views import public

EVENT = "payment_status"


def events(sio) -> list[dict]:
    return [m["args"][0] for m in sio.get_received() if m["name"] == EVENT]


def test_connect_sends_the_current_state_at_once(create, socket_client_for):
    payment = create()

    sio = socket_client_for(payment["id"])

    assert sio.is_connected()
    assert events(sio) == [public(payment)]


def test_page_that_connects_after_confirmation_learns_it(create, notify, socket_client_for):
    payment = create()
    notify(payment)

    sio = socket_client_for(payment["id"])

    [state] = events(sio)
    assert state["status"] == "paid"


@pytest.mark.parametrize("auth", [None, {}, {"payment_id": None}, {"payment_id": "nope"},
                                  {"payment_id": 42}, "just-a-string"])
def test_missing_or_unknown_payment_is_refused(app, client, auth):
    from payments.extensions import socketio

    sio = socketio.test_client(app, flask_test_client=client, auth=auth)

    assert not sio.is_connected()


def test_confirmation_emits_once_to_that_payment_only(create, notify, socket_client_for):
    mine, other = create(), create()
    my_page, my_second_tab, other_page = (socket_client_for(mine["id"]),
                                          socket_client_for(mine["id"]),
                                          socket_client_for(other["id"]))
    for sio in (my_page, my_second_tab, other_page):
        sio.get_received()  # drop the catch-up

    notify(mine)
    notify(mine)  # the bank repeats itself: no second event

    for sio in (my_page, my_second_tab):
        [state] = events(sio)
        assert state["status"] == "paid"
        assert state["id"] == mine["id"]
    assert events(other_page) == []


def test_rejected_notice_emits_nothing(create, notify, socket_client_for):
    payment = create(10)
    sio = socket_client_for(payment["id"])
    sio.get_received()

    assert notify(payment, value=11).status_code == 409
    assert events(sio) == []


def test_each_change_emits_one_event(create, notify, socket_client_for):
    payment = create()
    sio = socket_client_for(payment["id"])
    sio.get_received()

    notify(payment)
    notify(payment, status="refunded")

    assert [e["status"] for e in events(sio)] == ["paid", "refunded"]
