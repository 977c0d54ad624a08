"""Read request bodies strictly: JSON objects with exact decimals, or a clear 4xx."""

import json
from decimal import Decimal

from flask import request
from werkzeug.exceptions import UnsupportedMediaType

from payments.errors import BadRequest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(raw: bytes) -> dict:
    """Parse ``raw`` as a JSON object, decimals as ``Decimal``.

    :raise BadRequest: not UTF-8, not JSON, or not an object.
    """
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError, UnicodeDecodeError and huge integers.
        raise BadRequest("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object")
    return data


def json_object() -> dict:
    """Return the request's JSON object body.

    :raise UnsupportedMediaType: the body is not declared as JSON.
    :raise BadRequest: the body is not a JSON object.
    """
    if not request.is_json:
        raise UnsupportedMediaType("The request body must be JSON (Content-Type: application/json)")
    return parse_json_object(request.get_data(cache=True))
