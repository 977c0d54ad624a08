"""``/openapi.json``, generated: body schemas from the pydantic models that check them.

Nothing here describes a body by hand. The routes are listed with their
answers; every request and response body is a model's ``model_json_schema()``,
the one declaration its checks use too. The status machine's statuses come
from ``PaymentStatus`` the same way.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from payments.bank.notices import Notice, PixNotice
from payments.bank.signature import HEADER, TOLERANCE
from payments.charges.models import PaymentStatus
from payments.charges.schemas import (
    CreatePayment,
    Error,
    ListQuery,
    Payment,
    PaymentList,
    PaymentMessage,
    PublicPayment,
)
from payments.charges.views import MAX_WAIT_SECONDS
from payments.patterns import IDEMPOTENCY_KEY as IDEMPOTENCY_PATTERN
from payments.patterns import MAX_BODY, MAX_WEBHOOK_BODY, PUBLIC_ID, QR_CODE_NAME
from payments.pix.brcode import MAX_AMOUNT_CENTS
from payments.pix.money import cents_to_json
from payments.psp.refunds import RefundRequest
from payments.push.notices import PushNotice
from payments.push.subscriptions import MAX_PER_CHARGE, Subscription


class RefundResult(BaseModel):
    """What one settled refund (``devolucoes`` entry ``DEVOLVIDO``) of an item came to."""

    rtrId: str
    status: Annotated[Literal[200, 409], Field(
        description="200 applied (or already), 409 refused by the rules")]
    message: str


class ItemResult(BaseModel):
    """What one item of an API Pix notice came to."""

    endToEndId: str
    txid: str
    status: Annotated[Literal[200, 404, 409, 502, 503], Field(
        description="200 applied (or already), 404 no charge with that txid (with a Pix "
        "provider: the provider knows no such Pix), 409 refused (none of its refunds tried; "
        "or the provider records it otherwise), 502/503 the provider could not confirm it "
        "now: nothing was applied")]
    message: str
    payment: Payment | None
    refunds: list[RefundResult] = Field(
        description="Each settled refund, tried once the Pix is applied; one refused leaves "
                    "the Pix and the others applied")


class PixResults(BaseModel):
    """The answer to an API Pix notice: one result per item, in order."""

    results: list[ItemResult]


class RefundView(BaseModel):
    """A refund asked of the Pix provider."""

    id: str = Field(description="The refund's id at the provider (PUT /pix/{e2eid}/devolucao/{id})")
    value: float
    status: Literal["requested", "processing", "refunded", "failed"] = Field(
        description="requested: stored, the provider did not answer yet (asked again in the "
        "background); processing; refunded (DEVOLVIDO); failed (NAO_REALIZADO)")
    provider_status: Literal["EM_PROCESSAMENTO", "DEVOLVIDO", "NAO_REALIZADO"] | None
    reason: str | None
    created_at: str
    updated_at: str


class RefundMessage(BaseModel):
    """The answer to a refund request."""

    message: str
    refund: RefundView
    payment: Payment


class Health(BaseModel):
    """Whether the app and what it depends on answer."""

    status: Literal["ok", "degraded", "unavailable"]
    database: Literal["ok", "unavailable"]
    message_queue: Literal["ok", "unavailable", "disabled"]
    environment: Literal["sandbox", "production"]
    broker: Literal["ok", "unavailable", "disabled"]  # unavailable: degraded, events wait


class PushKey(BaseModel):
    """The key browsers subscribe with (``applicationServerKey``)."""

    public_key: Annotated[str, Field(description="base64url of the uncompressed P-256 point")]


class PushSubscribed(BaseModel):
    """A stored push subscription."""

    id: Annotated[str, Field(description="What unsubscribes it")]


class PushQueued(BaseModel):
    """The merchant's message, queued."""

    queued: Annotated[int, Field(ge=0, description="Subscriptions it will be pushed to")]


#: The models whose schemas are components, and the largest amount each takes (None: none).
#: A bank notice may carry any amount a BR Code can; a new charge at most ``PIX_MAX_VALUE``.
MODELS: tuple[tuple[type[BaseModel], str, str | None], ...] = (
    (CreatePayment, "validation", "charge"),
    (Notice, "validation", "brcode"),
    (PixNotice, "validation", None),
    (PaymentMessage, "serialization", None),
    (PublicPayment, "serialization", None),
    (PaymentList, "serialization", None),
    (PixResults, "serialization", None),
    (RefundRequest, "validation", "charge"),
    (RefundMessage, "serialization", None),
    (Health, "serialization", None),
    (Subscription, "validation", None),
    (PushNotice, "validation", None),
    (PushKey, "serialization", None),
    (PushSubscribed, "serialization", None),
    (PushQueued, "serialization", None),
    (Error, "serialization", None),
)
REF = "#/components/schemas/{model}"
UNAVAILABLE = "The database is unavailable or locked; nothing was changed, retry later"


def _bound_amounts(node, max_cents: int):
    """Give every amount in ``node`` (marked ``x-max-reais``) the bounds ``max_cents`` sets.

    Whole reais up to the maximum, and decimal text with as many digits as keep
    every value it matches within it: each value the description admits is one
    the API accepts.
    """
    if isinstance(node, list):
        return [_bound_amounts(item, max_cents) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _bound_amounts(value, max_cents) for key, value in node.items()}
    if node.pop("x-max-reais", False):
        whole = max_cents // 100
        if node["type"] == "integer":
            node["maximum"] = cents_to_json(max_cents) if max_cents % 100 else whole
        else:
            digits = max(len(str(whole)) - 1, 1)
            node["pattern"] = (rf"^(?:[1-9][0-9]{{0,{digits - 1}}}(?:\.[0-9]{{1,2}})?"
                               r"|0\.(?:[1-9][0-9]?|0[1-9]))$")
            node["maxLength"] = digits + 3
    return node


def _schemas(max_cents: int) -> dict:
    """Return every component schema, the amounts bounded as each model's route bounds them."""
    schemas: dict = {}
    bounds = {"charge": max_cents, "brcode": MAX_AMOUNT_CENTS, None: max_cents}
    for model, mode, bound in MODELS:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = _bound_amounts(schema, bounds[bound])
    return schemas


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str, **headers: str) -> dict:
    """Return a response whose body is JSON of the component ``name``."""
    response = {"description": description,
                "content": {"application/json": {"schema": _ref(name)}}}
    if headers:
        response["headers"] = {header: {"description": text, "required": True,
                                        "schema": {"type": "string"}}
                               for header, text in headers.items()}
    return response


def _error(description: str, **headers: str) -> dict:
    return _json("Error", description, **headers)


def _html(description: str) -> dict:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


RETRY = "Seconds after which to retry"
#: What every route may answer when the database is down.
DOWN = {"503": _error(UNAVAILABLE, **{"Retry-After": RETRY})}
#: What every route with a JSON body may answer about the body itself.
BODY_ERRORS = {"413": _error("The body is larger than the route accepts"),
               "415": _error("The body is not declared as JSON"), **DOWN}


def _body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _path_id(name: str, pattern: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": f"^{pattern}$"}}


PAYMENT_ID = _path_id("payment_id", PUBLIC_ID.pattern, "The payment's opaque id")
SIGNED = [{}, {"webhookSignature": []}]
#: The merchant routes: an API key (or nothing, in a sandbox without MERCHANT_API_KEYS).
MERCHANT = [{"merchantKey": []}, {}]
MERCHANT_ERRORS = {"401": _error("No API key, or a wrong one (MERCHANT_API_KEYS set)",
                                 **{"WWW-Authenticate": "Bearer"})}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "1-255 printable ASCII characters. A repeat with the same key (per API key) "
    "and the same request within 24 hours gets the first answer again, with "
    "Idempotent-Replayed: true, and changes nothing.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": f"^{IDEMPOTENCY_PATTERN.pattern}$"},
}
#: What a route that asks the Pix provider (PIX_PSP_URL set) may answer when the provider fails.
PROVIDER_ERRORS = {
    "502": _error("The Pix provider refused the request; its problem's title and detail are in "
                  "the message; nothing was changed"),
    "503": _error("The Pix provider (or the database) is unavailable; nothing was changed, retry "
                  "later", **{"Retry-After": RETRY}),
}
IDEMPOTENCY_ERRORS = {
    "409": _error("The first request with this Idempotency-Key is still running",
                  **{"Retry-After": RETRY}),
    "422": _error("This Idempotency-Key was used with another request"),
}
PNG = {
    "200": {"description": "The QR code",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
    "304": {"description": "Not modified (If-None-Match)"},
}


def _query(name: str) -> list[dict]:
    """Return the query parameters of the model ``name`` (its properties, none required)."""
    schema = ListQuery.model_json_schema(ref_template=REF)
    parameters = []
    for field, spec in schema["properties"].items():
        spec = {key: value for key, value in spec.items() if key not in ("title", "default")}
        options = [option for option in spec.pop("anyOf", []) if option != {"type": "null"}]
        if options:  # "X or null": a query parameter is absent instead
            spec.update(options[0])
        parameters.append({"name": field, "in": "query", "required": False,
                           "description": spec.pop("description", field), "schema": spec})
    return parameters


def _paths() -> dict:
    """Return every route of the API with its answers."""
    statuses = [status.value for status in PaymentStatus]
    return {
        "/payments/pix": {"post": {
            "operationId": "createPayment", "summary": "Create a Pix charge (merchant)",
            "security": MERCHANT, "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _body("CreatePayment"),
            "responses": {
                "201": _json("PaymentMessage", "The charge was created (or, replayed, the "
                             "answer to the first request with this Idempotency-Key)",
                             Location="The payment page"),
                "400": _error("A field is missing, malformed or unknown, or malformed JSON"),
                **MERCHANT_ERRORS, **IDEMPOTENCY_ERRORS, **BODY_ERRORS,
                "429": _error("Too many charges created (RATE_LIMIT_CREATE)",
                              **{"Retry-After": RETRY}),
                **PROVIDER_ERRORS,
            },
        }, "get": {
            "operationId": "listPayments",
            "summary": "The merchant's charges, newest first, a page at a time",
            "security": MERCHANT, "parameters": _query("ListQuery"),
            "responses": {"200": _json("PaymentList", "One page"),
                          "400": _error("A parameter is malformed or unknown"),
                          **MERCHANT_ERRORS, **DOWN},
        }},
        "/payments/pix/{payment_id}/cancel": {"post": {
            "operationId": "cancelPayment", "summary": "Cancel a pending charge (merchant)",
            "security": MERCHANT, "parameters": [PAYMENT_ID, IDEMPOTENCY_KEY],
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": {"type": "object", "additionalProperties": False}}}},
            "responses": {
                "200": _json("PaymentMessage", "Canceled, or already canceled"),
                "400": _error("A body other than {}"),
                "404": _error("Unknown payment"),
                "409": _error("The charge is paid, expired, refused or refunded; or the first "
                              "request with this Idempotency-Key is still running"),
                **MERCHANT_ERRORS, **IDEMPOTENCY_ERRORS, **BODY_ERRORS, **PROVIDER_ERRORS,
            },
        }},
        "/payments/pix/{payment_id}/refund": {"post": {
            "operationId": "refundPayment",
            "summary": "Refund a paid charge at the Pix provider, all or a part (merchant)",
            "security": MERCHANT, "parameters": [PAYMENT_ID, IDEMPOTENCY_KEY],
            "requestBody": {"required": False, "content": {"application/json": {
                "schema": _ref("RefundRequest")}}},
            "responses": {
                "200": _json("RefundMessage", "The provider settled the refund at once"),
                "202": _json("RefundMessage", "The provider is processing the refund (or did not "
                             "answer yet: it is asked again in the background)"),
                "400": _error("An unknown field or a bad value"),
                "404": _error("Unknown payment"),
                "409": _error("No Pix provider (static mode), the charge is not paid, or the "
                              "value is more than remains to refund; or the first request with "
                              "this Idempotency-Key is still running"),
                **MERCHANT_ERRORS, **IDEMPOTENCY_ERRORS, **BODY_ERRORS, **PROVIDER_ERRORS,
            },
        }},
        "/payments/pix/{payment_id}/qr.png": {"get": {
            "operationId": "paymentQrPng",
            "summary": "The QR code (PNG) that encodes the payment's pix_code, by its id",
            "parameters": [PAYMENT_ID],
            "responses": {**PNG, "404": _error("Unknown payment"), **DOWN},
        }},
        "/payments/pix/{payment_id}": {"get": {
            "operationId": "paymentPage", "summary": "The customer's payment page (HTML, pt-BR)",
            "parameters": [PAYMENT_ID],
            "responses": {
                "200": _html("The page for the charge's current state"),
                "404": {"description": "Unknown or malformed id: the project's 404 page",
                        "content": {"text/html": {"schema": {"type": "string"}},
                                    "application/json": {"schema": _ref("Error")}}},
                "503": {**_html(UNAVAILABLE), "headers": DOWN["503"]["headers"]},
            },
        }},
        "/payments/pix/{payment_id}/status": {"get": {
            "operationId": "paymentStatus",
            "summary": "The payment object; long polling with wait and status",
            "parameters": [
                PAYMENT_ID,
                {"name": "wait", "in": "query", "required": False,
                 "description": "Hold the answer up to this many seconds while the status "
                 "equals `status`",
                 "schema": {"type": "integer", "minimum": 0, "maximum": MAX_WAIT_SECONDS}},
                {"name": "status", "in": "query", "required": False,
                 "description": "The status the caller already knows",
                 "schema": {"type": "string", "enum": statuses}},
            ],
            "security": [{}, {"merchantKey": []}],
            "responses": {"200": {"description": "The payment object: the merchant's view with "
                                  "a valid API key, else the public view",
                                  "content": {"application/json": {"schema": {
                                      "anyOf": [_ref("Payment"), _ref("PublicPayment")]}}}},
                          "400": _error("Bad wait or status"),
                          "401": _error("A wrong API key"),
                          "404": _error("Unknown payment"), **DOWN},
        }},
        "/payments/pix/{payment_id}/events": {"get": {
            "operationId": "paymentEvents",
            "summary": "Server-Sent Events: `payment_status` with the payment object, first the "
            "current one, then every change",
            "parameters": [PAYMENT_ID],
            "responses": {
                "200": {"description": "An endless event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                "404": _error("Unknown payment"), **DOWN,
            },
        }},
        "/payments/pix/qr_code/{qr_code}": {"get": {
            "operationId": "paymentQrCode",
            "summary": "The QR code (PNG) that encodes the payment's pix_code",
            "parameters": [{"name": "qr_code", "in": "path", "required": True,
                            "schema": {"type": "string"},
                            "example": "qr_code_payment_5e53bbf4-cdf1-4a2f-b137-551c4b462ef1",
                            "description": f"Matches `{QR_CODE_NAME.pattern}`"}],
            "responses": {**PNG, "404": _error("No such QR code"), **DOWN},
        }},
        "/payments/pix/confirmation": {"post": {
            "operationId": "bankNotice",
            "summary": "The bank's webhook: a charge was approved, refused or refunded",
            "security": SIGNED, "requestBody": _body("Notice"),
            "responses": {
                "200": _json("PaymentMessage", "Applied, or the same notice again (no change)"),
                "400": _error("Missing or malformed fields"),
                "401": _error("Bad, missing or stale signature (PIX_WEBHOOK_SECRET set)"),
                "404": _error("Unknown bank_payment_id"),
                "409": _error("Value differs, charge expired, or a move the states forbid"),
                **BODY_ERRORS,
            },
        }},
        "/payments/pix/confirmation/pix": {"post": {
            "operationId": "bankNoticeApiPix",
            "summary": "The bank's webhook in the Banco Central API Pix callback format",
            "security": SIGNED, "requestBody": _body("PixNotice"),
            "responses": {
                "200": _json("PixResults", "Each item applied under the rules of /confirmation"),
                "400": _error("The body is not of the API Pix callback shape"),
                "401": _error("Bad, missing or stale signature (PIX_WEBHOOK_SECRET set)"),
                **BODY_ERRORS,
            },
        }},
        "/health": {"get": {
            "operationId": "health", "summary": "Liveness and readiness",
            "responses": {"200": _json("Health", "The app and its database answer; `degraded`: "
                                                "Redis does not, payments still work"),
                          "503": _json("Health", "The database is down: nothing can be served")},
        }},
        **_push_paths(),
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This description",
            "responses": {"200": {"description": "The OpenAPI 3.1 document",
                                  "content": {"application/json": {
                                      "schema": {"type": "object"}}}}},
        }},
    }


def _push_paths() -> dict:
    """Return the Web Push routes (``payments.push.routes``)."""
    subscription_id = {"name": "subscription_id", "in": "path", "required": True,
                       "description": "The id POST .../push answered",
                       "schema": {"type": "string"}}
    return {
        "/payments/pix/{payment_id}/push": {"get": {
            "operationId": "pushPublicKey",
            "summary": "The VAPID public key browsers subscribe with",
            "parameters": [PAYMENT_ID],
            "responses": {"200": _json("PushKey", "The key"),
                          "404": _error("Unknown payment"), **DOWN},
        }, "post": {
            "operationId": "pushSubscribe",
            "summary": "Push this charge's status changes to a browser (its PushSubscription)",
            "parameters": [PAYMENT_ID], "requestBody": _body("Subscription"),
            "responses": {
                "201": _json("PushSubscribed", "Stored (the same endpoint again: its id)"),
                "400": _error("A field is missing or malformed: endpoint not https (http only "
                              "on loopback in sandbox), p256dh not a P-256 point, auth not 16 "
                              "bytes"),
                "404": _error("Unknown payment"),
                "409": _error(f"The charge is not pending, or has {MAX_PER_CHARGE} "
                              "subscriptions already"),
                **BODY_ERRORS,
            },
        }},
        "/payments/pix/{payment_id}/push/{subscription_id}": {"delete": {
            "operationId": "pushUnsubscribe", "summary": "Stop pushing to one browser",
            "parameters": [PAYMENT_ID, subscription_id],
            "responses": {"204": {"description": "Deleted"},
                          "404": _error("Unknown payment or subscription"), **DOWN},
        }},
        "/payments/pix/{payment_id}/push/notify": {"post": {
            "operationId": "pushNotify",
            "summary": "Push the merchant's own message to the charge's browsers (merchant)",
            "security": MERCHANT, "parameters": [PAYMENT_ID, IDEMPOTENCY_KEY],
            "requestBody": _body("PushNotice"),
            "responses": {
                "202": _json("PushQueued", "Queued for every subscription of the charge"),
                "400": _error("A field is missing, malformed or unknown"),
                "404": _error("Unknown payment"),
                **MERCHANT_ERRORS, **IDEMPOTENCY_ERRORS, **BODY_ERRORS,
            },
        }},
        "/payments/pix/sw.js": {"get": {
            "operationId": "pushServiceWorker",
            "summary": "The pages' service worker (scope /payments/pix/): shows the pushes",
            "responses": {"200": {"description": "The script", "content": {
                "text/javascript": {"schema": {"type": "string"}}}},
                "304": {"description": "Not modified (If-None-Match)"}},
        }},
    }


def build_spec(max_cents: int) -> dict:
    """Return the OpenAPI 3.1 document; ``max_cents`` is the configured largest charge."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PIX payment pages",
            "version": "1.0.0",
            "description": "Create Pix charges, show their pages, and take the bank's notices. "
            "Every error is JSON `{\"message\": ...}`. Bodies: at most "
            f"{MAX_BODY // 1024} KiB for a charge, {MAX_WEBHOOK_BODY // 1024} KiB for a notice.",
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(max_cents),
            "securitySchemes": {"merchantKey": {
                "type": "http", "scheme": "bearer",
                "description": "One of MERCHANT_API_KEYS: `Authorization: Bearer <key>`.",
            }, "webhookSignature": {
                "type": "apiKey", "in": "header", "name": HEADER,
                "description": "`t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with PIX_WEBHOOK_SECRET "
                f"over `<t>.` + the raw body; at most {TOLERANCE} s old. Required when "
                "the secret is set.",
            }},
        },
    }
