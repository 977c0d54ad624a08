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


def where(loc: tuple) -> str:
    """Return a location as the messages name it: ``("pix", 1, "valor")`` -> ``pix[1].valor``."""
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
