"""The delivery log holds no more than it must: no body for a failed signature, no payer data.

The API Pix bodies are the examples of bacen/pix-api's openapi.yaml (``pixWebhook1``,
``pixResponse1``) with the payer the standard's ``pagador``/``devedor`` objects describe
(``{"cpf" or "cnpj", "nome"}``) and a free text in ``infoPagador``, as real banks send them.
"""

import copy
import json
import os
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import create_app
from payments.bank import deliveries
from payments.bank.models import WebhookDelivery
from payments.bank.redaction import redact
from payments.bank.signature import sign
from payments.charges.models import utcnow
from payments.extensions import db
from payments.settings import ConfigError
from tests.apps import migrated_app
from tests.backends import postgres_url  # noqa: F401  (fixture)

PIX = "/payments/pix/confirmation/pix"
CONFIRMATION = "/payments/pix/confirmation"
SECRET = "the bank's secret"
CPF = "12345678909"
CNPJ = "12345678000195"
NAME = "Francisco da Silva"

# components/examples/pixResponse1, with the payer a real bank adds.
PIX_ITEM = {
    "endToEndId": "E12345678202009091221abcdef12345",
    "txid": "cd1fe328c875481285a6f233ae41b662",
    "valor": "100.00",
    "chave": "123e4567-e12b-12d1-a456-426655440000",
    "horario": "2020-09-10T13:03:33.902Z",
    "infoPagador": f"Reforma da casa; CPF {CPF[:3]}.{CPF[3:6]}.{CPF[6:9]}-{CPF[9:]}",
    "pagador": {"cpf": CPF, "nome": NAME},
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


def logged(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.query(WebhookDelivery).order_by(WebhookDelivery.id).all()
        db.session.expunge_all()
        return rows


def database_bytes(app) -> int:
    """Return the size of the app's SQLite file and its write-ahead log."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def personal_data_in(stored: bytes) -> list[str]:
    text = stored.decode()
    return [word for word in (CPF, CNPJ, NAME, "123.456.789-09", "Reforma") if word in text]


# 1. A failed signature is kept without its body.


def test_large_unsigned_bodies_do_not_grow_the_database_by_their_size(client, app):
    app.config["PIX_WEBHOOK_SECRET"] = SECRET
    body = json.dumps({"pix": [{"memo": "x" * 1_000_000}]}).encode()  # ~1 MB
    client.post(PIX, data=b"{}", content_type="application/json")  # the schema's first pages
    before = database_bytes(app)

    answers = [
        client.post(PIX, data=body, content_type="application/json").status_code for _ in range(20)
    ]

    grown = database_bytes(app) - before
    rows = logged(app)[1:]
    assert answers == [401] * 20
    assert grown < 20 * 64 * 1024 / 4, f"the database grew by {grown} bytes"  # kept: 1.3 MB
    assert {row.body for row in rows} == {b""}
    assert {row.body_size for row in rows} == {len(body)}
    assert {row.signature_ok for row in rows} == {False}
    assert {row.status_code for row in rows} == {401}
    assert {row.result for row in rows} == {
        "Invalid webhook signature: missing X-Webhook-Signature header"
    }
    assert all(
        row.received_at is not None and row.route == "webhooks.confirmation_pix" for row in rows
    )


def test_a_wrong_signature_is_kept_with_its_reason_not_its_body(create, client, app):
    app.config["PIX_WEBHOOK_SECRET"] = SECRET
    payment = create()
    body = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 150.5}).encode()

    response = client.post(
        CONFIRMATION,
        data=body,
        content_type="application/json",
        headers={"X-Webhook-Signature": sign("not the secret", body)},
    )

    [row] = logged(app)
    assert response.status_code == 401
    assert (row.body, row.body_size, row.signature_ok) == (b"", len(body), False)
    assert row.result == "Invalid webhook signature: signature does not match the body"


def test_a_signed_body_is_kept(create, client, app):
    app.config["PIX_WEBHOOK_SECRET"] = SECRET
    payment = create()
    body = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 150.5}).encode()

    response = client.post(
        CONFIRMATION,
        data=body,
        content_type="application/json",
        headers={"X-Webhook-Signature": sign(SECRET, body)},
    )

    [row] = logged(app)
    assert response.status_code == 200
    assert (row.body, row.signature_ok) == (body, True)


def test_a_body_over_the_limit_is_still_413_and_not_kept(client, app):
    app.config["PIX_WEBHOOK_SECRET"] = SECRET
    body = b"{" + b" " * (1024 * 1024) + b"}"

    response = client.post(PIX, data=body, content_type="application/json")

    [row] = logged(app)
    assert response.status_code == 413
    assert response.get_json()["message"]
    assert (row.body, row.body_size, row.status_code) == (b"", len(body), 413)


# 2. Personal data is taken out of what is stored.


def test_an_api_pix_body_is_stored_without_the_payers_data(create, client, app):
    payment = create("100.00")
    item = dict(copy.deepcopy(PIX_ITEM), txid=payment["txid"])
    body = json.dumps({"pix": [item]}, ensure_ascii=False).encode()

    response = client.post(PIX, data=body, content_type="application/json")

    [row] = logged(app)
    stored = json.loads(row.body)["pix"][0]
    assert response.get_json()["results"][0]["status"] == 200  # applied as ever
    assert personal_data_in(row.body) == []
    assert stored["infoPagador"] == stored["pagador"] == "***"
    assert stored == {**item, "infoPagador": "***", "pagador": "***"}  # the rest as it came
    assert row.body_size == len(body)


def test_a_stored_redacted_body_can_be_replayed(create, client, app):
    payment = create("100.00")
    item = dict(copy.deepcopy(PIX_ITEM), txid=payment["txid"])
    client.post(PIX, data=json.dumps({"pix": [item]}), content_type="application/json")

    result = app.test_cli_runner().invoke(args=["deliveries", "replay", "1"])

    assert result.exit_code == 0, result.output
    [answer] = json.loads(result.output[4:])["results"]
    assert (answer["status"], answer["payment"]["status"]) == (200, "paid")


def test_a_contract_notice_with_a_debtor_is_stored_without_it(create, client, app):
    payment = create()
    notice = {
        "bank_payment_id": payment["bank_payment_id"],
        "value": 150.50,
        "devedor": {"cnpj": CNPJ, "nome": NAME},
        "nota": f"CNPJ {CNPJ}",
    }
    body = json.dumps(notice).encode()

    response = client.post(CONFIRMATION, data=body, content_type="application/json")

    [row] = logged(app)
    assert response.status_code == 200
    assert personal_data_in(row.body) == []
    assert json.loads(row.body) == {**notice, "devedor": "***", "nota": "CNPJ ***"}
    assert b'"value":150.5' in row.body  # the amount as it was written, not a float's repr


def test_a_forged_body_is_stored_without_personal_data(client, app):
    """No secret set: anyone's body is kept, so what it says of a person is taken out too."""
    forged = {"pix": [dict(PIX_ITEM, txid="unknown")], "cpf": CPF, "contato": {"Nome": NAME}}

    client.post(PIX, data=json.dumps(forged), content_type="application/json")

    [row] = logged(app)
    assert row.signature_ok is None
    assert personal_data_in(row.body) == []


def test_a_body_that_is_not_json_is_redacted_as_text(client, app):
    body = f'{{"pix": [{{"nome": "{NAME}", "pagador": {{"cpf": "{CPF}"}}, broken'.encode()

    response = client.post(PIX, data=body, content_type="application/json")

    [row] = logged(app)
    assert response.status_code == 400
    assert personal_data_in(row.body) == []
    assert row.body == b'{"pix": [{"nome": "***", "pagador": "***", broken'


def test_a_body_cut_at_the_limit_is_redacted_before_it_is_cut(client, app):
    body = json.dumps({"pix": [{"pagador": {"nome": NAME}, "pad": "x" * 70_000}]}).encode()

    client.post(PIX, data=body, content_type="application/json")

    [row] = logged(app)
    assert row.body.startswith(b'{"pix": [{"pagador": "***", "pad": "xxx')
    assert len(row.body) <= 64 * 1024
    assert personal_data_in(row.body) == []
    assert deliveries.body_kept(row) == "cut"


def test_a_cpf_across_the_cut_is_masked_whole():
    body = b'{"memo": "' + b"x" * (64 * 1024 - 15) + f' {CPF} "}}'.encode()

    stored = redact(body, 64 * 1024)

    assert len(stored) <= 64 * 1024
    assert b"x ***" in stored and CPF[:4].encode() not in stored


def test_nested_personal_values_are_masked_to_their_end_in_text():
    """Past the kept length, or not JSON: an object or list under a personal key goes whole."""
    body = (
        b'{"pix": [{"pagador": {"cpf": "1", "endereco": {"rua": "Rua das Flores 10"}}, '
        b'"devedor": ["Ana", {"nome": "Ana"}], "infoPagador": "a \\" b", "txid": "t1"}'
    )  # cut short: not JSON

    assert redact(body) == (
        b'{"pix": [{"pagador": "***", "devedor": "***", "infoPagador": "***", "txid": "t1"}'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"CPF {CPF}", "CPF ***"),
        ("CPF 123.456.789-09.", "CPF ***."),
        ("CNPJ 12.345.678/0001-95", "CNPJ ***"),
        ("CNPJ 12.ABC.345/01DE-35", "CNPJ ***"),  # the letters-and-digits CNPJ of 2026
        (f"tel {CPF[:10]}", f"tel {CPF[:10]}"),  # 10 digits: no CPF
        (f"E{CPF}abc", f"E{CPF}abc"),  # inside an id: no CPF
        ("2020-09-10T13:03:33.902Z", "2020-09-10T13:03:33.902Z"),
    ],
)
def test_numbers_that_read_as_cpf_or_cnpj_are_masked_in_any_text(text, expected):
    assert json.loads(redact(json.dumps({"campo": text}).encode())) == {"campo": expected}


def test_identifiers_and_numbers_the_webhook_reads_are_kept():
    body = json.dumps(
        {
            "pix": [
                {
                    "endToEndId": f"E{CPF}",
                    "txid": CPF,
                    "rtrId": CNPJ,
                    "valor": "110.00",
                    "nome": NAME,
                }
            ],
            "value": 1e2,
        }
    ).encode()

    assert json.loads(redact(body)) == {
        "pix": [
            {"endToEndId": f"E{CPF}", "txid": CPF, "rtrId": CNPJ, "valor": "110.00", "nome": "***"}
        ],
        "value": 100.0,
    }
    assert b'"value":100.0' in redact(body)


def test_a_body_with_nothing_personal_is_stored_byte_for_byte():
    body = b'{ "bank_payment_id" : "5e53bbf4-cdf1-4a2f-b137-551c4b462ef1", "value": 150.50 }'

    assert redact(body) is body


def test_a_key_spelt_with_escapes_is_found():
    assert json.loads(redact(b'{"\\u006eome": "Francisco"}')) == {"nome": "***"}


def test_deep_nesting_does_not_break_the_log(client, app):
    body = b'{"a":' * 100_000 + b'"12345678909"' + b"}" * 100_000

    response = client.post(PIX, data=body[: 1024 * 1024], content_type="application/json")

    [row] = logged(app)
    assert response.status_code in (400, 413)
    assert CPF.encode() not in row.body


_texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_texts, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _json,
    st.sampled_from(["cpf", "nome", "pagador", "devedor", "infoPagador", "texto"]),
    st.sampled_from([CPF, "123.456.789-09", CNPJ, "12.345.678/0001-95"]),
)
def test_no_body_keeps_a_cpf_or_cnpj(document, key, number):
    """Wherever a CPF or CNPJ is put into any JSON body, it is not in what is stored."""
    body = json.dumps({"extra": document, key: f"doc {number} fim"}).encode()

    stored = redact(body)

    assert number.encode() not in stored
    assert json.loads(stored)["extra"] == json.loads(redact(json.dumps(document).encode()))


# 3. Retention: older deliveries are deleted on schedule and on demand.


def aged(app, days_ago: dict[int, float]) -> None:
    """Make delivery ``id`` received ``days`` ago, for each pair."""
    with app.app_context():
        for delivery_id, days in days_ago.items():
            db.session.query(WebhookDelivery).filter_by(id=delivery_id).update(
                {"received_at": utcnow() - timedelta(days=days)}
            )
        db.session.commit()


def three_deliveries(client, app) -> None:
    for _ in range(3):
        client.post(CONFIRMATION, data=b"{}", content_type="application/json")
    aged(app, {1: 91, 2: 89.9, 3: 0})


def test_the_background_tick_deletes_deliveries_older_than_the_retention(client, app):
    from payments import background

    three_deliveries(client, app)

    with app.app_context():
        background.tick()

    assert [row.id for row in logged(app)] == [2, 3]


def test_the_retention_is_a_setting(client, app):
    app.config["DELIVERY_LOG_RETENTION_DAYS"] = 30
    three_deliveries(client, app)
    aged(app, {3: 29})

    with app.app_context():
        assert deliveries.prune() == 2

    assert [row.id for row in logged(app)] == [3]


def test_prune_on_demand_says_how_many(client, app):
    three_deliveries(client, app)

    result = app.test_cli_runner().invoke(args=["deliveries", "prune"])
    again = app.test_cli_runner().invoke(args=["deliveries", "prune"])

    assert result.exit_code == 0, result.output
    assert result.output == "Deleted 1 delivery older than 90 days.\n"
    assert again.output == "Deleted 0 deliveries older than 90 days.\n"
    assert [row.id for row in logged(app)] == [2, 3]


def test_prune_with_days(client, app):
    three_deliveries(client, app)

    result = app.test_cli_runner().invoke(args=["deliveries", "prune", "--days", "1"])

    assert result.output == "Deleted 2 deliveries older than 1 day.\n"
    assert [row.id for row in logged(app)] == [3]


def test_prune_deletes_a_backlog_in_batches(client, app, monkeypatch):
    monkeypatch.setattr(deliveries, "PRUNE_BATCH", 2)
    for _ in range(5):
        client.post(CONFIRMATION, data=b"{}", content_type="application/json")
    aged(app, dict.fromkeys(range(1, 6), 100))

    with app.app_context():
        assert deliveries.prune() == 5

    assert logged(app) == []


@pytest.mark.parametrize("value", ["0", "-1", "ninety", "3651", "1.5", ""])
def test_a_bad_retention_stops_the_start(tmp_path, value):
    with pytest.raises(ConfigError, match="DELIVERY_LOG_RETENTION_DAYS must be a whole number"):
        create_app({"DELIVERY_LOG_RETENTION_DAYS": value, "SECRET_KEY": "x"}, str(tmp_path))


def test_the_retention_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DELIVERY_LOG_RETENTION_DAYS", " 7 ")

    app = create_app({"SECRET_KEY": "x"}, str(tmp_path))

    assert app.config["DELIVERY_LOG_RETENTION_DAYS"] == 7


# 4. A delivery without a result is marked interrupted at the next start.


def test_a_delivery_left_without_a_result_is_marked_interrupted_at_start(create, app):
    payment = create()
    body = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 150.5}).encode()
    with app.app_context():
        left = deliveries.record("webhooks.confirmation", body, None)  # then the process died
        done = deliveries.record("webhooks.confirmation", body, None)
        deliveries.finish(done, 200, "The payment has been confirmed", 1)

    from payments.boot import mark_interrupted_deliveries

    mark_interrupted_deliveries(app)

    rows = {row.id: row for row in logged(app)}
    assert (rows[left].status_code, rows[left].result) == (None, deliveries.INTERRUPTED)
    assert rows[done].result == "The payment has been confirmed"
    listed = app.test_cli_runner().invoke(args=["deliveries", "list"]).output
    assert f"#{left} " in listed and "  -  " in listed and "interrupted" in listed


def test_an_interrupted_delivery_finished_by_another_process_keeps_its_real_result(app):
    with app.app_context():
        delivery_id = deliveries.record("webhooks.confirmation", b"{}", None)
        assert deliveries.mark_interrupted() == 1  # another process starts meanwhile
        deliveries.finish(delivery_id, 400, "The request body must be a JSON object")
        assert deliveries.mark_interrupted() == 0

    [row] = logged(app)
    assert (row.status_code, row.result) == (400, "The request body must be a JSON object")


def test_prune_and_interrupted_on_postgresql(tmp_path, postgres_url):  # noqa: F811
    from payments.boot import mark_interrupted_deliveries

    app = migrated_app({"DATABASE_URL": postgres_url, "SECRET_KEY": "x"}, str(tmp_path))
    with app.app_context():
        old, fresh, left = (
            deliveries.record("webhooks.confirmation", b"{}", None) for _ in range(3)
        )
        deliveries.finish(old, 400, "The request body must be a JSON object")
        deliveries.finish(fresh, 400, "The request body must be a JSON object")
    aged(app, {old: 91})

    mark_interrupted_deliveries(app)
    with app.app_context():
        assert deliveries.prune() == 1
        db.engine.dispose()

    rows = logged(app)
    assert [(row.id, row.result) for row in rows] == [
        (fresh, "The request body must be a JSON object"),
        (left, deliveries.INTERRUPTED),
    ]
    with app.app_context():
        db.engine.dispose()
