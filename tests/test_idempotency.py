"""Idempotency-Key on create and cancel: the first answer again, never a second change."""

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from payments.charges.models import utcnow
from payments.extensions import db
from payments.merchant import idempotency
from payments.merchant.models import IdempotentRequest
from tests.backends import postgres_url  # noqa: F401  (fixture)
from tests.multiprocess import at_once, servers


def count(app, table="payments") -> int:
    with app.app_context():
        return db.session.execute(db.text(f"SELECT count(*) FROM {table}")).scalar()


def post(client, path, body, key, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json",
                       headers={"Idempotency-Key": key, **headers})


def test_a_repeat_gets_the_first_answer_and_creates_nothing(client, app):
    first = post(client, "/payments/pix", {"value": 10}, "order-1")
    again = post(client, "/payments/pix", {"value": 10}, "order-1")

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app) == 1


def test_the_same_key_with_another_body_is_422(client, app):
    post(client, "/payments/pix", {"value": 10}, "order-2")

    response = post(client, "/payments/pix", {"value": 11}, "order-2")

    assert response.status_code == 422
    assert "another request" in response.get_json()["message"]
    assert count(app) == 1


def test_an_error_answer_is_replayed_too(client, app):
    first = post(client, "/payments/pix", {"value": 0}, "order-3")
    again = post(client, "/payments/pix", {"value": 0}, "order-3")

    assert first.status_code == again.status_code == 400
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_keys_are_scoped_to_the_api_key(tmp_path):
    from tests.apps import app_with_tables

    keys = ["sk_live_" + "a" * 30, "sk_live_" + "b" * 30]
    app = app_with_tables({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'k.sqlite'}",
                           "SECRET_KEY": "t", "MERCHANT_API_KEYS": ",".join(keys)},
                          str(tmp_path))
    client = app.test_client()

    answers = [post(client, "/payments/pix", {"value": 10}, "same",
                    Authorization=f"Bearer {key}") for key in keys]

    assert [answer.status_code for answer in answers] == [201, 201]
    assert "Idempotent-Replayed" not in answers[1].headers
    assert count(app) == 2
    with app.app_context():
        db.engine.dispose()


def test_cancel_with_a_key_replays_its_first_answer(client):
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    path = f"/payments/pix/{payment['id']}/cancel"

    first = post(client, path, {}, "cancel-1")
    again = post(client, path, {}, "cancel-1")

    assert first.get_json()["message"] == "The payment has been canceled"
    assert again.get_json() == first.get_json()  # not "already canceled": the first answer
    assert again.headers["Idempotent-Replayed"] == "true"


def test_while_the_first_is_running_a_repeat_is_409(client, app):
    with app.app_context():
        claimed = idempotency.claim("open", "slow", idempotency.fingerprint(
            "POST", "merchant.create", {}, b'{"value": 10}'))
    assert isinstance(claimed, int)

    response = post(client, "/payments/pix", {"value": 10}, "slow")

    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert count(app) == 0


def test_a_claim_abandoned_by_a_crash_is_taken_over(client, app):
    with app.app_context():
        db.session.add(IdempotentRequest(merchant="open", key="crashed", fingerprint="x" * 64,
                                         created_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()

    response = post(client, "/payments/pix", {"value": 10}, "crashed")

    assert response.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ação"])
def test_a_malformed_key_is_400(client, app, key):
    response = client.post("/payments/pix", json={"value": 10},
                           headers={"Idempotency-Key": key.encode().decode("latin-1")})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.get_json()["message"]
    assert count(app) == 0


def test_answers_are_kept_24_hours_then_purged(client, app):
    post(client, "/payments/pix", {"value": 10}, "old")
    post(client, "/payments/pix", {"value": 10}, "new")
    with app.app_context():
        db.session.query(IdempotentRequest).filter_by(key="old").update(
            {"created_at": utcnow() - timedelta(hours=24, seconds=1)})
        db.session.commit()
        assert idempotency.purge() == 1
        assert [row.key for row in db.session.query(IdempotentRequest)] == ["new"]

    again = post(client, "/payments/pix", {"value": 10}, "old")  # a new request by now
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert count(app) == 3


# --- Live: parallel identical requests, one process and two on PostgreSQL -----------------

def create_with_key(url: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/payments/pix", data=b'{"value": 25}', method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def charges(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/payments/pix?limit=100", timeout=30) as response:
        return json.loads(response.read())["data"]


def test_twenty_identical_creates_at_once_make_one_charge(live_server):
    answers = at_once(*[lambda: create_with_key(live_server.url, "burst")] * 20)

    created = {body["payment"]["id"] for status, body in answers if status == 201}
    assert len(charges(live_server.url)) == 1
    assert len(created) == 1  # every 201 is the same charge, replayed
    assert {status for status, _ in answers} <= {201, 409}  # 409: the first was still running


def test_identical_creates_across_two_processes_make_one_charge(tmp_path, postgres_url):  # noqa: F811
    env = {"DATABASE_URL": postgres_url, "RATE_LIMIT_CREATE": ""}
    with servers(tmp_path, 2, env) as (a, b):
        answers = at_once(*[lambda server=server: create_with_key(server.url, "two-processes")
                            for server in (a, b) * 10])

        assert len(charges(a.url)) == 1
        created = {body["payment"]["id"] for status, body in answers if status == 201}
        assert len(created) == 1
        assert {status for status, _ in answers} <= {201, 409}


def test_the_background_tick_purges_old_answers(client, app):
    from payments import background

    post(client, "/payments/pix", {"value": 10}, "stale")
    with app.app_context():
        db.session.query(IdempotentRequest).update(
            {"created_at": utcnow() - timedelta(hours=25)})
        db.session.commit()
        background.tick()
        assert count(app, "idempotent_requests") == 0
