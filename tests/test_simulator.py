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
    Receiver,
    SimulatorServer,
    api_call,
    get_token,
    query,
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


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", f"/v2/cob/{TXID}"),
        ("patch", f"/v2/cob/{TXID}"),
        ("put", "/v2/pix/E" + "0" * 31 + "/devolucao/r1"),
        ("put", f"/v2/webhook/{KEY}"),
        ("post", f"/sim/pay/{TXID}"),
        ("post", "/v2/nowhere"),
        ("delete", f"/v2/cob/{TXID}"),
    ],
)
@pytest.mark.parametrize("body", [b"", b"null", b"[1]", b'"x"', b"{", b"\xff\xfe", b"{}" * 600000])
def test_no_input_gets_a_5xx(sim, auth, method, path, body):
    answer = getattr(sim, method)(
        path, data=body, headers={**auth, "Content-Type": "application/json"}
    )
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.data[:200])
    assert answer.mimetype == "application/problem+json"
    assert answer.json["status"] == answer.status_code


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


def pay(sim, auth, n: int, body: dict | None = None) -> dict:
    """Create the cob number ``n`` and pay it; return the Pix."""
    assert sim.put(f"/v2/cob/{new_txid(n)}", json=body or COB, headers=auth).status_code == 201
    paid = sim.post(f"/sim/pay/{new_txid(n)}")
    assert paid.status_code == 201, paid.json
    return paid.json["pix"]


# --- webhooks and callbacks -----------------------------------------------------------------


def test_webhook_is_registered_read_and_removed(sim, auth):
    url = "https://shop.example/payments/pix/confirmation"
    put = sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": url}, headers=auth)
    assert put.status_code == 200
    got = sim.get(f"/v2/webhook/{KEY}", headers=auth)
    assert got.status_code == 200 and got.json["webhookUrl"] == url and got.json["chave"] == KEY
    assert sim.delete(f"/v2/webhook/{KEY}", headers=auth).status_code == 204
    missing = sim.get(f"/v2/webhook/{KEY}", headers=auth)
    assert missing.status_code == 404 and missing.json["type"].endswith("/WebhookNaoEncontrado")
    assert sim.delete(f"/v2/webhook/{KEY}", headers=auth).status_code == 404
    bad_url = sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": "ftp://x"}, headers=auth)
    assert bad_url.status_code == 400
    assert bad_url.json["type"].endswith("/WebhookOperacaoInvalida")
    bad_key = sim.put("/v2/webhook/nokey", json={"webhookUrl": url}, headers=auth)
    assert bad_key.status_code == 400
    assert sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": url}).status_code == 401


def test_paying_calls_the_registered_webhook_back(sim, auth):
    with Receiver() as receiver:
        hook = receiver.url + "/payments/pix/confirmation"
        sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": hook}, headers=auth)
        pix = pay(sim, auth, 1)
        [(path, body)] = receiver.wait_for(1)
    assert path == "/payments/pix/confirmation/pix"
    assert body == {"pix": [pix]}
    [entry] = sim.get("/sim/callbacks").json["callbacks"]
    assert entry["state"] == "delivered" and entry["attempts"] == 1


def test_callbacks_are_retried_with_a_bound(sim_app, sim, auth):
    notifier = sim_app.extensions["simulator"].notifier
    notifier.attempts = 3
    with Receiver(status=503) as receiver:
        sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": receiver.url}, headers=auth)
        pay(sim, auth, 1)
        deadline = time.monotonic() + 10
        while sim.get("/sim/callbacks").json["callbacks"][0]["state"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [failed] = sim.get("/sim/callbacks").json["callbacks"]
        assert failed["state"] == "failed" and failed["attempts"] == 3 == receiver.attempts
        assert failed["last_status"] == 503
        receiver.attempts = 0
        notifier.attempts, notifier.delay = 6, 0.3  # room to recover between tries
        pix = pay(sim, auth, 2)
        while receiver.attempts < 2:  # the second try fails too, then the receiver recovers
            assert time.monotonic() < deadline
            time.sleep(0.01)
        receiver.status = 200
        [(_, body)] = receiver.wait_for(1)
    assert body == {"pix": [pix]}
    retried = sim.get("/sim/callbacks").json["callbacks"][1]
    assert retried["state"] == "delivered" and retried["attempts"] >= 3


def test_drop_callbacks_sends_none():
    dropping = create_simulator({"SIM_DROP_CALLBACKS": True})
    sim = dropping.test_client()
    token = sim.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    ).json["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    with Receiver() as receiver:
        sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": receiver.url}, headers=auth)
        pix = pay(sim, auth, 1)
        time.sleep(0.5)
        assert receiver.attempts == 0
    [entry] = sim.get("/sim/callbacks").json["callbacks"]
    assert entry["state"] == "dropped" and entry["endToEndIds"] == [pix["endToEndId"]]
    assert sim.get(f"/v2/pix/{pix['endToEndId']}", headers=auth).json == pix  # still received


def test_sim_routes_are_for_this_machine_only(sim, auth):
    sim.put(f"/v2/cob/{TXID}", json=COB, headers=auth)
    away = sim.post(f"/sim/pay/{TXID}", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert away.status_code == 403
    assert sim.get(f"/v2/cob/{TXID}", headers=auth).json["status"] == "ATIVA"


# --- the Pix list ---------------------------------------------------------------------------

WIDE = {"inicio": "2020-01-01T00:00:00Z", "fim": "2099-01-01T00:00:00Z"}


def test_the_pix_list_really_pages(sim, auth):
    paid = [pay(sim, auth, n) for n in range(5)]
    seen = []
    for page in range(3):
        params = {**WIDE, "paginacao.paginaAtual": page, "paginacao.itensPorPagina": 2}
        answer = sim.get(f"/v2/pix?{query(params)}", headers=auth)
        assert answer.status_code == 200
        paginacao = answer.json["parametros"]["paginacao"]
        assert paginacao == {
            "paginaAtual": page,
            "itensPorPagina": 2,
            "quantidadeDePaginas": 3,
            "quantidadeTotalDeItens": 5,
        }
        assert len(answer.json["pix"]) == (2 if page < 2 else 1)
        seen += answer.json["pix"]
    assert seen == paid  # each once, oldest first
    beyond = {**WIDE, "paginacao.paginaAtual": 3, "paginacao.itensPorPagina": 2}
    assert sim.get(f"/v2/pix?{query(beyond)}", headers=auth).json["pix"] == []
    default = sim.get(f"/v2/pix?{query(WIDE)}", headers=auth).json
    assert default["parametros"]["paginacao"]["itensPorPagina"] == 100
    assert default["pix"] == paid


def test_the_pix_list_keeps_to_its_window_and_filters(sim, auth):
    first = pay(sim, auth, 1)
    time.sleep(0.01)
    second = pay(sim, auth, 2)
    until_first = {"inicio": "2020-01-01T00:00:00Z", "fim": first["horario"]}
    assert sim.get(f"/v2/pix?{query(until_first)}", headers=auth).json["pix"] == [first]
    after_first = {"inicio": second["horario"], "fim": "2099-01-01T00:00:00-03:00"}
    assert sim.get(f"/v2/pix?{query(after_first)}", headers=auth).json["pix"] == [second]
    by_txid = {**WIDE, "txid": new_txid(2)}
    assert sim.get(f"/v2/pix?{query(by_txid)}", headers=auth).json["pix"] == [second]


@pytest.mark.parametrize(
    "params",
    [
        {"fim": WIDE["fim"]},
        {"inicio": WIDE["inicio"]},
        {"inicio": "yesterday", "fim": WIDE["fim"]},
        {"inicio": WIDE["fim"], "fim": WIDE["inicio"]},
        {**WIDE, "paginacao.paginaAtual": -1},
        {**WIDE, "paginacao.itensPorPagina": 0},
        {**WIDE, "paginacao.itensPorPagina": 1001},
        {**WIDE, "paginacao.itensPorPagina": "many"},
    ],
)
def test_the_pix_list_refuses_bad_queries(sim, auth, params):
    answer = sim.get(f"/v2/pix?{query(params)}", headers=auth)
    assert answer.status_code == 400
    assert answer.json["type"].endswith("/PixConsultaInvalida")


# --- refunds --------------------------------------------------------------------------------


def wait_settled(sim, auth, e2eid: str, refund_id: str) -> dict:
    deadline = time.monotonic() + 10
    while True:
        item = sim.get(f"/v2/pix/{e2eid}/devolucao/{refund_id}", headers=auth).json
        if item["status"] != "EM_PROCESSAMENTO" or time.monotonic() > deadline:
            return item
        time.sleep(0.05)


def test_refunds_partial_full_and_excess(sim, auth):
    with Receiver() as receiver:
        sim.put(f"/v2/webhook/{KEY}", json={"webhookUrl": receiver.url}, headers=auth)
        pix = pay(sim, auth, 1)  # 1500.50
        e2e = pix["endToEndId"]
        receiver.wait_for(1)
        url = f"/v2/pix/{e2e}/devolucao"
        partial = sim.put(f"{url}/r1", json={"valor": "500.00"}, headers=auth)
        assert partial.status_code == 201
        assert partial.json["status"] == "EM_PROCESSAMENTO" and partial.json["valor"] == "500.00"
        assert len(partial.json["rtrId"]) == 32 and partial.json["rtrId"].startswith("D")
        again = sim.put(f"{url}/r1", json={"valor": "500.00"}, headers=auth)
        assert again.status_code == 201 and again.json["rtrId"] == partial.json["rtrId"]
        assert wait_settled(sim, auth, e2e, "r1")["status"] == "DEVOLVIDO"
        [_, (_, callback)] = receiver.wait_for(2)
        assert callback["pix"][0]["endToEndId"] == e2e
        assert callback["pix"][0]["devolucoes"][0]["status"] == "DEVOLVIDO"
        rest = sim.put(f"{url}/r2", json={"valor": "1000.50"}, headers=auth)
        assert rest.status_code == 201
        full = wait_settled(sim, auth, e2e, "r2")
        assert full["status"] == "DEVOLVIDO" and "liquidacao" in full["horario"]
        excess = sim.put(f"{url}/r3", json={"valor": "0.01"}, headers=auth)
        assert excess.status_code == 201
        refused = wait_settled(sim, auth, e2e, "r3")
        assert refused["status"] == "NAO_REALIZADO" and refused["motivo"]
        posts = receiver.wait_for(4)
    statuses = [item["status"] for item in posts[-1][1]["pix"][0]["devolucoes"]]
    assert statuses == ["DEVOLVIDO", "DEVOLVIDO", "NAO_REALIZADO"]
    listed = sim.get(f"/v2/pix/{e2e}", headers=auth).json["devolucoes"]
    assert [item["id"] for item in listed] == ["r1", "r2", "r3"]


def test_refunds_refuse_bad_requests(sim, auth):
    e2e = pay(sim, auth, 1)["endToEndId"]
    url = f"/v2/pix/{e2e}/devolucao"
    assert sim.put(f"{url}/r1", json={"valor": "1.00"}, headers=auth).status_code == 201
    other_value = sim.put(f"{url}/r1", json={"valor": "2.00"}, headers=auth)
    assert other_value.status_code == 400
    assert other_value.json["type"].endswith("/PixDevolucaoInvalida")
    for body in ({"valor": "1"}, {"valor": "0.00"}, {}, {"valor": "1.00", "natureza": "X"}):
        assert sim.put(f"{url}/r9", json=body, headers=auth).status_code == 400
    assert sim.put(f"{url}/{'x' * 36}", json={"valor": "1.00"}, headers=auth).status_code == 400
    unknown = sim.put(
        "/v2/pix/E" + "1" * 31 + "/devolucao/r1", json={"valor": "1.00"}, headers=auth
    )
    assert unknown.status_code == 404
    missing = sim.get(f"{url}/nope", headers=auth)
    assert missing.status_code == 404
    assert missing.json["type"].endswith("/PixDevolucaoNaoEncontrada")


# --- a real process ---------------------------------------------------------------------------


def test_the_command_serves_and_tokens_expire(tmp_path):
    with SimulatorServer(tmp_path, "--token-seconds", "2") as server:
        status, token = get_token(server.token_url)
        assert status == 200 and token["expires_in"] == 2
        url = f"{server.psp_url}/cob/{TXID}"
        status, cob = api_call(url, token["access_token"], "PUT", COB)
        assert status == 201 and cob["status"] == "ATIVA"
        assert cob["location"].startswith(f"127.0.0.1:{server.port}/qr/v2/")
        time.sleep(2.2)
        status, problem = api_call(url, token["access_token"])
        assert status == 401 and "expired" in problem["detail"]
        status, fresh = get_token(server.token_url)
        assert api_call(url, fresh["access_token"])[1] == cob
        assert get_token(server.token_url, client_secret="wrong")[0] == 401


def test_the_command_calls_back_and_keeps_state_in_sqlite(tmp_path):
    db = str(tmp_path / "psp.sqlite")
    with Receiver() as receiver:
        options = ("--db", db, "--webhook-url", receiver.url + "/hook")
        with SimulatorServer(tmp_path, *options) as server:
            token = get_token(server.token_url)[1]["access_token"]
            url = f"{server.psp_url}/cob/{TXID}"
            assert api_call(url, token, "PUT", COB)[0] == 201
            status, paid = api_call(f"{server.url}/sim/pay/{TXID}", token, "POST", {})
            assert status == 201
            [(path, body)] = receiver.wait_for(1)
            assert path == "/hook/pix" and body == {"pix": [paid["pix"]]}
            keys = api_call(f"{server.url}/jwks", token)[1]
        with SimulatorServer(tmp_path, *options) as again:
            cob = api_call(f"{again.psp_url}/cob/{TXID}", token)[1]  # the token was kept too
            assert cob["status"] == "CONCLUIDA" and cob["pix"] == [paid["pix"]]
            assert api_call(f"{again.url}/jwks", token)[1] == keys


def test_the_command_drops_callbacks_when_told(tmp_path):
    with Receiver() as receiver:
        options = ("--drop-callbacks", "--webhook-url", receiver.url)
        with SimulatorServer(tmp_path, *options) as server:
            token = get_token(server.token_url)[1]["access_token"]
            assert api_call(f"{server.psp_url}/cob/{TXID}", token, "PUT", COB)[0] == 201
            assert api_call(f"{server.url}/sim/pay/{TXID}", token, "POST", {})[0] == 201
            time.sleep(1)
            log = api_call(f"{server.url}/sim/callbacks", token)[1]["callbacks"]
        assert receiver.attempts == 0
    assert [entry["state"] for entry in log] == ["dropped"]


def test_bank_pay_pays_through_the_simulator(app, create, tmp_path):
    from payments.charges import service
    from payments.extensions import db

    with Receiver() as receiver, SimulatorServer(tmp_path, "--webhook-url", receiver.url) as server:
        payment = create(value="1500.50")
        with app.app_context():
            service.find_payment(payment["id"]).txid = TXID  # as a provider charge's would be
            db.session.commit()
        token = get_token(server.token_url)[1]["access_token"]
        assert api_call(f"{server.psp_url}/cob/{TXID}", token, "PUT", COB)[0] == 201
        app.config["PIX_PSP_URL"] = server.psp_url
        runner = app.test_cli_runner()
        result = runner.invoke(args=["bank", "pay", payment["id"]])
        assert result.exit_code == 0, result.output
        assert result.output.startswith("201 ")
        [(path, body)] = receiver.wait_for(1)
        assert path == "/pix" and body["pix"][0]["txid"] == TXID
        assert body["pix"][0]["valor"] == "1500.50"
        cob = api_call(f"{server.psp_url}/cob/{TXID}", token)[1]
        assert cob["status"] == "CONCLUIDA"
        twice = runner.invoke(args=["bank", "pay", payment["id"]])
        assert twice.exit_code == 1 and twice.output.startswith("409 ")
        refund = runner.invoke(args=["bank", "pay", payment["id"], "--refund"])
        assert refund.exit_code == 1 and "POST /payments/pix/<id>/refund" in refund.output
