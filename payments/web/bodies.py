"""Request bodies declared once, as pydantic models: they check the input and describe it.

``parse(Model, data)`` validates a JSON object and turns the first problem into
the one error shape, ``400 {"message": "pix[1].valor must be ..."}``; the same
models give ``/openapi.json`` its schemas (``payments.apidoc.openapi``).
Validators raise ``invalid(...)`` with the text that follows the field's name.
"""

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ValidationError, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from payments.errors import BadRequest
from payments.pix.money import InvalidAmount, parse_amount

Model = TypeVar("Model", bound=BaseModel)


def invalid(text: str) -> PydanticCustomError:
    """Return the validation error whose message is ``<field> <text>``."""
    return PydanticCustomError("invalid", text)


#: Pydantic's error types, in our words (what follows the field's name).
WORDS = {
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_pattern_mismatch": "must match {pattern}",
}


def where(loc: tuple) -> str:
    """Return a location as the messages name it: ``("pix", 1, "valor")`` -> ``pix[1].valor``.

    A mapping's key (pydantic's ``[key]``) is named ``a key of <mapping>``.
    """
    if loc and loc[-1] == "[key]":
        return f"a key of {where(loc[:-2])}"
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def message(exc: ValidationError) -> str:
    """Return the first problem of ``exc`` as one sentence naming the field."""
    error = exc.errors(include_url=False)[0]
    field = where(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"Missing field: {field}"
    if kind == "extra_forbidden":
        return f"Unknown field: {field}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{field} must be an object" if field else "The request body must be a JSON object"
    if kind == "literal_error":
        return f"{field} must be one of: " + error["ctx"]["expected"].replace("'", "")\
            .replace(" or ", ", ")
    if kind == "invalid":
        return f"{field} {error['msg']}"
    if kind in ("too_short", "too_long") and isinstance(error.get("input"), str):
        kind = f"string_{kind}"  # a length constraint met by a string: characters
    if kind == "string_too_short" and error.get("ctx", {}).get("min_length") == 1:
        return f"{field} must not be empty"
    if kind == "enum":
        return f"{field} must be one of: " + error["ctx"]["expected"].replace("'", "")\
            .replace(" or ", ", ")
    if kind in WORDS:
        return f"{field} " + WORDS[kind].format(**error.get("ctx", {}))
    return f"{field}: {error['msg']}"


def parse(model: type[Model], data: Any, **context: Any) -> Model:
    """Return ``data`` validated as ``model``; ``context`` reaches the validators.

    :raise BadRequest: naming the first field that does not hold.
    """
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise BadRequest(message(exc)) from None


def _amount(value: Any, info: ValidationInfo) -> int:
    """Return a JSON amount as centavos, within ``max_cents`` of the validation context."""
    try:
        return parse_amount(value, max_cents=(info.context or {})["max_cents"])
    except InvalidAmount as exc:
        raise invalid(str(exc).removeprefix("value ")) from None


#: Reais as a JSON number or decimal string, at most two places, stored as integer centavos.
#: The JSON Schema gives the number form as whole reais and the text form: every value it
#: describes is accepted (binary floats cannot say "two decimals"); ``150.5`` is accepted too.
#: ``x-max-reais`` marks where ``/openapi.json`` writes the route's bounds (the configured
#: maximum, or a BR Code's): see ``payments.apidoc.openapi``.
Amount = Annotated[
    int,
    BeforeValidator(_amount),
    WithJsonSchema({
        "description": "Reais with at most two decimal places: a number or a decimal string "
        '(150, 150.5, "150.50"); never read as a binary float.',
        "anyOf": [
            {"type": "integer", "minimum": 1, "x-max-reais": True},
            {"type": "string", "x-max-reais": True},
        ],
    }),
]
