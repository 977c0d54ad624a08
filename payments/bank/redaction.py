"""The payer's personal data taken out of a webhook body before the delivery log stores it.

``redact(body)`` is the one place this is decided. What goes, replaced by ``"***"``:

- the whole value of ``infoPagador``, ``pagador``, ``devedor``, ``nome``, ``cpf`` and
  ``cnpj`` (any case), wherever they are in the body: API Pix carries the payer as
  ``pagador``/``devedor`` ``{"cpf" or "cnpj", "nome"}`` and a free text in ``infoPagador``;
- anything elsewhere that reads as a CPF or CNPJ number: 11 or 14 digits standing alone
  (``12345678909``, in a string or as a JSON number), or written with their dots, slash
  and dash (``123.456.789-09``, ``12.345.678/0001-95``, the letters-and-digits CNPJ
  ``12.ABC.345/01DE-35`` too).

The identifiers the webhook acts on (``bank_payment_id``, ``txid``, ``endToEndId``,
``rtrId``) are kept as they came, and a body with nothing to take out is stored byte for
byte, so a stored delivery can still be replayed. A body that is not JSON is redacted as
text by the same rules (a key's value up to the next comma or brace).
"""

import json
import re

MASK = "***"
#: Keys whose whole value is personal data, compared case-insensitively.
PERSONAL_KEYS = frozenset({"infopagador", "pagador", "devedor", "nome", "cpf", "cnpj"})
#: Keys the webhook reads to find and apply a notice: ids, never personal data, kept.
IDENTIFIER_KEYS = frozenset({"bank_payment_id", "txid", "endToEndId", "rtrId"})

_ALONE_BEFORE = r"(?<![0-9A-Za-z])"
_ALONE_AFTER = r"(?![0-9A-Za-z])"
#: A CPF (11 digits) or CNPJ (14), standing alone or written with its punctuation.
_NUMBER = (
    _ALONE_BEFORE
    + r"(?:[0-9]{11}|[0-9]{14}"
    + r"|[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}"
    + r"|[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-[0-9]{2})"
    + _ALONE_AFTER
)
NUMBER = re.compile(_NUMBER, re.ASCII)
_NUMBER_BYTES = re.compile(_NUMBER.encode(), re.ASCII)
_KEYS = "|".join(sorted(PERSONAL_KEYS))
#: In text that is not JSON: a personal key and its value (a string, a flat object or a
#: bare word), up to the next comma, brace or bracket.
_KEY_VALUE_BYTES = re.compile(
    rb'("(?i:' + _KEYS.encode() + rb')"\s*:\s*)'
    rb'(?:"(?:[^"\\]|\\.)*"?|\{[^{}]*\}?|[^,{}\[\]]*)'
)
#: What a body must hold for anything in it to be taken out; one without it is stored as is.
#: ``\u`` is there because JSON may spell a key's letters as escapes.
_SUSPECT = re.compile(
    rb"(?i:" + _KEYS.encode() + rb")|\\u|" + rb"[0-9]{3}\.[0-9]{3}\.|[0-9A-Z]{2}\.[0-9A-Z]{3}\."
    rb"|[0-9]{11}",
    re.ASCII,
)


class _Number(str):
    """A JSON number kept as its text: a body written again says the same amount."""


def _keep_text(text: str) -> _Number:
    return _Number(text)


def redact(body: bytes) -> bytes:
    """Return ``body`` with the payer's personal data replaced by ``"***"``."""
    if not _SUSPECT.search(body):
        return body
    try:
        data = json.loads(
            body, parse_float=_keep_text, parse_int=_keep_text, parse_constant=_keep_text
        )
        cleaned, changed = _clean(data)
        if not changed:
            return body
        return _dump(cleaned).encode("ascii")
    except (ValueError, RecursionError):  # not JSON (or nested past reading): as text
        return _redact_text(body)


def _redact_text(body: bytes) -> bytes:
    """Return ``body``, not JSON, with personal keys' values and CPF/CNPJ numbers masked."""
    masked = _KEY_VALUE_BYTES.sub(lambda match: match.group(1) + b'"' + MASK.encode() + b'"', body)
    return _NUMBER_BYTES.sub(MASK.encode(), masked)


def _clean(value, key: str | None = None) -> tuple[object, bool]:
    """Return ``value`` (found under ``key``) redacted, and whether anything was taken out."""
    if key is not None and key.casefold() in PERSONAL_KEYS:
        return MASK, value != MASK
    if key in IDENTIFIER_KEYS:
        return value, False
    if isinstance(value, dict):
        changed = False
        cleaned = {}
        for name, item in value.items():
            cleaned[name], item_changed = _clean(item, name)
            changed = changed or item_changed
        return cleaned, changed
    if isinstance(value, list):
        pairs = [_clean(item) for item in value]
        return [item for item, _ in pairs], any(changed for _, changed in pairs)
    if isinstance(value, _Number):
        return (MASK, True) if NUMBER.fullmatch(value) else (value, False)
    if isinstance(value, str):
        masked = NUMBER.sub(MASK, value)
        return masked, masked != value
    return value, False


def _dump(value) -> str:
    """Return ``value`` as compact JSON, numbers as the text they came in."""
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(name)}:{_dump(item)}" for name, item in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_dump(item) for item in value) + "]"
    if isinstance(value, _Number):
        return str.__str__(value)
    return json.dumps(value)
