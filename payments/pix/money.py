"""Exact money in Brazilian reais: integer centavos inside, decimals at the edges.

Pure Python, no Flask. Floats never carry an amount into the app: JSON is parsed with
``parse_float=Decimal`` and ``cents_to_json`` is the only place a float appears, on the way out.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = [
    "InvalidAmount",
    "cents_to_decimal",
    "cents_to_json",
    "format_brl",
    "parse_amount",
    "reais_to_cents",
]

AMOUNT_MESSAGE = "value must be a positive amount in reais with at most two decimal places"
MAX_TEXT_LENGTH = 32
# Below 10**15 centavos an amount has at most 15 significant digits (DBL_DIG), so a float
# keeps it exactly enough for its shortest repr to be that same two-decimal number.
MAX_JSON_FLOAT_CENTS = 10**15

_REAIS_TEXT = re.compile(r"([0-9]{1,10})(?:\.([0-9]{1,2}))?", re.ASCII)


class InvalidAmount(ValueError):
    """An amount that is not a positive number of reais with at most two decimals."""

    def __init__(self, message: str = AMOUNT_MESSAGE) -> None:
        super().__init__(message)


def _check_cents(cents: int) -> None:
    """Raise TypeError unless cents is an int (and not a bool)."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, got {type(cents).__name__}")


def _two_places(cents: int) -> str:
    """Return integer centavos as a decimal string with two places, e.g. ``"-1500.50"``."""
    sign = "-" if cents < 0 else ""
    reais, rest = divmod(abs(cents), 100)
    return f"{sign}{reais}.{rest:02d}"


def cents_to_decimal(cents: int) -> Decimal:
    """Return integer centavos as an exact Decimal with two places."""
    _check_cents(cents)
    return Decimal(_two_places(cents))


def cents_to_json(cents: int) -> int | float:
    """Return centavos as the JSON number for ``value``: an int for whole reais, else a float.

    This is exact, not an approximation: an amount below 10**15 centavos has at most 15
    significant digits, and IEEE doubles keep 15 (DBL_DIG), so the float's shortest repr,
    which ``json.dumps`` writes, is exactly the two-decimal number (``1500.5`` for 150050).
    The app's maximum is far below that bound. Use it only at the JSON edge, never for
    arithmetic.
    """
    _check_cents(cents)
    if cents % 100 == 0:
        return cents // 100
    if abs(cents) >= MAX_JSON_FLOAT_CENTS:
        raise ValueError("amount too large to write exactly as a JSON number with decimals")
    # float() of the text rounds correctly, as float(Decimal) does, without creating a
    # decimal context in the caller's context: one per WebSocket page, for its whole life.
    return float(_two_places(cents))


def format_brl(cents: int) -> str:
    """Return centavos in the Brazilian format, e.g. ``R$ 1.500,50``."""
    _check_cents(cents)
    sign = "-" if cents < 0 else ""
    reais, rest = divmod(abs(cents), 100)
    return f"{sign}R$ {reais:,}".replace(",", ".") + f",{rest:02d}"


def reais_to_cents(text: str) -> int:
    """Return a positive decimal string of reais (``"150.50"``) as integer centavos."""
    if not isinstance(text, str) or len(text) > MAX_TEXT_LENGTH:
        raise InvalidAmount()
    match = _REAIS_TEXT.fullmatch(text)
    if match is None:
        raise InvalidAmount()
    reais, decimals = match.group(1), match.group(2) or ""
    cents = int(reais) * 100 + int(decimals.ljust(2, "0") or "0")
    if cents <= 0:
        raise InvalidAmount()
    return cents


def _decimal_to_cents(value: Decimal, max_cents: int) -> int:
    """Return a finite positive Decimal as centavos, checking the maximum before any scaling."""
    if not value.is_finite() or value <= 0:
        raise InvalidAmount()
    if value > Decimal(f"{max_cents}E-2"):
        raise _too_large(max_cents)
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # unreachable for finite values; keeps types exact
        raise InvalidAmount()
    coefficient = "".join(map(str, digits))
    stripped = coefficient.rstrip("0")
    exponent += len(coefficient) - len(stripped)
    if exponent < -2:
        raise InvalidAmount()
    return int(stripped or "0") * 10 ** (exponent + 2)


def _too_large(max_cents: int) -> InvalidAmount:
    """Return the error for an amount above the maximum, naming it in reais."""
    return InvalidAmount(f"value must not exceed R$ {cents_to_decimal(max_cents)}")


def parse_amount(value: object, *, max_cents: int) -> int:
    """Return a JSON amount (int, Decimal or decimal string) as centavos within 1..max_cents."""
    _check_cents(max_cents)
    if max_cents <= 0:
        raise ValueError("max_cents must be positive")
    if isinstance(value, bool):
        raise InvalidAmount()
    if isinstance(value, int):
        if value <= 0:
            raise InvalidAmount()
        if value > max_cents // 100:
            raise _too_large(max_cents)
        cents = value * 100
    elif isinstance(value, Decimal):
        cents = _decimal_to_cents(value, max_cents)
    elif isinstance(value, str):
        cents = reais_to_cents(value)
    else:
        raise InvalidAmount()
    if cents > max_cents:
        raise _too_large(max_cents)
    return cents
