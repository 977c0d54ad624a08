"""POST /payments/pix/confirmation/pix: the Banco Central "API Pix" notice, item by item.

The bodies are the examples of bacen/pix-api's openapi.yaml (2.8.1, components/examples
``pixWebhook1``, ``pixWebhook2``, ``pixResponse1``, ``pixResponse2``); where a test needs a
charge of ours, only the ``txid`` (theirs are 32 characters, ours 25) and, where said, the
refund's ``status`` are replaced.
"""

import copy
import json
from datetime import timedelta

import pytest

from payments.bank.models import PixReceipt, PixRefund
from payments.charges.models import Payment, utcnow
from payments.extensions import db
from payments.realtime import publish as realtime

ROUTE = "/payments/pix/confirmation/pix"

# components/examples/pixWebhook1 (its "devolucoes" is a lone object in the spec's example).
PIX_WEBHOOK_1 = {
    "endToEndId": "E12345678202009091221kkkkkkkkkkk",
    "txid": "c3e0e7a4e7f1469a9f782d3d4999343c",
    "valor": "110.00",
    "horario": "2020-09-09T20:15:00.358Z",
    "infoPagador": "0123456789",
    "devolucoes": {
        "id": "123ABC",
        "rtrId": "D12345678202009091221abcdf098765",
        "valor": "10.00",
        "horario": {"solicitacao": "2020-09-09T20:15:00.358Z"},
        "status": "EM_PROCESSAMENTO",
    },
}
# components/examples/pixWebhook2
PIX_WEBHOOK_2 = {
    "endToEndId": "E87654321202009091221dfghi123456",
    "txid": "971122d8f37211eaadc10242ac120002",
    "valor": "110.00",
    "horario": "2020-09-09T20:15:00.358Z",
    "infoPagador": "0123456789",
}
# components/examples/pixResponse1 and pixResponse2
PIX_RESPONSE_1 = {
    "endToEndId": "E12345678202009091221abcdef12345",
    "txid": "cd1fe328c875481285a6f233ae41b662",
    "valor": "100.00",
    "horario": "2020-09-10T13:03:33.902Z",
    "infoPagador": "Reforma da casa",
    "devolucoes": [
        {
            "id": "000AAA111",
            "rtrId": "D12345678202009091000abcde123456",
            "valor": "11.00",
            "horario": {"solicitacao": "2020-09-10T13:03:33.902Z"},
            "status": "EM_PROCESSAMENTO",
        }
    ],
}
PIX_RESPONSE_2 = {
    "endToEndId": "E12345678202009091221ghijk78901234",
    "txid": "5b933948f3224266b1050ac54319e775",
    "valor": "200.00",
    "horario": "2020-09-10T13:03:33.902Z",
    "infoPagador": "Revisão do carro",
}


def for_charge(example: dict, payment: dict, **changes) -> dict:
    """Return the spec's example aimed at our charge (its txid), with ``changes``."""
    item = copy.deepcopy(example)
    item["txid"] = payment["txid"]
    item.update(changes)
    return item


@pytest.fixture
def post_pix(client):
    def post(*items, raw=None):
        body = raw if raw is not None else json.dumps({"pix": list(items)})
        return client.post(ROUTE, data=body, content_type="application/json")

    return post


def status_of(app, payment) -> str:
    with app.app_context():
        return db.session.query(Payment).filter_by(public_id=payment["id"]).one().status


def events(sio) -> list[str]:
    return [m["args"][0]["status"] for m in sio.get_received() if m["name"] == "payment_status"]


def test_the_specs_callback_body_verbatim_is_200_with_unknown_txids(post_pix):
    response = post_pix(PIX_WEBHOOK_1, PIX_WEBHOOK_2)

    assert response.status_code == 200
    assert response.get_json() == {"results": [
        {"endToEndId": PIX_WEBHOOK_1["endToEndId"], "txid": PIX_WEBHOOK_1["txid"],
         "status": 404, "message": "No payment with this txid", "payment": None, "refunds": []},
        {"endToEndId": PIX_WEBHOOK_2["endToEndId"], "txid": PIX_WEBHOOK_2["txid"],
         "status": 404, "message": "No payment with this txid", "payment": None, "refunds": []},
    ]}


def test_batch_confirms_each_charge_by_txid(create, post_pix, app, socket_client_for):
    first, second, third = create("110.00"), create("110.00"), create("200.00")
    pages = [socket_client_for(p["id"]) for p in (first, second, third)]
    for sio in pages:
        sio.get_received()
    body = [for_charge(PIX_WEBHOOK_1, first), for_charge(PIX_WEBHOOK_2, second),
            for_charge(PIX_RESPONSE_2, third)]

    response = post_pix(*body)

    results = response.get_json()["results"]
    assert response.status_code == 200
    assert [r["status"] for r in results] == [200, 200, 200]
    assert [r["txid"] for r in results] == [first["txid"], second["txid"], third["txid"]]
    assert [r["endToEndId"] for r in results] == [i["endToEndId"] for i in body]
    assert {r["message"] for r in results} == {"The payment has been confirmed"}
    assert [r["payment"]["status"] for r in results] == ["paid"] * 3
    assert [status_of(app, p) for p in (first, second, third)] == ["paid"] * 3
    assert [events(sio) for sio in pages] == [["paid"]] * 3


def test_repeated_delivery_is_one_payment(create, post_pix, app, socket_client_for):
    payment = create("110.00")
    sio = socket_client_for(payment["id"])
    sio.get_received()
    item = for_charge(PIX_WEBHOOK_2, payment)
    first = post_pix(item).get_json()["results"][0]

    again = post_pix(item, item)

    assert again.status_code == 200
    assert [r["status"] for r in again.get_json()["results"]] == [200, 200]
    assert again.get_json()["results"][0]["payment"]["paid_at"] == first["payment"]["paid_at"]
    assert events(sio) == ["paid"]
    with app.app_context():
        assert db.session.query(PixReceipt).count() == 1


def test_same_end_to_end_id_for_another_charge_is_409(create, post_pix, app):
    paid, other = create("110.00"), create("110.00")
    post_pix(for_charge(PIX_WEBHOOK_2, paid))

    [result] = post_pix(for_charge(PIX_WEBHOOK_2, other)).get_json()["results"]

    assert result["status"] == 409
    assert "another payment" in result["message"]
    assert status_of(app, other) == "pending"


def test_second_pix_for_a_paid_charge_is_409(create, post_pix, app):
    payment = create("110.00")
    post_pix(for_charge(PIX_WEBHOOK_2, payment))

    [result] = post_pix(for_charge(PIX_WEBHOOK_1, payment)).get_json()["results"]

    assert result["status"] == 409
    assert "another Pix" in result["message"]
    assert result["payment"]["status"] == "paid"


def test_pix_for_a_charge_paid_through_the_other_route_is_recorded(create, notify, post_pix):
    payment = create("110.00")
    notify(payment)

    [result] = post_pix(for_charge(PIX_WEBHOOK_2, payment)).get_json()["results"]

    assert result["status"] == 200
    assert result["payment"]["status"] == "paid"


@pytest.mark.parametrize("valor", ["109.99", "110.01", "11.00"])
def test_value_differs_is_409(create, post_pix, app, valor):
    payment = create("110.00")

    [result] = post_pix(for_charge(PIX_WEBHOOK_2, payment, valor=valor)).get_json()["results"]

    assert result["status"] == 409
    assert "differs" in result["message"]
    assert result["payment"]["status"] == "pending"
    assert status_of(app, payment) == "pending"
    with app.app_context():
        assert db.session.query(PixReceipt).count() == 0


def test_expired_charge_is_409(create, post_pix, app):
    payment = create("110.00")
    with app.app_context():
        row = db.session.query(Payment).filter_by(public_id=payment["id"]).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()

    [result] = post_pix(for_charge(PIX_WEBHOOK_2, payment)).get_json()["results"]

    assert result["status"] == 409
    assert "expired" in result["message"]
    assert result["payment"]["status"] == "expired"


def test_refused_charge_cannot_be_paid_by_pix(create, notify, post_pix, app):
    payment = create("110.00")
    notify(payment, status="refused")

    [result] = post_pix(for_charge(PIX_WEBHOOK_2, payment)).get_json()["results"]

    assert result["status"] == 409
    assert status_of(app, payment) == "refused"


def test_one_result_per_item_whatever_each_one_is(create, post_pix):
    payment = create("100.00")
    unknown = dict(PIX_RESPONSE_2)

    response = post_pix(for_charge(PIX_RESPONSE_1, payment), unknown,
                        for_charge(PIX_WEBHOOK_2, payment, valor="1.00"))

    assert [r["status"] for r in response.get_json()["results"]] == [200, 404, 409]


def test_refund_in_process_or_not_done_changes_nothing(create, post_pix, app):
    payment = create("100.00")
    item = for_charge(PIX_RESPONSE_1, payment)  # its refund is EM_PROCESSAMENTO
    item["devolucoes"].append({"id": "502", "rtrId": "D12345678202011111000fghij789012",
                               "valor": "20.00", "status": "NAO_REALIZADO",
                               "motivo": "Negado por timeout"})

    [result] = post_pix(item).get_json()["results"]

    assert result["status"] == 200
    assert status_of(app, payment) == "paid"
    with app.app_context():
        assert db.session.query(PixRefund).count() == 0


def test_full_refund_devolvido_refunds_the_charge_once(create, post_pix, app, socket_client_for):
    payment = create("110.00")
    sio = socket_client_for(payment["id"])
    sio.get_received()
    post_pix(for_charge(PIX_WEBHOOK_1, payment))  # paid; its refund is still EM_PROCESSAMENTO
    settled = for_charge(PIX_WEBHOOK_1, payment)
    settled["devolucoes"] = dict(settled["devolucoes"], status="DEVOLVIDO", valor="110.00")

    [result] = post_pix(settled).get_json()["results"]
    [again] = post_pix(settled).get_json()["results"]

    assert result["status"] == 200
    assert result["message"].endswith("The payment has been refunded")
    assert result["payment"]["status"] == "refunded"
    assert again["status"] == 200
    assert again["payment"]["status"] == "refunded"
    assert events(sio) == ["paid", "refunded"]
    with app.app_context():
        assert db.session.query(PixRefund).count() == 1


def test_partial_refunds_add_up_to_refunded(create, post_pix, app):
    payment = create("110.00")
    item = for_charge(PIX_WEBHOOK_1, payment)
    item["devolucoes"] = dict(item["devolucoes"], status="DEVOLVIDO")  # the spec's R$ 10.00

    [partial] = post_pix(item).get_json()["results"]
    [repeat] = post_pix(item).get_json()["results"]
    item["devolucoes"] = [item["devolucoes"],
                          {"rtrId": "D12345678202009091000abcde123456", "valor": "100.00",
                           "status": "DEVOLVIDO"}]
    [rest] = post_pix(item).get_json()["results"]

    assert partial["status"] == 200
    assert partial["payment"]["status"] == "paid"
    assert "Partial refund" in partial["message"] and "10.00 of 110.00" in partial["message"]
    assert "10.00 of 110.00" in repeat["message"]  # once per rtrId: not 20.00
    assert rest["payment"]["status"] == "refunded"


def test_a_refund_above_the_value_is_refused_and_the_pix_stays_applied(create, post_pix, app):
    """The Pix was applied, its refund refused: the answer says both, not "nothing applied"."""
    payment = create("110.00")
    item = for_charge(PIX_WEBHOOK_1, payment)
    item["devolucoes"] = dict(item["devolucoes"], status="DEVOLVIDO", valor="110.01")
    rtr_id = item["devolucoes"]["rtrId"]

    [result] = post_pix(item).get_json()["results"]

    assert result["status"] == 200  # the Pix: applied
    assert result["payment"]["status"] == "paid"
    assert result["refunds"] == [{
        "rtrId": rtr_id, "status": 409,
        "message": "This refund would take the refunds above the payment's value"}]
    assert result["message"] == (
        "The payment has been confirmed; "
        f"Refund {rtr_id} refused: This refund would take the refunds above the payment's value")
    assert status_of(app, payment) == "paid"
    with app.app_context():
        assert db.session.query(PixRefund).count() == 0


def test_each_refund_has_its_own_result(create, post_pix, app):
    """One refund refused between two applied: the others stay applied, each says what it did."""
    payment = create("110.00")
    item = for_charge(PIX_WEBHOOK_1, payment)
    first = dict(item["devolucoes"], status="DEVOLVIDO", valor="10.00")
    too_much = {"rtrId": "D12345678202009091000toomuch0001", "valor": "101.00",
                "status": "DEVOLVIDO"}
    rest = {"rtrId": "D12345678202009091000rest00000001", "valor": "100.00",
            "status": "DEVOLVIDO"}
    pending = {"rtrId": "D12345678202009091000pending00001", "valor": "1.00",
               "status": "EM_PROCESSAMENTO"}
    item["devolucoes"] = [first, too_much, rest, pending]

    [result] = post_pix(item).get_json()["results"]

    assert result["status"] == 200
    assert [(r["rtrId"], r["status"]) for r in result["refunds"]] == [
        (first["rtrId"], 200), (too_much["rtrId"], 409), (rest["rtrId"], 200)]
    assert "10.00 of 110.00 refunded" in result["refunds"][0]["message"]
    assert result["refunds"][2]["message"] == "The payment has been refunded"
    assert result["payment"]["status"] == "refunded"
    assert status_of(app, payment) == "refunded"
    with app.app_context():
        assert db.session.query(PixRefund).count() == 2


def test_a_refund_of_a_pix_that_was_refused_is_not_tried(create, notify, post_pix, app):
    payment = create("110.00")
    notify(payment, status="refused")
    item = for_charge(PIX_WEBHOOK_1, payment)
    item["devolucoes"] = dict(item["devolucoes"], status="DEVOLVIDO")

    [result] = post_pix(item).get_json()["results"]

    assert (result["status"], result["refunds"]) == (409, [])
    assert status_of(app, payment) == "refused"
    with app.app_context():
        assert db.session.query(PixRefund).count() == 0


def test_the_delivery_log_says_what_was_applied_and_what_was_refused(create, post_pix, app):
    from payments.bank.models import WebhookDelivery

    payment = create("110.00")
    item = for_charge(PIX_WEBHOOK_1, payment)
    item["devolucoes"] = dict(item["devolucoes"], status="DEVOLVIDO", valor="110.01")

    post_pix(item)

    with app.app_context():
        row = db.session.query(WebhookDelivery).one()
        assert (row.status_code, row.changes) == (200, 1)
        assert row.result.startswith(f"{item['endToEndId']}: 200 The payment has been confirmed; "
                                     f"Refund {item['devolucoes']['rtrId']} refused: ")


def test_a_malformed_item_rejects_the_whole_batch(create, post_pix, app):
    good, other = create("110.00"), create("110.00")

    response = post_pix(for_charge(PIX_WEBHOOK_2, good),
                        for_charge(PIX_WEBHOOK_1, other, valor=110))

    assert response.status_code == 400
    assert "pix[1].valor" in response.get_json()["message"]
    assert status_of(app, good) == "pending"


def test_batch_of_100_is_accepted_and_101_is_400(post_pix):
    item = dict(PIX_WEBHOOK_2)

    assert post_pix(*[item] * 100).status_code == 200
    assert post_pix(*[item] * 101).status_code == 400


def test_the_event_leaves_after_the_receipt_and_the_change_are_committed(
        create, post_pix, app, monkeypatch):
    """One transaction: when a page hears "paid", the receipt is already in the database."""
    payment = create(110)
    seen = []

    def publish(payment_object):
        with db.engine.connect() as other:  # another connection sees only what is committed
            receipts = other.execute(db.select(PixReceipt.end_to_end_id)).scalars().all()
            stored = other.execute(db.select(Payment.status)).scalar_one()
        seen.append((payment_object["status"], stored, receipts))

    monkeypatch.setattr(realtime, "publish", publish)
    post_pix(for_charge(PIX_WEBHOOK_2, payment))

    assert seen == [("paid", "paid", [PIX_WEBHOOK_2["endToEndId"]])]


def test_a_receipt_that_cannot_be_stored_takes_its_change_with_it(
        create, post_pix, app, monkeypatch):
    """The change and the receipt are one transaction: if the receipt fails, nothing changed.

    A twin's receipt for this charge, committed between our check and our insert (written
    here directly), makes our insert fail: the move to paid must be rolled back with it.
    """
    payment = create(110)
    with app.app_context():
        charge = db.session.query(Payment).filter_by(public_id=payment["id"]).one()
        db.session.add(PixReceipt(end_to_end_id="E" + "9" * 31, payment_id=charge.id,
                                  amount_cents=11000, paid_at=utcnow()))
        db.session.commit()
    sent = []
    monkeypatch.setattr(realtime, "publish", sent.append)

    [result] = post_pix(for_charge(PIX_WEBHOOK_2, payment)).get_json()["results"]

    assert result["status"] == 409
    assert "another Pix" in result["message"]
    assert status_of(app, payment) == "pending"
    assert sent == []
