"""A small in-process API Pix provider for unit tests: a requests transport adapter.

It keeps cobs, received Pix and refunds in dictionaries and answers as the standard says
(``application/problem+json`` errors). ``down`` makes every call fail to connect; ``revoke()``
makes the tokens handed out so far answer 401; ``calls`` records what was asked.
"""

import json
import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter

from payments.pix.brcode import crc16, encode_fields

URL = "http://psp.test/v2"
TOKEN_URL = "http://psp.test/oauth/token"
CONFIG = {"PIX_PSP_URL": URL, "PIX_PSP_TOKEN_URL": TOKEN_URL, "PIX_PSP_CLIENT_ID": "shop",
          "PIX_PSP_CLIENT_SECRET": "shop-secret", "PIX_PSP_RECONCILE_SECONDS": 60}


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dynamic_brcode(location: str, name: str = "LOJA EXEMPLO", city: str = "SAO PAULO") -> str:
    """Return a dynamic BR Code pointing at ``location`` (field 26-25), single use (01 = 12)."""
    body = encode_fields({
        "00": "01", "01": "12",
        "26": encode_fields({"00": "br.gov.bcb.pix", "25": location}),
        "52": "0000", "53": "986", "58": "BR", "59": name, "60": city,
        "62": encode_fields({"05": "***"}),
    }) + "6304"
    return body + crc16(body)


class FakeProvider(BaseAdapter):
    """The provider behind ``URL``."""

    def __init__(self) -> None:
        super().__init__()
        self.cobs: dict[str, dict] = {}
        self.pix: dict[str, dict] = {}
        self.webhooks: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.down = False
        self.fail_next: list[int] = []  # statuses to answer next, before anything else
        self.refund_status = "EM_PROCESSAMENTO"

    # --- what the tests do at the provider -----------------------------------------------------

    def revoke(self) -> None:
        self.tokens.clear()

    def pay(self, txid: str, valor: str | None = None) -> dict:
        """Receive a Pix for the cob ``txid``; return the Pix item (as a callback carries it)."""
        cob = self.cobs[txid]
        e2e = "E" + secrets.token_hex(16)[:31]
        item = {"endToEndId": e2e, "txid": txid, "valor": valor or cob["valor"]["original"],
                "horario": now_text(), "devolucoes": []}
        self.pix[e2e] = item
        cob["status"] = "CONCLUIDA"
        return {k: v for k, v in item.items() if k != "devolucoes"}

    def settle(self, refund_id: str, status: str = "DEVOLVIDO") -> None:
        for item in self.pix.values():
            for refund in item["devolucoes"]:
                if refund["id"] == refund_id:
                    refund["status"] = status

    # --- the adapter ---------------------------------------------------------------------------

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        path = parts.path
        self.calls.append((request.method, path))
        if self.down:
            raise requests.ConnectionError("connection refused")
        if path == "/oauth/token":
            token = secrets.token_hex(8)
            self.tokens.add(token)
            return self._json(request, 200, {"access_token": token, "token_type": "Bearer",
                                             "expires_in": 3600})
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return self._problem(request, 401, "Não autorizado")
        if self.fail_next:
            return self._problem(request, self.fail_next.pop(0), "Serviço indisponível")
        body = json.loads(request.body) if request.body else {}
        route = path.removeprefix("/v2").strip("/").split("/")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        return self._route(request, route, body, query)

    def _route(self, request, route, body, query):
        method = request.method
        if route[0] == "cob" and len(route) == 2:
            txid = route[1]
            if method == "PUT":
                if not body.get("chave"):
                    return self._problem(request, 400, "Cobrança inválida", "chave ausente")
                location = f"psp.test/qr/v2/{secrets.token_hex(16)}"
                cob = {"calendario": {"criacao": now_text(),
                                      "expiracao": body["calendario"]["expiracao"]},
                       "txid": txid, "revisao": 0, "status": "ATIVA", "valor": body["valor"],
                       "chave": body["chave"], "location": location,
                       "pixCopiaECola": dynamic_brcode(location)}
                if "solicitacaoPagador" in body:
                    cob["solicitacaoPagador"] = body["solicitacaoPagador"]
                self.cobs[txid] = cob
                return self._json(request, 201, cob)
            cob = self.cobs.get(txid)
            if cob is None:
                return self._problem(request, 404, "Não encontrado")
            if method == "PATCH":
                if cob["status"] != "ATIVA":
                    return self._problem(request, 400, "Operação inválida",
                                         f"A cobrança está {cob['status']}")
                cob["status"] = body["status"]
            return self._json(request, 200, cob)
        if route[0] == "pix" and len(route) == 1:
            items = sorted(self.pix.values(), key=lambda item: item["horario"])
            per_page = int(query.get("paginacao.itensPorPagina", 100))
            page = int(query.get("paginacao.paginaAtual", 0))
            pages = max(1, -(-len(items) // per_page))
            return self._json(request, 200, {
                "parametros": {"inicio": query["inicio"], "fim": query["fim"], "paginacao": {
                    "paginaAtual": page, "itensPorPagina": per_page,
                    "quantidadeDePaginas": pages, "quantidadeTotalDeItens": len(items)}},
                "pix": items[page * per_page:(page + 1) * per_page]})
        if route[0] == "pix":
            item = self.pix.get(route[1])
            if item is None:
                return self._problem(request, 404, "Não encontrado")
            if len(route) == 2:
                return self._json(request, 200, item)
            refund_id = route[3]
            found = next((r for r in item["devolucoes"] if r["id"] == refund_id), None)
            if method == "PUT":
                if found is None:
                    found = {"id": refund_id, "rtrId": "D" + secrets.token_hex(16)[:31],
                             "valor": body["valor"], "horario": {"solicitacao": now_text()},
                             "status": self.refund_status}
                    item["devolucoes"].append(found)
                return self._json(request, 201, found)
            if found is None:
                return self._problem(request, 404, "Não encontrado")
            return self._json(request, 200, found)
        if route[0] == "webhook" and method == "PUT":
            self.webhooks[route[1]] = body["webhookUrl"]
            return self._json(request, 200, None)
        return self._problem(request, 404, "Não encontrado")

    @staticmethod
    def _json(request, status: int, data) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = b"" if data is None else json.dumps(data).encode()
        response.headers["Content-Type"] = "application/json"
        response.request, response.url = request, request.url
        return response

    def _problem(self, request, status: int, title: str, detail: str | None = None):
        data = {"type": f"https://pix.bcb.gov.br/api/v2/error/{title}", "title": title,
                "status": status}
        if detail:
            data["detail"] = detail
        response = self._json(request, status, data)
        response.headers["Content-Type"] = "application/problem+json"
        return response

    def close(self) -> None:
        pass
