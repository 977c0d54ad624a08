"""Domain errors and the one error shape: JSON ``{"message": ...}`` (HTML for pages)."""

from flask import Flask, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from payments.extensions import db

#: Seconds a client (the bank, a page) should wait before retrying while the database is down.
DATABASE_RETRY_AFTER = 5

#: Errors that mean "the database is unreachable, locked or busy", not "the request is wrong".
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)

# pt-BR titles for the HTML error page; JSON messages stay in English.
_PAGE_TEXT = {
    404: ("Página não encontrada", "O endereço que você abriu não existe."),
    405: ("Ação não permitida", "Este endereço não aceita esse tipo de pedido."),
    429: ("Muitas tentativas", "Aguarde um pouco e tente de novo."),
    503: ("Serviço indisponível", "Estamos com uma instabilidade. Tente de novo em instantes."),
}


class PaymentError(Exception):
    """A request the rules refuse; ``status_code`` says how."""

    status_code = 400
    #: Headers the answer carries (``WWW-Authenticate``, ``Retry-After``).
    headers: dict[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PaymentError):
    """The input is malformed or out of range."""


class Unauthorized(PaymentError):
    """The request could not be authenticated (a webhook's signature does not hold)."""

    status_code = 401


class NeedsApiKey(Unauthorized):
    """A merchant route called without a valid API key."""

    headers = {"WWW-Authenticate": 'Bearer realm="payments"'}


class UnprocessableEntity(PaymentError):
    """A request that reuses an idempotency key with another body."""

    status_code = 422


class NotFound(PaymentError):
    """No such payment."""

    status_code = 404


class Conflict(PaymentError):
    """The input is well-formed but the payment's state does not allow it."""

    status_code = 409


def wants_html() -> bool:
    """Tell whether this request should get an HTML page rather than JSON."""
    if request.endpoint in HTML_ENDPOINTS:
        return True
    if request.endpoint is not None or request.method != "GET":
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


#: Endpoints that answer with pages; every other route answers JSON.
HTML_ENDPOINTS = {"pix.page"}


def _page(code: int, title: str, description: str):
    if code == 404 and request.endpoint in HTML_ENDPOINTS:  # a payment's page: no such payment
        return render_template("errors/payment_not_found.html"), 404
    page = render_template("errors/error.html", code=code, title=title, description=description)
    return page, code


def register(app: Flask) -> None:
    """Install the handlers that give every error the contract's shape."""

    @app.errorhandler(PaymentError)
    def payment_error(exc: PaymentError):
        if wants_html():
            title, description = _PAGE_TEXT.get(exc.status_code, (exc.message, ""))
            return _page(exc.status_code, title, description)
        return {"message": exc.message}, exc.status_code, exc.headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if wants_html():
            title, description = _PAGE_TEXT.get(code, (exc.name, ""))
            response = app.make_response(_page(code, title, description))
        else:
            response = app.make_response(({"message": exc.description or exc.name}, code))
        original = exc.get_response().headers  # what werkzeug would have sent
        for header in ("Allow", "Retry-After"):
            if original.get(header):
                response.headers[header] = original[header]
        return response

    def database_unavailable(exc: Exception):
        # 503 + Retry-After: the bank retries its notice later; nothing was applied.
        try:
            db.session.rollback()
        except Exception:  # the connection may be gone; the session is discarded anyway
            pass
        reason = getattr(exc, "orig", None) or exc
        app.logger.error(
            "database unavailable on %s %s: %s: %s", request.method, request.path,
            type(reason).__name__, str(reason).splitlines()[0] if str(reason) else "",
        )
        if wants_html():
            response = app.make_response(_page(503, *_PAGE_TEXT[503]))
        else:
            message = "The database is unavailable; nothing was changed, retry later"
            response = app.make_response(({"message": message}, 503))
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_html():
            return _page(500, "Erro inesperado", "Tente de novo em instantes.")
        return {"message": "Internal error; the request was not applied"}, 500
