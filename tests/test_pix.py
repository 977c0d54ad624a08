"""Tests of payments.pix: BR Code building, parsing and Pix key validation."""

from __future__ import annotations

import binascii
import json
import string
from pathlib import Path
from typing import Any

import pytest

from payments.pix.brcode import (
    BRCode,
    BRCodeError,
    InvalidPixKey,
    ascii_text,
    build_brcode,
    crc16,
    encode_fields,
    new_txid,
    normalize_pix_key,
    parse_brcode,
)

#: Public BR Code examples with their sources (tests/data/README.md).
VECTORS_PATH = Path(__file__).resolve().parent / "data" / "brcode_vectors.json"
VECTOR_KEYS = {"id", "payload", "expect", "source", "note", "error_contains"}
VECTOR_OPTIONS = {"allow_non_ascii", "strict"}

EVP = "123e4567-e12b-12d1-a456-426655440000"
CPF = "12345678909"
CNPJ = "11222333000181"


VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]
VALID = [v for v in VECTORS if v["expect"] == "valid"]
INVALID = [v for v in VECTORS if v["expect"] == "invalid"]


def _require_vectors() -> None:
    """Fail unless the repository's vector file holds both kinds of example."""
    assert VALID and INVALID, f"no BR Code vectors in {VECTORS_PATH}"


def _options(vector: dict[str, Any]) -> dict[str, bool]:
    """Return the parser options a vector asks for, failing on keys this test does not know."""
    unknown = set(vector) - VECTOR_KEYS - VECTOR_OPTIONS
    assert not unknown, f"vector {vector['id']} has keys this test ignores: {sorted(unknown)}"
    return {name: bool(vector[name]) for name in VECTOR_OPTIONS if name in vector}


def _params(vectors: list[dict[str, Any]]) -> list[Any]:
    """Return pytest params for vectors, or one placeholder that skips when there are none."""
    if not vectors:
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(v, id=v["id"]) for v in vectors]


def _crc_over(body: str) -> str:
    """Return the CRC a BR Code body needs, computed over its UTF-8 bytes independently."""
    return f"{binascii.crc_hqx(body.encode('utf-8'), 0xFFFF):04X}"


# --- Vectors ---------------------------------------------------------------------------------


def test_vector_file_has_the_documented_counts() -> None:
    _require_vectors()
    assert (len(VALID), len(INVALID)) == (24, 33)


@pytest.mark.parametrize("vector", _params(VALID))
def test_valid_vector_parses(vector: dict[str, Any] | None) -> None:
    _require_vectors()
    assert vector is not None
    code = parse_brcode(vector["payload"], **_options(vector))
    assert isinstance(code, BRCode)
    assert code.fields["00"] == "01"
    assert code.merchant_account["00"].lower() == "br.gov.bcb.pix"
    assert code.crc == vector["payload"][-4:]
    assert code.txid is not None


@pytest.mark.parametrize("vector", _params(VALID))
def test_valid_vector_reencodes_to_the_original(vector: dict[str, Any] | None) -> None:
    _require_vectors()
    assert vector is not None
    code = parse_brcode(vector["payload"], **_options(vector))
    fields = dict(code.fields)
    assert list(fields)[-1] == "63"
    del fields["63"]
    body = encode_fields(fields) + "6304"
    assert body + _crc_over(body) == vector["payload"]
    for sub in (code.merchant_account, code.additional_data):
        assert encode_fields(sub) in vector["payload"]


@pytest.mark.parametrize("vector", _params(INVALID))
def test_invalid_vector_is_rejected_for_its_reason(vector: dict[str, Any] | None) -> None:
    _require_vectors()
    assert vector is not None
    with pytest.raises(BRCodeError) as caught:
        parse_brcode(vector["payload"], **_options(vector))
    assert vector.get("error_contains", "") in str(caught.value)


@pytest.mark.parametrize(
    ("vector_id", "field", "expected"),
    [
        ("bcb_manual_static", "key", EVP),
        ("bcb_manual_static", "amount_cents", None),
        ("bcb_manual_static", "name", "Fulano de Tal"),
        ("bcb_manual_static", "city", "BRASILIA"),
        ("bcb_manual_static", "txid", "***"),
        ("bcb_manual_static", "point_of_initiation", None),
        ("bcb_manual_dynamic", "url", "pix.example.com/8b3da2f39a4140d1a91abd93113bd441"),
        ("bcb_manual_dynamic", "key", None),
        ("bcb_manual_dynamic", "point_of_initiation", "12"),
        ("bcb_manual_composite_static_value", "amount_cents", 10050),
        ("stone_amount_10_dot", "amount_cents", 1000),
        ("stone_amount_10_dot", "key", "11111111111"),
        ("stone_static_postal", "amount_cents", 1),
        ("stone_static_postal", "postal_code", "11111111"),
        ("stone_static_postal", "txid", "NUgpnvaS87Ts"),
        ("issue_sanlim6_working", "amount_cents", 132680),
        ("issue_sanlim6_working", "description", "REF 08/2021 | MATRIC 200001000025"),
        ("thalesog_static_amount", "key", "thalesog@me.com"),
        ("forum_minigui_cpf", "key", "57946663234"),
        ("stark_static", "txid", "verylongreconciliationidt"),
        ("stone_city_accent_lenient", "city", "BRASÍLIA"),
    ],
)
def test_vector_fields_are_extracted(vector_id: str, field: str, expected: object) -> None:
    _require_vectors()
    vector = next(v for v in VECTORS if v["id"] == vector_id)
    code = parse_brcode(vector["payload"], **_options(vector))
    assert getattr(code, field) == expected


def test_amount_without_two_decimals_is_rejected_in_strict_mode() -> None:
    _require_vectors()
    vector = next(v for v in VECTORS if v["id"] == "stone_amount_10_dot")
    with pytest.raises(BRCodeError, match="amount"):
        parse_brcode(vector["payload"], strict=True)


# --- CRC and TLV -----------------------------------------------------------------------------


def test_crc16_matches_the_check_value_of_ccitt_false() -> None:
    assert crc16("123456789") == "29B1"


def test_crc16_keeps_the_leading_zero() -> None:
    data = next(f"{n:04d}" for n in range(10_000) if crc16(f"{n:04d}")[0] == "0")
    assert crc16(data) == f"{binascii.crc_hqx(data.encode(), 0xFFFF):04X}"
    assert len(crc16(data)) == 4
    assert binascii.crc_hqx(data.encode(), 0xFFFF) < 0x1000


def test_payload_with_crc_starting_with_zero_parses() -> None:
    # docs_lerian_bad_crc with its CRC corrected: the documented right value is 02A4.
    body = "00020126580014br.gov.bcb.Pix0136" + EVP
    body += "520400005303986540510.005802BR5913TESTE ACCOUNT6008BRASILIA62070503***6304"
    assert crc16(body) == "02A4"
    assert parse_brcode(body + "02A4").amount_cents == 1000
    with pytest.raises(BRCodeError, match="TLV"):
        parse_brcode(body + "2A4")


@pytest.mark.parametrize(
    ("vector_id", "crc"), [("stark_static", "05B7"), ("thalesog_static_amount", "0DC6")]
)
def test_vector_crc_with_leading_zero_is_computed(vector_id: str, crc: str) -> None:
    _require_vectors()
    payload = next(v["payload"] for v in VECTORS if v["id"] == vector_id)
    assert crc16(payload[:-4]) == crc == payload[-4:]


def test_encode_fields_writes_two_digit_lengths_in_order() -> None:
    assert encode_fields({"00": "01", "59": "N", "26": "x" * 12}) == "0002015901N2612" + "x" * 12


@pytest.mark.parametrize("fields", [{"0": "x"}, {"AB": "x"}, {"59": ""}, {"59": "x" * 100}])
def test_encode_fields_rejects_bad_ids_and_lengths(fields: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        encode_fields(fields)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "empty"),
        ("0002010", "TLV"),
        ("000001", "TLV"),
        ("0002010002016304ABCD", "duplicate"),
        ("00020126180014br.gov.bcb.pix\n", "control"),
    ],
)
def test_malformed_payloads_are_rejected(payload: str, message: str) -> None:
    with pytest.raises(BRCodeError, match=message):
        parse_brcode(payload)


def test_non_string_payload_is_rejected() -> None:
    with pytest.raises(BRCodeError):
        parse_brcode(b"000201")  # type: ignore[arg-type]


# --- Building --------------------------------------------------------------------------------


def _build(**overrides: Any) -> str:
    """Return a BR Code built from defaults updated with overrides."""
    args: dict[str, Any] = {
        "key": EVP,
        "name": "Loja Exemplo",
        "city": "Sao Paulo",
        "amount_cents": 15050,
        "txid": "K7Q2M9X4TB8RZ1W5NC3JD6P0H",
    }
    args.update(overrides)
    return build_brcode(**args)


def test_built_code_has_the_exact_expected_payload() -> None:
    payload = _build(key="fulano@example.com", name="Fulano", city="Brasilia", amount_cents=100)
    body = (
        "000201010212"
        "26400014br.gov.bcb.pix0118fulano@example.com"
        "52040000530398654041.005802BR5906FULANO6008BRASILIA"
        "62290525K7Q2M9X4TB8RZ1W5NC3JD6P0H6304"
    )
    assert payload == body + _crc_over(body)


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        (EVP.upper(), EVP),
        ("123.456.789-09", CPF),
        ("11.222.333/0001-81", CNPJ),
        ("Fulano@Example.COM", "fulano@example.com"),
        ("+55 (11) 98765-4321", "+5511987654321"),
    ],
)
def test_built_code_parses_back_to_the_same_values(key: str, canonical: str) -> None:
    txid = new_txid()
    payload = _build(key=key, txid=txid, name="Padaria do Zé & Cia Ltda.", city="Maceió")
    code = parse_brcode(payload, strict=True)
    assert code.key == canonical
    assert code.amount_cents == 15050
    assert code.name == "PADARIA DO ZE & CIA LTDA."
    assert code.city == "MACEIO"
    assert code.txid == txid
    assert code.point_of_initiation == "12"
    assert code.fields["54"] == "150.50"
    assert code.crc == crc16(payload[:-4])


@pytest.mark.parametrize(
    ("cents", "text"),
    [(1, "0.01"), (10, "0.10"), (100, "1.00"), (150050, "1500.50"), (100000000, "1000000.00")],
)
def test_amount_is_written_with_two_decimals(cents: int, text: str) -> None:
    code = parse_brcode(_build(amount_cents=cents), strict=True)
    assert code.fields["54"] == text
    assert code.amount_cents == cents


@pytest.mark.parametrize("cents", [0, -1, True, 1.5, 10**12])
def test_bad_amounts_are_refused(cents: Any) -> None:
    with pytest.raises(ValueError, match="amount_cents"):
        _build(amount_cents=cents)


def test_long_name_and_city_are_cut() -> None:
    code = parse_brcode(
        _build(name="Arya Stark with a very long name indeed", city="Pindamonhangaba do Norte")
    )
    assert code.name == "ARYA STARK WITH A VERY LO"
    assert code.city == "PINDAMONHANGABA"


def test_cut_does_not_leave_a_trailing_space() -> None:
    code = parse_brcode(_build(city="Rio de Janeiro X"))
    assert code.city == "RIO DE JANEIRO"


@pytest.mark.parametrize(
    "txid",
    ["", "***", "PED-1", "A" * 26, "abc def", "Ação", "5e53bbf4-cdf1-4a2f-b137-551c4b462ef1"],
)
def test_invalid_txid_is_refused(txid: str) -> None:
    with pytest.raises(ValueError, match="txid"):
        _build(txid=txid)


@pytest.mark.parametrize("txid", ["A", "a1", "Z" * 25])
def test_valid_txid_is_written_in_62_05(txid: str) -> None:
    assert parse_brcode(_build(txid=txid)).additional_data == {"05": txid}


def test_invalid_key_is_refused_when_building() -> None:
    with pytest.raises(InvalidPixKey):
        _build(key="12345678900")


def test_description_is_kept_when_it_fits() -> None:
    code = parse_brcode(_build(description="Pedido nº 123 — Café"))
    assert code.description == "Pedido no 123 Cafe"


def test_long_description_is_truncated_to_keep_26_within_99() -> None:
    payload = _build(description="Descrição " * 40)
    code = parse_brcode(payload)
    assert len(code.fields["26"]) == 99
    assert code.description is not None
    assert code.description.startswith("Descricao Descricao")
    assert len(payload) <= 512


def test_description_is_dropped_when_nothing_fits() -> None:
    key = "a" * 60 + "@example.com.br"
    code = parse_brcode(_build(key=key, description="Pedido 123"))
    assert code.key == key
    assert code.description is None
    assert "02" not in code.merchant_account


def test_longest_inputs_stay_within_512() -> None:
    payload = _build(
        key="a" * 64 + "@example.com",
        name="N" * 200,
        city="C" * 200,
        amount_cents=10**12 - 1,
        txid="T" * 25,
        description="D" * 500,
    )
    assert len(payload) <= 512
    assert parse_brcode(payload, strict=True).amount_cents == 10**12 - 1


def test_new_txid_is_25_random_alphanumerics() -> None:
    txids = {new_txid() for _ in range(200)}
    assert len(txids) == 200
    allowed = set(string.ascii_letters + string.digits)
    assert all(len(t) == 25 and set(t) <= allowed for t in txids)


# --- Text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "max_length", "expected"),
    [
        ("São Paulo", 15, "SAO PAULO"),
        ("Maceió", 15, "MACEIO"),
        ("Padaria do Zé & Cia Ltda.", 25, "PADARIA DO ZE & CIA LTDA."),
        ("  Açaí   da\tJoão\n ", 25, "ACAI DA JOAO"),
        ("Ærø 東京 Goiânia", 15, "R GOIANIA"),
        ("Rio de Janeiro X", 15, "RIO DE JANEIRO"),
        ("ﬁnanças", 10, "FINANCAS"),
    ],
)
def test_ascii_text_transliterates_and_cuts(text: str, max_length: int, expected: str) -> None:
    assert ascii_text(text, max_length) == expected


@pytest.mark.parametrize("text", ["", "   ", "東京", "\u0301"])
def test_ascii_text_refuses_text_with_nothing_left(text: str) -> None:
    with pytest.raises(ValueError):
        ascii_text(text, 25)


def test_building_with_a_name_that_has_no_ascii_fails() -> None:
    with pytest.raises(ValueError):
        _build(name="東京")


# --- Pix keys --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "canonical"),
    [
        (CPF, CPF),
        ("123.456.789-09", CPF),
        (" 123.456.789-09 ", CPF),
        (CNPJ, CNPJ),
        ("11.222.333/0001-81", CNPJ),
        ("fulano@example.com", "fulano@example.com"),
        ("Fulano.Tal+pix@Example.COM.BR", "fulano.tal+pix@example.com.br"),
        ("+5511987654321", "+5511987654321"),
        ("+551133334444", "+551133334444"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        (EVP, EVP),
        (EVP.upper(), EVP),
    ],
)
def test_valid_keys_are_normalized(key: str, canonical: str) -> None:
    assert normalize_pix_key(key) == canonical


@pytest.mark.parametrize(
    "key",
    [
        "",
        "12345678900",  # CPF with a wrong check digit
        "123.456.789-00",
        "1234567890",  # 10 digits: neither CPF nor CNPJ
        "11222333000182",  # CNPJ with a wrong check digit
        "+55119876543",  # +55 with too few digits
        "+551198765432100",  # too many digits
        "+5501987654321",  # area code cannot start with 0
        "+14155552671",  # not a Brazilian phone
        "11987654321x",
        "a" * 66 + "@example.com",  # 78 characters, over the limit of 77
        "fulano@",
        "@example.com",
        "fulano@example",
        "ful ano@example.com",
        "123e4567-e12b-12d1-a456-42665544000",  # UUID one digit short
        "123e4567e12b12d1a456426655440000",  # UUID without dashes
        "chave qualquer",
    ],
)
def test_invalid_keys_are_refused_naming_the_formats(key: str) -> None:
    with pytest.raises(InvalidPixKey) as caught:
        normalize_pix_key(key)
    message = str(caught.value)
    for name in ("CPF", "CNPJ", "e-mail", "+55", "random key"):
        assert name in message


def test_email_of_77_characters_is_accepted() -> None:
    key = "a" * 65 + "@example.com"
    assert len(key) == 77
    assert normalize_pix_key(key) == key


def test_non_string_key_is_refused() -> None:
    with pytest.raises(InvalidPixKey):
        normalize_pix_key(12345678909)  # type: ignore[arg-type]


def test_check_digit_errors_name_the_document() -> None:
    with pytest.raises(InvalidPixKey, match="CPF check digits"):
        normalize_pix_key("12345678900")
    with pytest.raises(InvalidPixKey, match="CNPJ check digits"):
        normalize_pix_key("11222333000182")


def test_parser_refuses_key_not_in_canonical_form() -> None:
    body = "0002012636" + "0014br.gov.bcb.pix0114123.456.789-09"
    body += "5204000053039865802BR5901N6001C62070503***6304"
    with pytest.raises(BRCodeError, match="DICT key format"):
        parse_brcode(body + crc16(body))
    canonical = body.replace("2636", "2633", 1).replace("0114123.456.789-09", "0111" + CPF)
    assert parse_brcode(canonical + crc16(canonical)).key == CPF
