"""The whole path against the API Pix simulator: real processes on free loopback ports.

``flask --app payments psp simulator`` plays the provider; ``python app.py`` (eventlet, as in
production) is the app, its client greened by eventlet's monkey patching. Paying is the
simulator's ``POST /sim/pay/{txid}``; the page learns it through the event stream.
"""

import os
import subprocess
import sys
import time

import pytest

from payments.pix.brcode import parse_brcode
from tests.backends import postgres_url  # noqa: F401  (fixture)
from tests.live import ROOT, EventStream, LiveServer, call, free_port
from tests.psp_simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SimulatorServer,
    api_call,
    get_token,
)


def app_env(sim_url: str, tmp_path, name: str) -> dict[str, str]:
    return {
        "PIX_PSP_URL": f"{sim_url}/v2",
        "PIX_PSP_TOKEN_URL": f"{sim_url}/oauth/token",
        "PIX_PSP_CLIENT_ID": DEMO_CLIENT_ID,
        "PIX_PSP_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "PIX_PSP_RECONCILE_SECONDS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / (name + '.sqlite')}",
    }


def register_webhook(env: dict[str, str], app_url: str) -> str:
    """Run ``flask psp register-webhook`` as an operator would; return what it printed."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "payments", "psp",
                           "register-webhook", app_url], cwd=ROOT,
                          env={**os.environ, "SECRET_KEY": "live-test", **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def provider(tmp_path):
    with SimulatorServer(tmp_path, "--token-seconds", "1") as sim:
        yield sim


@pytest.fixture
def shop(tmp_path, provider):
    """The app against the simulator, its webhook registered with the provider."""
    env = app_env(provider.url, tmp_path, "shop")
    with LiveServer(tmp_path, env=env, name="shop") as server:
        printed = register_webhook(env, server.url)
        assert f"{server.url}/payments/pix/confirmation/pix" in printed
        yield server


def create(server, value="150.50") -> dict:
    status, body = call(server.url + "/payments/pix", "POST", {"value": value})
    assert status == 201, body
    return body["payment"]


def pay(provider, payment: dict) -> dict:
    status, body = call(f"{provider.url}/sim/pay/{payment['txid']}", "POST", {})
    assert status == 201, body
    return body["pix"]


def wait_status(server, payment: dict, want: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    current = None
    while time.monotonic() < deadline:
        _, body = call(f"{server.url}/payments/pix/{payment['id']}/status?wait=2")
        current = body["status"]
        if current == want:
            return current
    return current


def test_pay_through_the_provider_and_the_page_learns_it(shop, provider):
    payment = create(shop)
    code = parse_brcode(payment["pix_code"])
    assert code.url is not None and code.point_of_initiation == "12"
    assert 26 <= len(payment["txid"]) <= 35
    stream = EventStream(shop, payment["id"])
    try:
        assert stream.next_event()["status"] == "pending"

        pay(provider, payment)

        assert stream.next_event()["status"] == "paid"
    finally:
        stream.close()


def test_a_forged_callback_is_refused(shop):
    payment = create(shop)
    forged = {"endToEndId": "E12345678202611231005abcdefghijk", "txid": payment["txid"],
              "valor": "150.50", "horario": "2026-11-23T10:05:00.000Z"}

    status, body = call(shop.url + "/payments/pix/confirmation/pix", "POST", {"pix": [forged]})

    assert status == 200
    assert body["results"][0]["status"] == 404
    assert body["results"][0]["message"].startswith("Refused")
    assert call(f"{shop.url}/payments/pix/{payment['id']}/status")[1]["status"] == "pending"


def test_partial_and_full_refunds_reach_refunded(shop, provider):
    payment = create(shop, "100.00")
    pay(provider, payment)
    assert wait_status(shop, payment, "paid") == "paid"
    route = f"{shop.url}/payments/pix/{payment['id']}/refund"

    partial = call(route, "POST", {"value": "30.00"})
    too_much = call(route, "POST", {"value": "70.01"})
    rest = call(route, "POST", {})

    assert partial[0] == 202, partial
    assert too_much[0] == 409 and "70.00" in too_much[1]["message"]
    assert rest[0] == 202 and rest[1]["refund"]["value"] == 70
    assert wait_status(shop, payment, "refunded") == "refunded"


def test_token_expiry_and_cancel(shop, provider):
    first = create(shop)
    time.sleep(1.5)  # the simulator's tokens live one second

    second = create(shop)
    canceled = call(f"{shop.url}/payments/pix/{second['id']}/cancel", "POST", {})

    assert first["txid"] != second["txid"]
    assert canceled[0] == 200 and canceled[1]["payment"]["status"] == "canceled"
    _, token = get_token(provider.token_url)
    status, cob = api_call(f"{provider.psp_url}/cob/{second['txid']}", token["access_token"])
    assert status == 200 and cob["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"


def test_a_dropped_callback_is_caught_by_reconciliation(tmp_path):
    with SimulatorServer(tmp_path, "--drop-callbacks") as provider:
        env = app_env(provider.url, tmp_path, "dropped")
        with LiveServer(tmp_path, env=env, name="dropped") as shop:
            register_webhook(env, shop.url)
            payment = create(shop)

            pay(provider, payment)  # no callback comes

            assert wait_status(shop, payment, "paid") == "paid"


def test_provider_down_at_create_is_503_and_nothing_is_created(tmp_path):
    env = app_env(f"http://127.0.0.1:{free_port()}", tmp_path, "down")  # nothing listens there
    with LiveServer(tmp_path, env=env, name="down") as shop:
        status, body = call(shop.url + "/payments/pix", "POST", {"value": 10})
        listed = call(shop.url + "/payments/pix")

    assert status == 503 and "Pix provider" in body["message"]
    assert listed == (200, {"data": [], "next_cursor": None})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_several_processes_reconciling_apply_each_pix_once(tmp_path, database_url):
    from payments.extensions import db
    from tests.apps import migrated_app

    with SimulatorServer(tmp_path, "--drop-callbacks") as provider:
        env = {**app_env(provider.url, tmp_path, "unused"), "DATABASE_URL": database_url}
        app = migrated_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "live-test",
                            **{k: v for k, v in env.items() if k.startswith("PIX_PSP")}},
                           str(tmp_path))
        client = app.test_client()
        payments = [client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
                    for _ in range(4)]
        for payment in payments:
            pay(provider, payment)  # no callback comes
        runs = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "payments", "psp",
                                  "reconcile"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE,
                                 env={**os.environ, "SECRET_KEY": "live-test", **env})
                for _ in range(3)]
        outputs = [run.communicate(timeout=120) for run in runs]

        assert all(run.returncode == 0 for run in runs), outputs
        changed = [int(out.split(" Pix listed, ")[1].split()[0]) for out, _ in outputs
                   if "Pix listed" in out]
        assert sum(changed) == 4, outputs
        assert [client.get(f"/payments/pix/{p['id']}/status").get_json()["status"]
                for p in payments] == ["paid"] * 4
        with app.app_context():
            db.engine.dispose()
