"""Tests of payments.money: exact amounts in reais."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest

from payments.pix.money import (
    InvalidAmount,
    cents_to_decimal,
    cents_to_json,
    format_brl,
    parse_amount,
    reais_to_cents,
)

MAX_CENTS = 100_000_000  # R$ 1,000,000.00, the contract's default PIX_MAX_VALUE


def _json_amount(text: str) -> Any:
    """Return a JSON number or string parsed the way the app parses request bodies."""
    return json.loads(text, parse_float=Decimal)


# --- parse_amount: accepted ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        (1, 100),
        (150, 15000),
        (1_000_000, 100_000_000),
        (Decimal("150.5"), 15050),
        (Decimal("150.50"), 15050),
        (Decimal("0.01"), 1),
        (Decimal("1.500"), 150),
        (Decimal("1E+2"), 10000),
        (Decimal("1.5E+1"), 1500),
        (Decimal("1000000.00"), 100_000_000),
        ("150", 15000),
        ("150.5", 15050),
        ("150.50", 15050),
        ("0.01", 1),
        ("007.50", 750),
        ("1000000.00", 100_000_000),
    ],
)
def test_parse_amount_accepts_exact_amounts(value: object, cents: int) -> None:
    assert parse_amount(value, max_cents=MAX_CENTS) == cents


@pytest.mark.parametrize(
    ("body", "cents"),
    [("150", 15000), ("150.5", 15050), ('"150.50"', 15050), ("1e2", 10000), ("0.1", 10)],
)
def test_parse_amount_accepts_what_the_json_parser_gives(body: str, cents: int) -> None:
    assert parse_amount(_json_amount(body), max_cents=MAX_CENTS) == cents


def test_parse_amount_is_exact_where_floats_are_not() -> None:
    # 0.1 + 0.2 is not 0.3 in binary floating point; in centavos it is.
    total = sum(parse_amount(_json_amount(v), max_cents=MAX_CENTS) for v in ("0.1", "0.2"))
    assert total == parse_amount(_json_amount("0.3"), max_cents=MAX_CENTS) == 30
    assert parse_amount(_json_amount("19.99"), max_cents=MAX_CENTS) == 1999


# --- parse_amount: refused -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        1.5,
        150.0,
        float("nan"),
        0,
        -1,
        Decimal("0"),
        Decimal("0.00"),
        Decimal("-0"),
        Decimal("-1.50"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("1.234"),
        Decimal("1.505"),
        Decimal("0.001"),
        Decimal("1E-999999999"),
        "",
        " 150",
        "150 ",
        "150\n",
        "+150",
        "-150",
        "1,50",
        "1.234",
        "1.",
        ".5",
        "1e2",
        "1E+2",
        "NaN",
        "Infinity",
        "0",
        "0.00",
        "١٢٣",  # Arabic-Indic digits match \d in Python regexes
        "１５０",  # full-width digits
        "1" * 33,
        "12345678901",
        [150],
        {"value": 150},
        b"150",
        object(),
    ],
)
def test_parse_amount_refuses_bad_values(value: object) -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(value, max_cents=MAX_CENTS)
    assert "positive amount in reais with at most two decimal places" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        1_000_001,
        10**400,
        Decimal("1000000.01"),
        Decimal("1E+999999999"),
        Decimal("1" * 60),
        "1000000.01",
        "9999999999.99",
    ],
)
def test_parse_amount_refuses_amounts_above_the_maximum(value: object) -> None:
    with pytest.raises(InvalidAmount, match=r"must not exceed R\$ 1000000\.00$"):
        parse_amount(value, max_cents=MAX_CENTS)


def test_maximum_is_named_with_two_decimals() -> None:
    with pytest.raises(InvalidAmount, match=r"^value must not exceed R\$ 1500\.05$"):
        parse_amount(Decimal("1500.06"), max_cents=150005)
    assert parse_amount(Decimal("1500.05"), max_cents=150005) == 150005


def test_whole_reais_just_above_an_odd_maximum_is_refused() -> None:
    with pytest.raises(InvalidAmount, match="must not exceed"):
        parse_amount(1501, max_cents=150050)
    assert parse_amount(1500, max_cents=150050) == 150000


def test_invalid_amount_is_a_value_error_with_a_message() -> None:
    error = InvalidAmount()
    assert isinstance(error, ValueError)
    assert str(error) == "value must be a positive amount in reais with at most two decimal places"


@pytest.mark.parametrize("max_cents", [0, -100, True, 1.5])
def test_parse_amount_refuses_a_bad_maximum(max_cents: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_amount(1, max_cents=max_cents)


# --- reais_to_cents --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [("110.00", 11000), ("150.5", 15050), ("0.01", 1), ("9999999999.99", 999_999_999_999)],
)
def test_reais_to_cents_reads_the_bank_strings(text: str, cents: int) -> None:
    assert reais_to_cents(text) == cents


@pytest.mark.parametrize("text", ["", "0.00", "-1.00", "1.234", "1,00", "1e2", " 1.00", None, 100])
def test_reais_to_cents_refuses_bad_strings(text: Any) -> None:
    with pytest.raises(InvalidAmount):
        reais_to_cents(text)


# --- cents_to_decimal and cents_to_json ------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (1, "0.01"), (150050, "1500.50"), (15000, "150.00"), (-5, "-0.05")],
)
def test_cents_to_decimal_has_two_places(cents: int, text: str) -> None:
    result = cents_to_decimal(cents)
    assert str(result) == text
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(("cents", "expected"), [(15000, 150), (100, 1), (100_000_000, 1_000_000)])
def test_cents_to_json_gives_an_int_for_whole_reais(cents: int, expected: int) -> None:
    result = cents_to_json(cents)
    assert type(result) is int
    assert result == expected


@pytest.mark.parametrize(("cents", "text"), [(150050, "1500.5"), (1, "0.01"), (99, "0.99")])
def test_cents_to_json_writes_at_most_two_decimals(cents: int, text: str) -> None:
    assert json.dumps(cents_to_json(cents)) == text


def _json_sample() -> list[int]:
    """Return a large sample of amounts: small ones, edges and random ones up to 10**13."""
    rng = random.Random(20261123)
    sample = list(range(1, 20_001))
    sample += [101, 150050, 100_000_000, 99_999_999_999, 10**13 - 1, 10**15 - 1]
    sample += [rng.randrange(1, 10**13) for _ in range(50_000)]
    sample += [rng.randrange(1, 10**8) for _ in range(20_000)]
    return sample


def test_cents_to_json_round_trips_exactly() -> None:
    wrong = [
        c
        for c in _json_sample()
        if json.loads(json.dumps(cents_to_json(c)), parse_float=Decimal) != cents_to_decimal(c)
    ]
    assert wrong == []


def test_cents_to_json_refuses_fractions_too_large_for_a_float() -> None:
    with pytest.raises(ValueError):
        cents_to_json(10**15 + 1)
    assert cents_to_json(10**17) == 10**15


@pytest.mark.parametrize("cents", [1.5, True, Decimal("1"), "100"])
def test_cents_functions_refuse_non_integers(cents: Any) -> None:
    for function in (cents_to_decimal, cents_to_json, format_brl):
        with pytest.raises(TypeError):
            function(cents)


# --- format_brl ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "R$ 0,00"),
        (1, "R$ 0,01"),
        (99, "R$ 0,99"),
        (100, "R$ 1,00"),
        (15050, "R$ 150,50"),
        (150050, "R$ 1.500,50"),
        (100_000, "R$ 1.000,00"),
        (100_000_000, "R$ 1.000.000,00"),
        (123_456_789_012, "R$ 1.234.567.890,12"),
        (-150, "-R$ 1,50"),
    ],
)
def test_format_brl(cents: int, text: str) -> None:
    assert format_brl(cents) == text
