"""Build and parse static Pix BR Codes ("Pix copia e cola", EMV merchant-presented mode).

A dynamic code (``build_dynamic_brcode``, what a Pix provider's ``pixCopiaECola`` is) carries
in 26-25 the provider's location URL without its scheme instead of the key, and ``***`` in
62-05. Pure Python, no Flask, nothing of the package. The rules it follows: the Banco Central's
BR Code manual (EMV QRCPS merchant-presented mode; fields 00, 01, 26 with GUI
``br.gov.bcb.pix`` and the Pix key, 52 ``0000``, 53 ``986``, 54 the amount with two decimals,
58 ``BR``, 59 name (25), 60 city (15), 62-05 txid, 63 CRC-16/CCITT-FALSE as four upper-case hex
digits), the DICT formats of Pix keys, and printable ASCII only; docs/api.md sums them up and
tests/data/ holds public examples.
"""

from __future__ import annotations

import binascii
import functools
import re
import secrets
import string
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "BRCode",
    "BRCodeError",
    "InvalidPixKey",
    "ascii_text",
    "build_brcode",
    "build_dynamic_brcode",
    "crc16",
    "encode_fields",
    "new_txid",
    "normalize_pix_key",
    "parse_brcode",
]

PIX_GUI = "br.gov.bcb.pix"
MAX_PAYLOAD_LENGTH = 512
MAX_TEMPLATE_LENGTH = 99
MAX_KEY_LENGTH = 77
MAX_EMAIL_LENGTH = 77
MAX_NAME_LENGTH = 25
MAX_CITY_LENGTH = 15
TXID_LENGTH = 25
MAX_AMOUNT_CENTS = 10**12 - 1  # field 54 holds at most 10 integer digits

ID_PAYLOAD_FORMAT = "00"
ID_POINT_OF_INITIATION = "01"
ID_MERCHANT_ACCOUNT = "26"
ID_MCC = "52"
ID_CURRENCY = "53"
ID_AMOUNT = "54"
ID_COUNTRY = "58"
ID_NAME = "59"
ID_CITY = "60"
ID_POSTAL_CODE = "61"
ID_ADDITIONAL_DATA = "62"
ID_CRC = "63"

SUB_GUI = "00"
SUB_KEY = "01"
SUB_DESCRIPTION = "02"
SUB_URL = "25"
SUB_TXID = "05"

KEY_FORMATS = (
    "CPF (11 digits), CNPJ (14 digits), e-mail, phone (+55 with area code and number) "
    "or random key (UUID)"
)

_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_TXID = re.compile(r"[A-Za-z0-9]{1,25}", re.ASCII)
_HEX4_UPPER = re.compile(r"[0-9A-F]{4}", re.ASCII)
_CPF_TEXT = re.compile(r"[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}", re.ASCII)
_CNPJ_TEXT = re.compile(r"[0-9]{2}\.?[0-9]{3}\.?[0-9]{3}/?[0-9]{4}-?[0-9]{2}", re.ASCII)
_PHONE = re.compile(r"\+55[1-9][0-9]{9,10}", re.ASCII)
_PHONE_DECORATION = re.compile(r"[\s()-]")
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII | re.IGNORECASE
)
_EMAIL = re.compile(
    r"[a-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+",
    re.ASCII,
)
# Field 54 as the EMV specification allows it: digits, optionally a '.' and 0-2 decimals.
# The Pix manual and many bank apps want exactly two decimals; ``strict=True`` enforces that.
_AMOUNT_EMV = re.compile(r"[0-9]{1,10}(?:\.[0-9]{0,2})?", re.ASCII)
_AMOUNT_STRICT = re.compile(r"[0-9]{1,10}\.[0-9]{2}", re.ASCII)
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_TXID_ALPHABET = string.ascii_letters + string.digits


class BRCodeError(ValueError):
    """A payload that is not a valid Pix BR Code."""


class InvalidPixKey(ValueError):
    """A Pix key in none of the DICT formats."""


@dataclass(frozen=True)
class BRCode:
    """A parsed Pix BR Code."""

    payload: str
    fields: dict[str, str] = field(hash=False)
    merchant_account: dict[str, str] = field(hash=False)
    additional_data: dict[str, str] = field(hash=False)
    key: str | None
    url: str | None
    description: str | None
    amount_cents: int | None
    name: str
    city: str
    postal_code: str | None
    txid: str | None
    point_of_initiation: str | None
    crc: str

    @property
    def is_dynamic(self) -> bool:
        """Return whether the code points to a provider URL instead of carrying a key."""
        return self.url is not None


# --- CRC and TLV -----------------------------------------------------------------------------


def crc16(data: str, *, encoding: str = "ascii") -> str:
    """Return the CRC-16/CCITT-FALSE of data as 4 upper-case hex digits."""
    return f"{binascii.crc_hqx(data.encode(encoding), 0xFFFF):04X}"


def encode_fields(fields: dict[str, str]) -> str:
    """Encode fields, in their order, as ID + 2-digit length + value (no CRC added)."""
    parts = []
    for field_id, value in fields.items():
        if len(field_id) != 2 or not _ASCII_DIGITS.fullmatch(field_id):
            raise ValueError(f"field ID must be 2 digits, got {field_id!r}")
        if not 1 <= len(value) <= MAX_TEMPLATE_LENGTH:
            raise ValueError(f"field {field_id} must be 1 to 99 characters, got {len(value)}")
        parts.append(_tlv(field_id, value))
    return "".join(parts)


def _tlv(field_id: str, value: str) -> str:
    """Encode one field whose ID and length the caller has checked."""
    return f"{field_id}{len(value):02d}{value}"


def _parse_tlv(data: str, where: str) -> dict[str, str]:
    """Split data into its ID/length/value objects, raising BRCodeError when malformed."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        header = data[pos : pos + 4]
        if len(header) < 4:
            raise BRCodeError(f"malformed TLV in {where} at position {pos}: {header!r} left over")
        field_id, length_text = header[:2], header[2:]
        if not _ASCII_DIGITS.fullmatch(field_id):
            raise BRCodeError(
                f"malformed TLV in {where} at position {pos}: ID {field_id!r} is not 2 digits"
            )
        if not _ASCII_DIGITS.fullmatch(length_text) or length_text == "00":
            raise BRCodeError(
                f"malformed TLV in {where} at position {pos}: ID {field_id} has length "
                f"{length_text!r}, expected 01 to 99"
            )
        length = int(length_text)
        value = data[pos + 4 : pos + 4 + length]
        if len(value) < length:
            raise BRCodeError(
                f"malformed TLV in {where} at position {pos}: ID {field_id} declares "
                f"{length} characters but only {len(value)} remain"
            )
        if field_id in fields:
            raise BRCodeError(f"malformed TLV in {where}: duplicate ID {field_id}")
        fields[field_id] = value
        pos += 4 + length
    return fields


# --- Pix keys --------------------------------------------------------------------------------


def _check_digit(digits: str, weights: range | list[int]) -> int:
    """Return the mod-11 check digit of digits under weights."""
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _is_cpf(digits: str) -> bool:
    """Return whether 11 digits carry valid CPF check digits."""
    first = _check_digit(digits[:9], range(10, 1, -1))
    second = _check_digit(digits[:10], range(11, 1, -1))
    return digits[9:] == f"{first}{second}"


def _is_cnpj(digits: str) -> bool:
    """Return whether 14 digits carry valid CNPJ check digits."""
    weights = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    first = _check_digit(digits[:12], weights[1:])
    second = _check_digit(digits[:13], weights)
    return digits[12:] == f"{first}{second}"


def _invalid_key(reason: str) -> InvalidPixKey:
    """Return an InvalidPixKey naming the reason and the accepted formats."""
    return InvalidPixKey(f"invalid Pix key: {reason}; accepted formats: {KEY_FORMATS}")


def _normalize_email(key: str) -> str:
    """Return the canonical (lower-case) form of an e-mail key."""
    email = key.lower()
    if len(email) > MAX_EMAIL_LENGTH:
        raise _invalid_key(f"e-mail longer than {MAX_EMAIL_LENGTH} characters")
    if not _EMAIL.fullmatch(email):
        raise _invalid_key("malformed e-mail address")
    return email


def _normalize_phone(key: str) -> str:
    """Return the canonical +55 form of a phone key."""
    phone = _PHONE_DECORATION.sub("", key)
    if not _PHONE.fullmatch(phone):
        raise _invalid_key("phone must be +55, a 2-digit area code and an 8 or 9 digit number")
    return phone


def _normalize_document(key: str) -> str:
    """Return the digits of a CPF or CNPJ key after checking its check digits."""
    digits = re.sub(r"[./-]", "", key)
    if _CPF_TEXT.fullmatch(key):
        if not _is_cpf(digits):
            raise _invalid_key("CPF check digits do not match")
        return digits
    if _CNPJ_TEXT.fullmatch(key):
        if not _is_cnpj(digits):
            raise _invalid_key("CNPJ check digits do not match")
        return digits
    raise _invalid_key("not a recognised key")


def normalize_pix_key(key: str) -> str:
    """Validate a Pix key in any DICT format and return its canonical form."""
    if not isinstance(key, str):
        raise _invalid_key("the key must be text")
    text = key.strip()
    if not text:
        raise _invalid_key("the key is empty")
    if "@" in text:
        return _normalize_email(text)
    if text.startswith("+"):
        return _normalize_phone(text)
    if _UUID.fullmatch(text):
        return text.lower()
    return _normalize_document(text)


def _is_canonical_key(key: str) -> bool:
    """Return whether key is already a Pix key in its canonical DICT form."""
    try:
        return normalize_pix_key(key) == key
    except InvalidPixKey:
        return False


# --- Text ------------------------------------------------------------------------------------


def _transliterate(text: str) -> str:
    """Return text as printable ASCII: accents dropped, other characters removed."""
    decomposed = unicodedata.normalize("NFKD", text)
    chars = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if char.isspace():
            chars.append(" ")
        elif " " <= char <= "~":
            chars.append(char)
    return " ".join("".join(chars).split())


def _cut(text: str, max_length: int) -> str:
    """Return text cut to max_length with surrounding spaces removed."""
    return text[:max_length].strip()


def ascii_text(text: str, max_length: int) -> str:
    """Return text as upper-case printable ASCII of at most max_length characters."""
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    result = _cut(_transliterate(text).upper(), max_length)
    if not result:
        raise ValueError(f"text {text!r} has no printable ASCII characters")
    return result


# --- Building --------------------------------------------------------------------------------


def new_txid() -> str:
    """Return a cryptographically random 25-character alphanumeric txid.

    One uniform draw below 62**25, written in base 62: each character is as
    random as from ``secrets.choice``, for one read of the system's random
    source instead of 25.
    """
    number = secrets.randbelow(len(_TXID_ALPHABET) ** TXID_LENGTH)
    chars = []
    for _ in range(TXID_LENGTH):
        number, digit = divmod(number, len(_TXID_ALPHABET))
        chars.append(_TXID_ALPHABET[digit])
    return "".join(chars)


def _format_amount(amount_cents: int) -> str:
    """Return integer centavos as the field 54 text with two decimals."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise ValueError("amount_cents must be an integer number of centavos")
    if amount_cents <= 0:
        raise ValueError("amount_cents must be > 0")
    if amount_cents > MAX_AMOUNT_CENTS:
        raise ValueError("amount_cents does not fit in field 54 (at most 10 integer digits)")
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


def _merchant_account(key: str, description: str | None) -> str:
    """Return the value of field 26, fitting the description into 99 characters."""
    sub = {SUB_GUI: PIX_GUI, SUB_KEY: key}
    room = MAX_TEMPLATE_LENGTH - len(encode_fields(sub)) - 4
    if description is not None and room > 0:
        text = _cut(_transliterate(description), room)
        if text:
            sub[SUB_DESCRIPTION] = text
    return encode_fields(sub)


@functools.lru_cache(maxsize=16)
def _receiver_fields(
    key: str, name: str, city: str, description: str | None
) -> tuple[str, str]:
    """Return the encoded fields before the amount (00 to 53) and after it (58 to 60).

    They depend on the receiver only, so each receiver's are built (key
    validated, text transliterated) once, not for every charge.
    """
    head = encode_fields(
        {
            ID_PAYLOAD_FORMAT: "01",
            ID_POINT_OF_INITIATION: "12",
            ID_MERCHANT_ACCOUNT: _merchant_account(normalize_pix_key(key), description),
            ID_MCC: "0000",
            ID_CURRENCY: "986",
        }
    )
    tail = encode_fields(
        {
            ID_COUNTRY: "BR",
            ID_NAME: ascii_text(name, MAX_NAME_LENGTH),
            ID_CITY: ascii_text(city, MAX_CITY_LENGTH),
        }
    )
    return head, tail


def build_brcode(
    *,
    key: str,
    name: str,
    city: str,
    amount_cents: int,
    txid: str,
    description: str | None = None,
) -> str:
    """Return a single-use static Pix BR Code for the amount, with its CRC."""
    if not isinstance(txid, str) or not _TXID.fullmatch(txid):
        raise ValueError("txid must be 1 to 25 ASCII letters and digits")
    head, tail = _receiver_fields(key, name, city, description)
    # The amount (at most 13 characters) and the txid (at most 25) are checked above.
    body = (
        head
        + _tlv(ID_AMOUNT, _format_amount(amount_cents))
        + tail
        + _tlv(ID_ADDITIONAL_DATA, _tlv(SUB_TXID, txid))
        + ID_CRC
        + "04"
    )
    payload = body + crc16(body)
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise ValueError(f"BR Code would be {len(payload)} characters, more than 512")
    return payload


MAX_URL_LENGTH = 77  # the API Pix ``location``; 26 holds the GUI and 26-25 in 99 characters


def build_dynamic_brcode(
    *, url: str, name: str, city: str, amount_cents: int | None = None
) -> str:
    """Return a single-use dynamic Pix BR Code pointing to ``url``, with its CRC.

    ``url`` is the provider's payload location without a scheme (``pix.example.com/qr/v2/...``);
    the payer's app fetches the charge from it, so the txid is ``***`` and the amount optional.
    """
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_LENGTH:
        raise ValueError(f"url must be 1 to {MAX_URL_LENGTH} characters")
    if _URL_SCHEME.match(url) or not all(" " < char <= "~" for char in url):
        raise ValueError("url must be printable ASCII without a scheme such as https://")
    fields = {
        ID_PAYLOAD_FORMAT: "01",
        ID_POINT_OF_INITIATION: "12",
        ID_MERCHANT_ACCOUNT: encode_fields({SUB_GUI: PIX_GUI, SUB_URL: url}),
        ID_MCC: "0000",
        ID_CURRENCY: "986",
    }
    if amount_cents is not None:
        fields[ID_AMOUNT] = _format_amount(amount_cents)
    fields |= {
        ID_COUNTRY: "BR",
        ID_NAME: ascii_text(name, MAX_NAME_LENGTH),
        ID_CITY: ascii_text(city, MAX_CITY_LENGTH),
        ID_ADDITIONAL_DATA: _tlv(SUB_TXID, "***"),
    }
    body = encode_fields(fields) + ID_CRC + "04"
    return body + crc16(body)


# --- Parsing ---------------------------------------------------------------------------------


def _check_characters(payload: str, allow_non_ascii: bool) -> None:
    """Reject control characters and, unless allowed, non-ASCII characters."""
    for pos, char in enumerate(payload):
        if char < " " or "\x7f" <= char <= "\x9f":
            raise BRCodeError(f"control character {char!r} at position {pos}")
        if char > "~" and not allow_non_ascii:
            raise BRCodeError(
                f"non-ASCII character {char!r} at position {pos}: only printable ASCII is allowed"
            )


def _check_frame(payload: str, fields: dict[str, str], allow_non_ascii: bool) -> None:
    """Check that 00 comes first and a correct CRC in 63 comes last."""
    ids = list(fields)
    if ids[0] != ID_PAYLOAD_FORMAT:
        raise BRCodeError(f"the first data object must be ID 00, got ID {ids[0]}")
    if fields[ID_PAYLOAD_FORMAT] != "01":
        raise BRCodeError(f"payload format indicator (ID 00) must be 01, got {fields['00']!r}")
    if ID_CRC not in fields:
        raise BRCodeError("missing CRC: the last data object must be ID 63")
    if ids[-1] != ID_CRC:
        raise BRCodeError("the CRC (ID 63) must be the last data object")
    crc = fields[ID_CRC]
    if len(crc) != 4:
        raise BRCodeError(f"the CRC (ID 63) must be 4 characters long, got {len(crc)}")
    if not _HEX4_UPPER.fullmatch(crc):
        raise BRCodeError(f"the CRC (ID 63) must be 4 UPPERCASE hex digits, got {crc!r}")
    expected = crc16(payload[:-4], encoding="utf-8" if allow_non_ascii else "ascii")
    if crc != expected:
        raise BRCodeError(f"CRC mismatch: payload says {crc}, computed {expected}")


def _require(fields: dict[str, str], field_id: str, label: str) -> str:
    """Return a required field's value or raise naming it."""
    if field_id not in fields:
        raise BRCodeError(f"missing required ID {field_id} ({label})")
    return fields[field_id]


def _check_point_of_initiation(fields: dict[str, str]) -> str | None:
    """Return field 01 after checking it is 11 (reusable) or 12 (single use)."""
    poi = fields.get(ID_POINT_OF_INITIATION)
    if poi is not None and poi not in ("11", "12"):
        raise BRCodeError(f"Point of Initiation Method (ID 01) must be 11 or 12, got {poi!r}")
    return poi


def _parse_merchant_account(fields: dict[str, str]) -> dict[str, str]:
    """Return the sub-fields of 26 after checking the Pix GUI, key, URL and description."""
    template = _require(fields, ID_MERCHANT_ACCOUNT, "merchant account with GUI br.gov.bcb.pix")
    sub = _parse_tlv(template, "ID 26")
    gui = sub.get(SUB_GUI)
    # The Pix manual writes the GUI in lower case, but real codes that banks read (stone,
    # issue_sanlim6, forum_minigui vectors) use BR.GOV.BCB.PIX: compare without case.
    if gui is None or gui.lower() != PIX_GUI:
        raise BRCodeError(f"ID 26 must carry GUI {PIX_GUI} in 26-00, got {gui!r}")
    key, url = sub.get(SUB_KEY), sub.get(SUB_URL)
    if key is not None and url is not None:
        raise BRCodeError("ID 26 has both a key (26-01) and a URL (26-25); a code carries one")
    if key is not None:
        _check_key(key)
    if url is not None and _URL_SCHEME.match(url):
        raise BRCodeError(f"URL in 26-25 must not include a scheme such as https://: {url!r}")
    if SUB_DESCRIPTION in sub and key is None:
        raise BRCodeError("description (26-02) is only allowed with a key (26-01)")
    return sub


def _check_key(key: str) -> None:
    """Reject a key in 26-01 that is not in its canonical DICT key format."""
    if len(key) > MAX_KEY_LENGTH or not _is_canonical_key(key):
        raise BRCodeError(
            f"key in 26-01 {key!r} is not in a DICT key format: CPF or CNPJ digits, "
            "lower-case e-mail, +55 phone or lower-case random key (UUID)"
        )


def _parse_amount(fields: dict[str, str], strict: bool) -> int | None:
    """Return field 54 in centavos, or None when the code leaves the amount open."""
    text = fields.get(ID_AMOUNT)
    if text is None:
        return None
    # Default mode follows the EMV rule ('10', '10.', '10.5' are legal), as the vector file
    # does: stone_amount_10_dot ('10.') is valid unless strict. Strict wants '10.00'.
    pattern = _AMOUNT_STRICT if strict else _AMOUNT_EMV
    if not pattern.fullmatch(text):
        rule = "digits, a '.' and two decimals" if strict else "digits with up to two decimals"
        raise BRCodeError(f"amount (ID 54) must be {rule}, got {text!r}")
    cents = int(Decimal(text) * 100)
    if cents <= 0:
        raise BRCodeError(f"amount (ID 54) must be > 0, got {text!r}")
    return cents


def _check_fixed_fields(fields: dict[str, str]) -> None:
    """Check the merchant category code, currency and country."""
    mcc = _require(fields, ID_MCC, "merchant category code")
    if len(mcc) != 4 or not _ASCII_DIGITS.fullmatch(mcc):
        raise BRCodeError(f"merchant category code (ID 52) must be 4 digits, got {mcc!r}")
    currency = _require(fields, ID_CURRENCY, "transaction currency")
    if currency != "986":
        raise BRCodeError(f"transaction currency (ID 53) must be 986 (BRL), got {currency!r}")
    country = _require(fields, ID_COUNTRY, "country code")
    if country != "BR":
        raise BRCodeError(f"country code (ID 58) must be BR, got {country!r}")


def _check_text(fields: dict[str, str], field_id: str, label: str, max_length: int) -> str:
    """Return a required text field after checking its length."""
    value = _require(fields, field_id, label)
    if len(value) > max_length:
        raise BRCodeError(
            f"{label} (ID {field_id}) must be at most {max_length} characters, got {len(value)}"
        )
    return value


def _check_postal_code(fields: dict[str, str]) -> str | None:
    """Return the optional postal code (61) after checking it is 8 digits."""
    cep = fields.get(ID_POSTAL_CODE)
    if cep is not None and (len(cep) != 8 or not _ASCII_DIGITS.fullmatch(cep)):
        raise BRCodeError(f"postal code (ID 61) must be 8 digits, got {cep!r}")
    return cep


def _parse_additional_data(fields: dict[str, str]) -> dict[str, str]:
    """Return the sub-fields of 62 after checking the txid in 62-05."""
    template = _require(fields, ID_ADDITIONAL_DATA, "additional data with the txid in 62-05")
    sub = _parse_tlv(template, "ID 62")
    txid = sub.get(SUB_TXID)
    if txid is None:
        raise BRCodeError("ID 62 has no txid (62-05)")
    if txid != "***" and not _TXID.fullmatch(txid):
        raise BRCodeError(f"txid (62-05) must be *** or 1 to 25 letters and digits, got {txid!r}")
    return sub


def parse_brcode(payload: str, *, strict: bool = False, allow_non_ascii: bool = False) -> BRCode:
    """Parse and validate a Pix BR Code, raising BRCodeError that says what is wrong."""
    if not isinstance(payload, str):
        raise BRCodeError("a BR Code must be text")
    if not payload:
        raise BRCodeError("the BR Code is empty")
    _check_characters(payload, allow_non_ascii)
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise BRCodeError(f"the BR Code has {len(payload)} characters, more than 512")
    fields = _parse_tlv(payload, "the payload")
    _check_frame(payload, fields, allow_non_ascii)
    poi = _check_point_of_initiation(fields)
    account = _parse_merchant_account(fields)
    _check_fixed_fields(fields)
    amount_cents = _parse_amount(fields, strict)
    name = _check_text(fields, ID_NAME, "merchant name", MAX_NAME_LENGTH)
    city = _check_text(fields, ID_CITY, "merchant city", MAX_CITY_LENGTH)
    postal_code = _check_postal_code(fields)
    additional = _parse_additional_data(fields)
    return BRCode(
        payload=payload,
        fields=fields,
        merchant_account=account,
        additional_data=additional,
        key=account.get(SUB_KEY),
        url=account.get(SUB_URL),
        description=account.get(SUB_DESCRIPTION),
        amount_cents=amount_cents,
        name=name,
        city=city,
        postal_code=postal_code,
        txid=additional.get(SUB_TXID),
        point_of_initiation=poi,
        crc=fields[ID_CRC],
    )
