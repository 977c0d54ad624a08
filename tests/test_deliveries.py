"""The delivery log: every webhook request is kept before it is acted on, with its result."""

import json

import pytest

from payments.bank import deliveries
from payments.bank.models import WebhookDelivery
from payments.charges import service as services
from payments.charges.models import Payment
from payments.extensions import db

CONFIRMATION = "/payments/pix/confirmation"
PIX = "/payments/pix/confirmation/pix"


def logged(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.query(WebhookDelivery).order_by(WebhookDelivery.id).all()
        db.session.expunge_all()
        return rows


def post(client, route, body: bytes, **headers):
    return client.post(route, data=body, content_type="application/json", headers=headers)


def notice(payment, **extra) -> bytes:
    return json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": payment["value"],
                       **extra}).encode()


def test_applied_notice_is_logged_with_body_and_result(create, client, app):
    payment = create()
    body = notice(payment)

    post(client, CONFIRMATION, body)

    [row] = logged(app)
    assert row.route == "webhooks.confirmation"  # the endpoint, whatever its URL
    assert row.body == body
    assert row.body_size == len(body)
    assert row.signature_ok is None  # no secret configured
    assert row.status_code == 200
    assert row.result == "The payment has been confirmed"
    assert row.changes == 1
    assert row.received_at is not None


def test_repeat_is_logged_with_no_change(create, client, app):
    payment = create()
    post(client, CONFIRMATION, notice(payment))

    post(client, CONFIRMATION, notice(payment))

    assert [row.changes for row in logged(app)] == [1, 0]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (lambda p: notice(p, status="nope"), 400),
        (lambda p: b"{", 400),
        (lambda p: json.dumps({"bank_payment_id": "5e53bbf4-cdf1-4a2f-b137-551c4b462ef1",
                               "value": 1}).encode(), 404),
        (lambda p: notice(p, value=999), 409),
    ],
)
def test_refused_notices_are_logged_with_their_answer(create, client, app, body, status):
    payment = create()

    response = post(client, CONFIRMATION, body(payment))

    [row] = logged(app)
    assert response.status_code == status
    assert row.status_code == status
    assert row.result == response.get_json()["message"]
    assert row.body == body(payment)


def test_not_json_is_logged_415(client, app):
    client.post(CONFIRMATION, data="value=1")

    [row] = logged(app)
    assert row.status_code == 415
    assert row.body == b"value=1"


def test_options_is_not_a_delivery(client, app):
    response = client.options(CONFIRMATION)

    assert response.status_code == 200
    assert logged(app) == []


def test_body_is_kept_up_to_64_kib(client, app):
    body = json.dumps({"pix": "x" * 100_000}).encode()

    post(client, PIX, body)

    [row] = logged(app)
    assert row.status_code == 400
    assert len(row.body) == 64 * 1024
    assert row.body == body[: 64 * 1024]
    assert row.body_size == len(body)


def test_body_over_the_limit_is_logged_413(client, app):
    post(client, PIX, b"{" + b" " * 1_100_000 + b"}")

    [row] = logged(app)
    assert row.status_code == 413
    assert row.body_size == 1_100_002


def test_pix_batch_result_names_each_item(create, client, app):
    payment = create("110.00")
    item = {"endToEndId": "E87654321202009091221dfghi123456", "txid": payment["txid"],
            "valor": "110.00", "horario": "2020-09-09T20:15:00.358Z"}
    unknown = dict(item, txid="971122d8f37211eaadc10242ac120002")

    post(client, PIX, json.dumps({"pix": [item, unknown]}).encode())

    [row] = logged(app)
    assert row.status_code == 200
    assert row.changes == 1
    assert row.result == (f"{item['endToEndId']}: 200 The payment has been confirmed; "
                          f"{item['endToEndId']}: 404 No payment with this txid")


def test_delivery_is_stored_before_the_notice_is_acted_on(create, client, app, monkeypatch):
    payment = create()

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away mid-notice")

    monkeypatch.setattr(services, "apply_notice", crash)
    response = post(client, CONFIRMATION, notice(payment))

    [row] = logged(app)
    assert response.status_code == 500
    assert row.body == notice(payment)
    assert row.status_code == 500


# The command line: flask deliveries list / replay.

def test_list_shows_latest_first(create, client, app):
    payment = create()
    post(client, CONFIRMATION, notice(payment, value=1))
    post(client, CONFIRMATION, notice(payment))

    result = app.test_cli_runner().invoke(args=["deliveries", "list", "--limit", "1"])

    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert line.startswith("#2 ")
    assert "signature=unsigned" in line and " 200 " in line and "changes=1" in line


def test_list_when_empty(app):
    result = app.test_cli_runner().invoke(args=["deliveries", "list"])

    assert result.exit_code == 0
    assert "No deliveries" in result.output


def test_replay_applies_a_delivery_that_failed(create, client, app, monkeypatch):
    payment = create()
    monkeypatch.setattr(services, "apply_notice", lambda *a, **k: 1 / 0)
    post(client, CONFIRMATION, notice(payment))
    monkeypatch.undo()

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ")
    assert json.loads(result.output[4:])["payment"]["status"] == "paid"
    with app.app_context():
        assert db.session.query(Payment).one().status == "paid"


def test_replay_is_idempotent_and_skips_the_signature(create, client, app):
    payment = create()
    post(client, CONFIRMATION, notice(payment))
    app.config["PIX_WEBHOOK_SECRET"] = "set after the fact"

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 0, result.output
    assert "The payment has been confirmed" in result.output


def test_replay_of_a_refused_notice_exits_1(create, client, app):
    payment = create()
    post(client, CONFIRMATION, notice(payment, value=1))

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 1
    assert result.output.startswith("409 ")


def test_replay_of_a_cut_body_is_refused(client, app):
    post(client, PIX, json.dumps({"pix": "x" * 100_000}).encode())

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 1
    assert "cut short" in result.output


def test_replay_of_an_unknown_delivery(app):
    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "42"])

    assert result.exit_code == 1
    assert "No delivery #42" in result.output


def signed_badly(app, client, payment) -> None:
    """Post a notice with a wrong signature while a secret is set, then unset the secret."""
    app.config["PIX_WEBHOOK_SECRET"] = "the bank's secret"
    response = post(client, CONFIRMATION, notice(payment),
                    **{"X-Webhook-Signature": "t=1,v1=" + "0" * 64})
    assert response.status_code == 401


def test_replay_refuses_a_delivery_whose_signature_failed(create, client, app):
    payment = create()
    signed_badly(app, client, payment)

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 1
    assert result.output.startswith("401 ") and "--force" in result.output
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "pending"


def test_replay_with_force_applies_a_delivery_whose_signature_failed(create, client, app):
    payment = create()
    with app.app_context():  # a row kept with its body, as the log did before it dropped them
        deliveries.record("webhooks.confirmation", notice(payment), False)

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1", "--force"])

    assert result.exit_code == 0, result.output
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "paid"


def test_a_delivery_whose_signature_failed_has_no_body_to_replay(create, client, app):
    payment = create()
    signed_badly(app, client, payment)

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1", "--force"])

    assert result.exit_code == 1
    assert result.output.startswith("400 ") and "not kept" in result.output
    assert client.get(f"/payments/pix/{payment['id']}/status").get_json()["status"] == "pending"


def test_replay_survives_a_change_of_the_url_prefix(create, client, app):
    payment = create()
    post(client, CONFIRMATION, notice(payment, value=1))  # refused: 409, recorded
    with app.app_context():
        db.session.query(WebhookDelivery).update({"body": notice(payment)})
        db.session.commit()
    app.config["APPLICATION_ROOT"] = "/shop"  # served under another prefix from now on

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output[4:])["payment"]["page_url"].startswith("/shop/payments/pix/")
