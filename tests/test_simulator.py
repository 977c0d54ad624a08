"""The API Pix simulator: OAuth2, cob, location JWS, paying, callbacks, the Pix list, refunds."""

import json
import time

import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from payments.pix.brcode import parse_brcode
from payments.simulator import create_simulator
from tests.psp_simulator import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SimulatorServer,
    api_call,
    get_token,
)

KEY = "123e4567-e12b-12d1-a456-426655440000"
TXID = "Pedido0001ABCDEFGHIJKLMNOPQ"  # 27 letters and digits
COB = {
    "calendario": {"expiracao": 3600},
    "valor": {"original": "1500.50"},
    "chave": KEY,
    "solicitacaoPagador": "Pedido 1",
}


def new_txid(n: int) -> str:
    return f"Sim{n:04d}" + "x" * 22


@pytest.fixture
def sim_app():
    return create_simulator({"SIM_REFUND_SECONDS": 0.2, "SIM_CALLBACK_DELAY": 0.05})


@pytest.fixture
def sim(sim_app):
    return sim_app.test_client()


@pytest.fixture
def auth(sim):
    answer = sim.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    assert answer.status_code == 200, answer.json
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


# --- OAuth2 ---------------------------------------------------------------------------------


def test_token_needs_the_client_credentials(sim):
    good = sim.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    assert good.status_code == 200
    assert good.json["token_type"] == "Bearer" and good.json["expires_in"] == 3600
    wrong = sim.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(DEMO_CLIENT_ID, "wrong")
    )
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    none = sim.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert none.status_code == 401
    grant = sim.post(
        "/oauth/token", data={"grant_type": "password"}, auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    )
    assert grant.status_code == 400 and grant.json["error"] == "unsupported_grant_type"


def test_every_v2_call_needs_a_valid_token(sim, auth):
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Basic x"}):
        answer = sim.put(f"/v2/cob/{TXID}", json=COB, headers=headers)
        assert answer.status_code == 401
        assert answer.mimetype == "application/problem+json"
        assert "Bearer" in answer.headers["WWW-Authenticate"]
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).status_code == 404  # let in: none yet


# --- cob ------------------------------------------------------------------------------------


def test_cob_is_created_read_and_idempotent(sim, auth):
    created = sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    assert created.status_code == 201
    cob = created.json
    assert cob["txid"] == TXID and cob["status"] == "ATIVA" and cob["revisao"] == 0
    assert cob["valor"]["original"] == "1500.50" and cob["chave"] == KEY
    assert cob["calendario"]["expiracao"] == 3600
    assert cob["location"] == cob["loc"]["location"] and cob["loc"]["tipoCob"] == "cob"
    assert not cob["location"].startswith("http")
    again = sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    assert again.status_code == 201 and again.json == cob
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).json == cob
    other = sim.put(f"/v2/cob/{TXID}", json={**COB, "valor": {"original": "1.00"}}, headers=auth)
    assert other.status_code == 400
    assert other.json["type"] == "https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida"
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).json == cob


def test_cob_pix_code_is_a_dynamic_br_code(sim, auth):
    cob = sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth).json
    code = parse_brcode(cob["pixCopiaECola"], strict=True)
    assert code.point_of_initiation == "12"
    assert code.is_dynamic and code.url == cob["location"] and code.key is None
    assert code.merchant_account["00"] == "br.gov.bcb.pix"
    assert code.txid == "***"
    assert code.name == "LOJA EXEMPLO" and code.city == "SAO PAULO"


@pytest.mark.parametrize(
    ("txid", "body", "prop"),
    [
        ("short1234", COB, "cob.txid"),
        ("x" * 36, COB, "cob.txid"),
        ("a" * 25 + "-", COB, "cob.txid"),
        (TXID, {**COB, "valor": {"original": "1500.5"}}, "cob.valor.original"),
        (TXID, {**COB, "valor": {"original": 1500.5}}, "cob.valor.original"),
        (TXID, {**COB, "valor": {"original": "0.00"}}, "cob.valor.original"),
        (TXID, {**COB, "calendario": {"expiracao": 0}}, "cob.calendario.expiracao"),
        (TXID, {**COB, "chave": "not a key"}, "cob.chave"),
        (TXID, {**COB, "solicitacaoPagador": "x" * 141}, "cob.solicitacaoPagador"),
        (TXID, [], "cob"),
    ],
)
def test_cob_refuses_bad_requests_as_problems(sim, auth, txid, body, prop):
    answer = sim.put(f"/v2/cob/{txid}", json=body, headers=auth)
    assert answer.status_code == 400
    assert answer.mimetype == "application/problem+json"
    problem = answer.json
    assert problem["status"] == 400 and problem["title"] and problem["detail"]
    assert problem["violacoes"][0]["propriedade"] == prop
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).status_code == 404


def test_malformed_json_is_a_problem(sim, auth):
    answer = sim.put(
        f"/v2/cob/{TXID}", data="{nope", headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"


def test_cob_patch_removes_it(sim, auth):
    sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    removed = sim.patch(
        f"/v2/cob/{TXID}", json={"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}, headers=auth
    )
    assert removed.status_code == 200
    assert removed.json["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    assert removed.json["revisao"] == 1
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).json["status"] == removed.json["status"]
    again = sim.patch(
        f"/v2/cob/{TXID}", json={"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}, headers=auth
    )
    assert again.status_code == 400
    paid = sim.post(f"/sim/pay/{TXID}")
    assert paid.status_code == 409
    unknown = sim.patch(f"/v2/cob/{new_txid(9)}", json={"status": "x"}, headers=auth)
    assert unknown.status_code == 404
    assert unknown.json["type"].endswith("/CobNaoEncontrado")


def test_cob_patch_revises_the_value(sim, auth):
    sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    revised = sim.patch(f"/v2/cob/{TXID}", json={"valor": {"original": "10.00"}}, headers=auth)
    assert revised.status_code == 200 and revised.json["valor"]["original"] == "10.00"
    assert revised.json["revisao"] == 1 and revised.json["status"] == "ATIVA"
    both = sim.patch(
        f"/v2/cob/{TXID}",
        json={"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR", "valor": {"original": "2.00"}},
        headers=auth,
    )
    assert both.status_code == 400
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).json["valor"]["original"] == "10.00"


# --- the location payload -------------------------------------------------------------------


def test_location_serves_the_cob_as_a_jws_signed_by_the_published_key(sim, auth):
    cob = sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth).json
    host, path = cob["location"].split("/", 1)
    answer = sim.get("/" + path)
    assert answer.status_code == 200 and answer.mimetype == "application/jose"
    token = answer.get_data(as_text=True)
    header = jws.extract_compact(token.encode()).protected
    assert header["alg"] == "RS256" and header["jku"].endswith("/jwks")
    keys = KeySet.import_key_set(sim.get("/jwks").json)
    verified = jws.deserialize_compact(token, keys.get_by_kid(header["kid"]))
    payload = json.loads(verified.payload)
    assert payload["txid"] == TXID and payload["status"] == "ATIVA"
    assert payload["valor"]["original"] == "1500.50" and payload["chave"] == KEY
    assert set(payload["calendario"]) == {"criacao", "apresentacao", "expiracao"}
    forged = token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(forged, keys.get_by_kid(header["kid"]))
    assert sim.get("/qr/v2/" + "0" * 32).status_code == 404


# --- paying, reading a Pix ------------------------------------------------------------------


def test_pay_creates_a_pix_and_concludes_the_cob(sim, auth):
    sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    paid = sim.post(f"/sim/pay/{TXID}", json={"infoPagador": "obrigado"})
    assert paid.status_code == 201
    pix = paid.json["pix"]
    assert len(pix["endToEndId"]) == 32 and pix["endToEndId"].startswith("E")
    assert pix["endToEndId"].isalnum()
    assert pix["txid"] == TXID and pix["valor"] == "1500.50" and pix["infoPagador"] == "obrigado"
    assert paid.json["callback"]["state"] == "no_webhook"
    assert sim.get(f"/v2/pix/{pix['endToEndId']}", headers=auth).json == pix
    cob = sim.get(f"/v2/cob/{TXID}", headers=auth).json
    assert cob["status"] == "CONCLUIDA" and cob["pix"] == [pix]
    assert sim.post(f"/sim/pay/{TXID}").status_code == 409  # paid once only
    missing = sim.get("/v2/pix/E" + "0" * 31, headers=auth)
    assert missing.status_code == 404 and missing.json["type"].endswith("/PixNaoEncontrado")


def test_pay_a_wrong_amount(sim, auth):
    sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    pix = sim.post(f"/sim/pay/{TXID}", json={"valor": "1.00"}).json["pix"]
    assert pix["valor"] == "1.00"
    assert sim.post(f"/sim/pay/{new_txid(1)}").status_code == 404


def test_an_expired_cob_cannot_be_paid(sim, auth):
    sim.put(f"/v2/cob/{TXID}", json={**COB, "calendario": {"expiracao": 1}}, headers=auth)
    time.sleep(1.1)
    assert sim.post(f"/sim/pay/{TXID}").status_code == 409
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).json["status"] == "ATIVA"


# --- a real process ---------------------------------------------------------------------------


def test_the_command_serves_and_tokens_expire(tmp_path):
    with SimulatorServer(tmp_path, "--token-seconds", "1") as server:
        status, token = get_token(server.token_url)
        assert status == 200 and token["expires_in"] == 1
        url = f"{server.psp_url}/cob/{TXID}"
        status, cob = api_call(url, token["access_token"], "PUT", COB)
        assert status == 201 and cob["status"] == "ATIVA"
        assert cob["location"].startswith(f"127.0.0.1:{server.port}/qr/v2/")
        time.sleep(1.2)
        status, problem = api_call(url, token["access_token"])
        assert status == 401 and "expired" in problem["detail"]
        status, fresh = get_token(server.token_url)
        assert api_call(url, fresh["access_token"])[1] == cob
        assert get_token(server.token_url, client_secret="wrong")[0] == 401
