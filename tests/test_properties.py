"""Property tests: the money parser and the BR Code builder under generated input."""

import json
import string
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from payments.pix import brcode as pix
from payments.pix import money

MAX_CENTS = 100_000_000  # the default PIX_MAX_VALUE, R$ 1.000.000,00

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.from_regex(r"-?[0-9]{0,12}(\.[0-9]{0,4})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)


@settings(max_examples=500)
@given(value=json_values, max_cents=st.integers(1, 10**13))
def test_parse_amount_gives_cents_in_range_or_invalid_amount(value, max_cents):
    try:
        cents = money.parse_amount(value, max_cents=max_cents)
    except money.InvalidAmount:
        return
    assert type(cents) is int
    assert 1 <= cents <= max_cents


json_numbers = st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,6})?([eE][+-]?[0-9]{1,4})?",
                             fullmatch=True)


@settings(max_examples=300)
@given(body=json_numbers | st.text(max_size=40))
def test_parse_amount_of_any_json_text_never_raises_anything_else(body):
    """Read ``{"value": <body>}`` as the app reads JSON: cents or InvalidAmount, nothing else."""
    try:
        value = json.loads(body, parse_float=Decimal)
    except ValueError:
        value = body  # not JSON: then it is a string value
    try:
        cents = money.parse_amount(value, max_cents=MAX_CENTS)
    except money.InvalidAmount:
        return
    assert type(cents) is int and 1 <= cents <= MAX_CENTS


@given(cents=st.integers(1, MAX_CENTS))
def test_valid_amounts_round_trip(cents):
    text = str(money.cents_to_decimal(cents))
    assert money.parse_amount(text, max_cents=MAX_CENTS) == cents
    assert money.parse_amount(Decimal(text), max_cents=MAX_CENTS) == cents
    # What the API answers as "value", read back as a client's JSON, is the same amount.
    wire = json.dumps({"value": money.cents_to_json(cents)})
    assert money.parse_amount(json.loads(wire, parse_float=Decimal)["value"],
                              max_cents=MAX_CENTS) == cents


@given(cents=st.integers(MAX_CENTS + 1, 10**14))
def test_amounts_over_the_maximum_are_refused(cents):
    text = str(money.cents_to_decimal(cents))
    for value in (text, Decimal(text)):
        try:
            money.parse_amount(value, max_cents=MAX_CENTS)
        except money.InvalidAmount:
            continue
        raise AssertionError(f"{value!r} accepted above the maximum")


# --- BR Code ---------------------------------------------------------------------------------


def _check_digit(digits: str, weights) -> str:
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    return str(0 if total % 11 < 2 else 11 - total % 11)


@st.composite
def cpfs(draw) -> str:
    digits = draw(st.text("0123456789", min_size=9, max_size=9))
    digits += _check_digit(digits, range(10, 1, -1))
    return digits + _check_digit(digits, range(11, 1, -1))


@st.composite
def cnpjs(draw) -> str:
    weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    digits = draw(st.text("0123456789", min_size=12, max_size=12))
    digits += _check_digit(digits, weights[1:])
    return digits + _check_digit(digits, weights)


label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
emails = st.builds(lambda user, host, tld: f"{user}@{host}.{tld}",
                   st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=30),
                   label, st.sampled_from(["com", "com.br", "org", "net"]))
phones = st.from_regex(r"\+55[1-9][0-9]{9,10}", fullmatch=True)
random_keys = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
pix_keys = cpfs() | cnpjs() | emails | phones | random_keys
txids = st.from_regex(r"[A-Za-z0-9]{1,25}", fullmatch=True)


def _printable(text: str) -> bool:
    try:
        pix.ascii_text(text, 25)
    except ValueError:
        return False
    return True


names = st.text(max_size=60).filter(_printable) | st.sampled_from(
    ["José da Silva Ltda", "Padaria São João", "Café & Crème", "Łódź ŻÓŁW", "日本 Shop 1"])


@settings(max_examples=300)
@given(key=pix_keys, name=names, city=names, cents=st.integers(1, pix.MAX_AMOUNT_CENTS),
       txid=txids)
def test_every_built_brcode_parses_strictly_with_its_crc(key, name, city, cents, txid):
    assume(len(key) <= 77)
    payload = pix.build_brcode(key=key, name=name, city=city, amount_cents=cents, txid=txid)
    assert len(payload) <= pix.MAX_PAYLOAD_LENGTH
    assert payload.isascii() and payload.isprintable()
    code = pix.parse_brcode(payload, strict=True)
    assert code.crc == pix.crc16(payload[:-4])
    assert code.amount_cents == cents
    assert code.txid == txid
    assert code.key == pix.normalize_pix_key(key)
    assert code.name == pix.ascii_text(name, pix.MAX_NAME_LENGTH)
    assert code.city == pix.ascii_text(city, pix.MAX_CITY_LENGTH)

