"""The API Pix error bodies: RFC 7807 ``application/problem+json`` with ``violacoes``."""

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

ERROR_TYPE = "https://pix.bcb.gov.br/api/v2/error/"

#: The standard's titles, by error type.
TITLES = {
    "RequisicaoInvalida": "Requisição inválida.",
    "AcessoNegado": "Acesso Negado",
    "NaoEncontrado": "Não Encontrado",
    "ErroInternoDoServidor": "Erro interno do servidor.",
    "CobNaoEncontrado": "Cobrança não encontrada.",
    "CobOperacaoInvalida": "Cobrança inválida.",
    "CobPayloadNaoEncontrado": "Cobrança não encontrada.",
    "PixNaoEncontrado": "Pix não encontrado.",
    "PixConsultaInvalida": "Consulta inválida.",
    "PixDevolucaoInvalida": "Devolução inválida.",
    "PixDevolucaoNaoEncontrada": "Devolução não encontrada.",
    "WebhookOperacaoInvalida": "Webhook inválido.",
    "WebhookNaoEncontrado": "Webhook não encontrado.",
    "OperacaoInvalida": "Operação inválida.",
}


class Problem(Exception):
    """An API Pix error: its type (``CobOperacaoInvalida``...), status, detail and violations."""

    def __init__(
        self, kind: str, status: int, detail: str, violations: list[dict] | None = None
    ) -> None:
        super().__init__(detail)
        self.kind, self.status, self.detail = kind, status, detail
        self.violations = violations or []

    def body(self) -> dict:
        """Return the problem as the standard's ``Problema`` object."""
        body = {
            "type": ERROR_TYPE + self.kind,
            "title": TITLES.get(self.kind, self.kind),
            "status": self.status,
            "detail": self.detail,
        }
        if self.violations:
            body["violacoes"] = self.violations
        return body


def violation(reason: str, prop: str, value: object = None) -> dict:
    """Return one ``Violacao``: the reason, the property's path and, if given, its value."""
    item = {"razao": reason, "propriedade": prop}
    if value is not None:
        item["valor"] = str(value)
    return item


def invalid(kind: str, reason: str, prop: str, value: object = None) -> Problem:
    """Return a 400 problem of ``kind`` with one violation."""
    return Problem(
        kind,
        400,
        "The request does not follow the schema or makes no sense.",
        [violation(reason, prop, value)],
    )


def response(problem: Problem, headers: dict | None = None) -> Response:
    """Return ``problem`` as an ``application/problem+json`` response."""
    answer = jsonify(problem.body())
    answer.status_code = problem.status
    answer.mimetype = "application/problem+json"
    answer.headers.update(headers or {})
    return answer


_HTTP_KINDS = {
    400: "RequisicaoInvalida",
    401: "AcessoNegado",
    403: "AcessoNegado",
    404: "NaoEncontrado",
}


def register(app: Flask) -> None:
    """Answer every error of ``app`` as a problem, never an HTML page or a traceback."""

    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        return response(exc)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        kind = _HTTP_KINDS.get(exc.code or 500, "RequisicaoInvalida")
        problem = Problem(kind, exc.code or 500, exc.description or exc.name)
        allowed = getattr(exc, "valid_methods", None)
        return response(problem, {"Allow": ", ".join(allowed)} if allowed else None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:  # pragma: no cover - a bug in the simulator
        app.logger.exception("simulator error")
        return response(Problem("ErroInternoDoServidor", 500, "Unexpected condition."))
