"""The OpenAPI 3 description of the contract's routes: the one source of ``/openapi.json``."""

from copy import deepcopy

from .money import cents_to_json

STATUSES = ["pending", "paid", "expired", "refused", "refunded"]
PUBLIC_ID_PATTERN = "^[A-Za-z0-9_-]{16,64}$"
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
AMOUNT_TEXT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
TIME = {"type": "string", "format": "date-time", "example": "2026-11-23T10:00:00Z"}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    """Return a response whose body is JSON of ``schema``."""
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str) -> dict:
    return _json(_ref("schemas", "Error"), description)


def _html(description: str) -> dict:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _retry(description: str, html: bool = False) -> dict:
    """Return a response that tells the client to retry after ``Retry-After`` seconds."""
    response = _html(description) if html else _error(description)
    response["headers"] = {"Retry-After": _ref("headers", "RetryAfter")}
    return response


UNAVAILABLE = "The database is unavailable or locked; nothing was changed, retry later"
SIGNATURE = [{}, {"webhookSignature": []}]
JSON_BODY_ERRORS = {
    "413": _error("The body is larger than the server accepts (64 KiB for a charge)"),
    "415": _error("The body is not declared as JSON"),
    "503": _retry(UNAVAILABLE),
}


def _amount(max_value: int | float) -> dict:
    """Return the schema of an amount in reais: a number or a decimal string."""
    return {
        "description": "Reais with at most two decimal places: a number or a decimal string "
        "(150, 150.5, \"150.50\"). Never read as a binary float.",
        "anyOf": [
            {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": max_value},
            {"type": "string", "pattern": AMOUNT_TEXT_PATTERN, "maxLength": 13},
        ],
    }


def _components(max_value: int | float) -> dict:
    payment = {
        "type": "object",
        "required": ["id", "value", "status", "paid", "bank_payment_id", "txid", "qr_code",
                     "qr_code_url", "pix_code", "page_url", "created_at", "expiration_date",
                     "paid_at"],
        "properties": {
            "id": {"type": "string", "pattern": PUBLIC_ID_PATTERN,
                   "description": "Opaque, unguessable id (128 random bits)"},
            "value": {"type": "number", "minimum": 0, "exclusiveMinimum": True,
                      "description": "Reais, at most two decimals"},
            "status": {"type": "string", "enum": STATUSES},
            "paid": {"type": "boolean", "description": "True exactly when status is paid"},
            "bank_payment_id": {"type": "string", "pattern": UUID_PATTERN},
            "txid": {"type": "string", "pattern": "^[A-Za-z0-9]{1,25}$"},
            "qr_code": {"type": "string"},
            "qr_code_url": {"type": "string"},
            "pix_code": {"type": "string", "maxLength": 512,
                         "description": "Static Pix BR Code (copia e cola) with its CRC16"},
            "page_url": {"type": "string"},
            "created_at": TIME,
            "expiration_date": TIME,
            "paid_at": {**TIME, "nullable": True},
        },
    }
    with_payment = {
        "type": "object",
        "required": ["message", "payment"],
        "properties": {"message": {"type": "string"}, "payment": _ref("schemas", "Payment")},
    }
    return {
        "schemas": {
            "Payment": payment,
            "PaymentMessage": with_payment,
            "Error": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string", "description": "What is wrong"}},
            },
            "Amount": _amount(max_value),
        },
        "headers": {
            "RetryAfter": {
                "description": "Seconds (or an HTTP date) after which to retry",
                "required": True,
                "schema": {"type": "string"},
            },
        },
        "securitySchemes": {
            "webhookSignature": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Webhook-Signature",
                "description": "`t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with PIX_WEBHOOK_SECRET "
                "over `<t>.` + the raw body; at most 300 s old. Required when the secret is set.",
            },
        },
    }


def _payment_id(description: str = "The payment's opaque id") -> dict:
    return {"name": "payment_id", "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": PUBLIC_ID_PATTERN}}


def _create() -> dict:
    return {
        "post": {
            "operationId": "createPayment",
            "summary": "Create a Pix charge",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["value"],
                    "properties": {"value": _ref("schemas", "Amount")},
                }}},
            },
            "responses": {
                "201": _json(_ref("schemas", "PaymentMessage"), "The charge was created", {
                    "Location": {"description": "The payment page", "required": True,
                                 "schema": {"type": "string"}},
                }),
                "400": _error("Bad or missing value, or malformed JSON"),
                **JSON_BODY_ERRORS,
                "429": _retry("Too many charges created from this address (RATE_LIMIT_CREATE)"),
            },
        }
    }


def _page() -> dict:
    return {
        "get": {
            "operationId": "paymentPage",
            "summary": "The customer's payment page (HTML, pt-BR)",
            "parameters": [_payment_id()],
            "responses": {
                "200": _html("The page for the charge's current state"),
                "404": {
                    "description": "Unknown or malformed id: the project's 404 page (a path "
                    "that decodes into another route answers that route's JSON 404)",
                    "content": {"text/html": {"schema": {"type": "string"}},
                                "application/json": {"schema": _ref("schemas", "Error")}},
                },
                "503": _retry(UNAVAILABLE, html=True),
            },
        }
    }


def _status() -> dict:
    return {
        "get": {
            "operationId": "paymentStatus",
            "summary": "The payment object; long polling with wait and status",
            "parameters": [
                _payment_id(),
                {"name": "wait", "in": "query", "required": False,
                 "description": "Hold the answer up to this many seconds while the status "
                 "equals `status`",
                 "schema": {"type": "integer", "minimum": 0, "maximum": 30}},
                {"name": "status", "in": "query", "required": False,
                 "description": "The status the caller already knows",
                 "schema": {"type": "string", "enum": STATUSES}},
            ],
            "responses": {
                "200": _json(_ref("schemas", "Payment"), "The payment object"),
                "400": _error("Bad wait or status"),
                "404": _error("Unknown payment"),
                "503": _retry(UNAVAILABLE),
            },
        }
    }


def _events() -> dict:
    return {
        "get": {
            "operationId": "paymentEvents",
            "summary": "Server-Sent Events: `payment_status` with the payment object, first the "
            "current one, then every change",
            "parameters": [_payment_id()],
            "responses": {
                "200": {"description": "An endless event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                "404": _error("Unknown payment"),
                "503": _retry(UNAVAILABLE),
            },
        }
    }


def _qr_code() -> dict:
    return {
        "get": {
            "operationId": "paymentQrCode",
            "summary": "The QR code (PNG) that encodes the payment's pix_code",
            "parameters": [{"name": "qr_code", "in": "path", "required": True,
                            "schema": {"type": "string"},
                            "example": "qr_code_payment_5e53bbf4-cdf1-4a2f-b137-551c4b462ef1"}],
            "responses": {
                "200": {"description": "The QR code",
                        "content": {"image/png": {"schema": {"type": "string",
                                                             "format": "binary"}}}},
                "304": {"description": "Not modified (If-None-Match)"},
                "404": _error("No such QR code"),
                "503": _retry(UNAVAILABLE),
            },
        }
    }


def _confirmation() -> dict:
    notice = {
        "type": "object",
        "required": ["bank_payment_id", "value"],
        "properties": {
            "bank_payment_id": {"type": "string", "pattern": UUID_PATTERN},
            "value": _ref("schemas", "Amount"),
            "status": {"type": "string", "enum": ["approved", "refused", "refunded"],
                       "default": "approved"},
        },
    }
    return {
        "post": {
            "operationId": "bankNotice",
            "summary": "The bank's webhook: a charge was approved, refused or refunded",
            "security": SIGNATURE,
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": notice}}},
            "responses": {
                "200": _json(_ref("schemas", "PaymentMessage"),
                             "Applied, or the same notice again (nothing changes)"),
                "400": _error("Missing or malformed fields"),
                "401": _error("Bad, missing or stale signature (PIX_WEBHOOK_SECRET set)"),
                "404": _error("Unknown bank_payment_id"),
                "409": _error("Value differs, charge expired, or a move the states forbid"),
                **JSON_BODY_ERRORS,
            },
        }
    }


def _confirmation_pix() -> dict:
    item = {
        "type": "object",
        "required": ["endToEndId", "txid", "valor"],
        "properties": {
            "endToEndId": {"type": "string", "example": "E00000000202611231005abcdefghijk"},
            "txid": {"type": "string", "pattern": "^[A-Za-z0-9]{1,25}$"},
            "valor": {"type": "string", "pattern": AMOUNT_TEXT_PATTERN},
            "horario": {"type": "string", "format": "date-time"},
        },
    }
    results = {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {
            "type": "array",
            "description": "One result per item of `pix`, in order",
            "items": {"type": "object"},
        }},
    }
    return {
        "post": {
            "operationId": "bankNoticeApiPix",
            "summary": "The bank's webhook in the Banco Central API Pix callback format",
            "security": SIGNATURE,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["pix"],
                "properties": {"pix": {"type": "array", "items": item}},
            }}}},
            "responses": {
                "200": _json(results, "Each item applied under the rules of /confirmation"),
                "400": _error("The body is not of the API Pix callback shape"),
                "401": _error("Bad, missing or stale signature (PIX_WEBHOOK_SECRET set)"),
                **JSON_BODY_ERRORS,
            },
        }
    }


def _health() -> dict:
    health = {
        "type": "object",
        "required": ["status", "database", "message_queue"],
        "properties": {
            "status": {"type": "string"},
            "database": {"type": "string"},
            "message_queue": {"type": "string"},
        },
    }
    return {
        "get": {
            "operationId": "health",
            "summary": "Liveness and readiness",
            "responses": {
                "200": _json(health, "The app and its dependencies answer"),
                "503": _json(health, "A dependency is down"),
            },
        }
    }


def _self() -> dict:
    return {
        "get": {
            "operationId": "openapi",
            "summary": "This description",
            "responses": {"200": _json({"type": "object"}, "The OpenAPI 3 document")},
        }
    }


def build_spec(max_cents: int) -> dict:
    """Return the OpenAPI 3 document; ``max_cents`` is the configured largest charge."""
    return deepcopy({
        "openapi": "3.0.3",
        "info": {
            "title": "PIX payment pages",
            "version": "1.0.0",
            "description": "Create Pix charges, show their pages, and take the bank's notices. "
            "Every error is JSON `{\"message\": ...}`.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/payments/pix": _create(),
            "/payments/pix/{payment_id}": _page(),
            "/payments/pix/{payment_id}/status": _status(),
            "/payments/pix/{payment_id}/events": _events(),
            "/payments/pix/qr_code/{qr_code}": _qr_code(),
            "/payments/pix/confirmation": _confirmation(),
            "/payments/pix/confirmation/pix": _confirmation_pix(),
            "/health": _health(),
            "/openapi.json": _self(),
        },
        "components": _components(cents_to_json(max_cents)),
    })
