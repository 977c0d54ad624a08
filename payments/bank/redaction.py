"""The payer's personal data taken out of a webhook body before the delivery log stores it.

``redact(body, keep)`` is the one place this is decided. What goes, replaced by ``"***"``:

- the whole value of ``infoPagador``, ``pagador``, ``devedor``, ``nome``, ``cpf`` and
  ``cnpj`` (any case), wherever they are in the body: API Pix carries the payer as
  ``pagador``/``devedor`` ``{"cpf" or "cnpj", "nome"}`` and a free text in ``infoPagador``;
- anything elsewhere that reads as a CPF or CNPJ number: 11 or 14 digits standing alone
  (``12345678909``, in a string or as a JSON number), or written with their dots, slash
  and dash (``123.456.789-09``, ``12.345.678/0001-95``, the letters-and-digits CNPJ
  ``12.ABC.345/01DE-35`` too).

The identifiers the webhook acts on (``bank_payment_id``, ``txid``, ``endToEndId``,
``rtrId``) are kept as they came, and a body with nothing to take out is stored byte for
byte, so a stored delivery can still be replayed. A body that is not JSON, or longer than
what is kept (it cannot be replayed), is redacted as text by the same rules: each personal
key's value to its end (a string, or an object or list to its closing bracket), and the
numbers; what is kept is redacted whole, a number cut at its end included.
"""

import json
import re
import secrets

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
#: In text: a personal key, up to where its value begins.
_KEY_BYTES = re.compile(rb'"(?i:' + _KEYS.encode() + rb')"\s*:\s*')
#: In text: a JSON string (unterminated: to the end), a bracket, or a run of anything else.
_STRING_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"?')
_TOKEN_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"?|[{}\[\]]|[^"{}\[\]]+')
_BARE_BYTES = re.compile(rb"[^,{}\[\]\s]*")
#: Longest CPF or CNPJ as written: a text redaction reads this far past what it keeps.
_LONGEST_NUMBER = 18

#: What a body must hold for anything in it to be taken out (one without is stored as is):
#: a personal key (``\u``: JSON may spell its letters as escapes), or a CPF's or CNPJ's
#: digits. Substring tests first: they cost far less than a regular expression.
_SUSPECT_WORDS = (b"pagador", b"devedor", b"nome", b"cpf", b"cnpj", b"\\u")
_SUSPECT_NUMBER = re.compile(rb"[0-9]{11}|[0-9A-Z]{2}\.[0-9A-Z]{3}\.", re.ASCII)


def _suspect(body: bytes) -> bool:
    """Tell whether ``body`` may hold anything ``redact`` takes out."""
    lowered = body.lower()
    return any(word in lowered for word in _SUSPECT_WORDS) or bool(_SUSPECT_NUMBER.search(body))


def redact(body: bytes, keep: int | None = None) -> bytes:
    """Return ``body`` with the payer's personal data replaced by ``"***"``, cut at ``keep``.

    A body longer than ``keep`` (it cannot be replayed) is redacted as text, as far as it is
    kept: its cost stays that of ``keep`` bytes, whatever its size.
    """
    if keep is not None and len(body) > keep:
        return _redact_text(body[: keep + _LONGEST_NUMBER])[:keep]
    if not _suspect(body):
        return body
    try:
        redacted = _Redaction().json(body)
    except (ValueError, RecursionError):  # not JSON (or nested past reading): as text
        redacted = _redact_text(body)
    return redacted if keep is None else redacted[:keep]


def _redact_text(body: bytes) -> bytes:
    """Return ``body``, read as text, with personal keys' values and CPF/CNPJ numbers masked."""
    pieces = []
    done = 0
    for key in _KEY_BYTES.finditer(body):
        if key.start() < done:  # inside a value masked already
            continue
        pieces += [body[done : key.end()], b'"***"']
        done = _value_end(body, key.end())
    pieces.append(body[done:])
    return _NUMBER_BYTES.sub(MASK.encode(), b"".join(pieces))


def _value_end(text: bytes, start: int) -> int:
    """Return where the JSON value that begins at ``start`` in ``text`` ends (or the text)."""
    first = text[start : start + 1]
    if first == b'"':
        return _STRING_BYTES.match(text, start).end()
    if first not in (b"{", b"["):
        return _BARE_BYTES.match(text, start).end()
    depth = 0
    for token in _TOKEN_BYTES.finditer(text, start):
        if token.group() in (b"{", b"["):
            depth += 1
        elif token.group() in (b"}", b"]"):
            depth -= 1
            if depth == 0:
                return token.end()
    return len(text)


class _Redaction:
    """One body's redaction, done while the JSON parser reads it (its hooks), then written.

    Numbers are kept as the text they came in (a body written again says the same amount,
    however many digits): each stands in the parsed document as a placeholder string,
    marked by a random nonce no body can guess, and is put back into the written JSON.
    """

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.numbers: list[str] = []
        self.changed = False

    def json(self, body: bytes) -> bytes:
        """Return the redacted body, or ``body`` itself if nothing in it was personal.

        :raise ValueError: it is not JSON. :raise RecursionError: nested too deep.
        """
        document = json.loads(
            body,
            parse_float=self.number,
            parse_int=self.integer,
            parse_constant=self.number,
            object_pairs_hook=self.object,
        )
        document = self.value(document)
        if not self.changed:
            return body
        written = json.dumps(document, separators=(",", ":"))  # ASCII: \u escapes
        if self.numbers:
            placeholder = re.compile(r'"\\u0000' + self.nonce + r':([0-9]+)\\u0000"')
            written = placeholder.sub(lambda match: self.numbers[int(match.group(1))], written)
        return written.encode()

    def integer(self, text: str):
        """Return a JSON integer as itself (exact), or the mask if it reads as a CPF or CNPJ."""
        if len(text.removeprefix("-")) in (11, 14):
            self.changed = True
            return MASK
        return int(text)  # over 4300 digits: ValueError, and the body is redacted as text

    def number(self, text: str):
        """Return a JSON number with a fraction or exponent (or a NaN) so it is written back
        as it came: a float Python writes the same, else a placeholder for its text."""
        value = float(text)
        if repr(value) == text:
            return value
        self.numbers.append(text)
        return f"\x00{self.nonce}:{len(self.numbers) - 1}\x00"

    def object(self, pairs: list[tuple[str, object]]) -> dict:
        """Return a JSON object with its personal values masked (its own objects were already)."""
        cleaned = {}
        for name, item in pairs:
            if name.casefold() in PERSONAL_KEYS:
                self.changed = self.changed or item != MASK
                item = MASK
            elif name not in IDENTIFIER_KEYS:
                item = self.value(item)
            cleaned[name] = item
        return cleaned

    def value(self, item):
        """Return ``item`` with CPF/CNPJ numbers masked in its strings and its lists' strings."""
        if isinstance(item, str):
            return self.text(item)
        if not isinstance(item, list):
            return item  # an object is done by ``object``; others hold no text
        stack = [item]
        while stack:
            items = stack.pop()
            for index, element in enumerate(items):
                if isinstance(element, str):
                    items[index] = self.text(element)
                elif isinstance(element, list):
                    stack.append(element)
        return item

    def text(self, text: str) -> str:
        """Return ``text`` with what reads as a CPF or CNPJ masked."""
        if text.startswith("\x00" + self.nonce):  # a number's placeholder
            return text
        masked = NUMBER.sub(MASK, text)
        if masked != text:
            self.changed = True
        return masked
