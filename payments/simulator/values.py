"""The simulator's small values: times, amounts and the identifiers of the Pix system."""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, datetime

#: The simulator's made-up ISPB (the 8-digit participant code in ``endToEndId`` and ``rtrId``).
ISPB = "99999008"

TXID = re.compile(r"[A-Za-z0-9]{26,35}", re.ASCII)
DEVOLUCAO_ID = re.compile(r"[A-Za-z0-9]{1,35}", re.ASCII)
END_TO_END_ID = re.compile(r"[A-Za-z0-9]{32}", re.ASCII)
AMOUNT = re.compile(r"[0-9]{1,10}\.[0-9]{2}", re.ASCII)
_ALPHANUMERIC = string.ascii_letters + string.digits


def now() -> datetime:
    """Return the current time, in UTC."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """Return ``moment`` as RFC 3339 in UTC with milliseconds (sorts as text)."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_time(text: str) -> datetime:
    """Return an RFC 3339 time (``Z`` or an offset) as an aware datetime.

    :raise ValueError: not such a time.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("the time has no offset")
    return moment


def cents(text: object) -> int:
    """Return an API Pix amount (``"1500.50"``) in centavos.

    :raise ValueError: not such an amount.
    """
    if not isinstance(text, str) or not AMOUNT.fullmatch(text):
        raise ValueError("not an amount with two decimals such as 1500.50")
    whole, fraction = text.split(".")
    return int(whole) * 100 + int(fraction)


def reais(amount_cents: int) -> str:
    """Return centavos as an API Pix amount (``"1500.50"``)."""
    return f"{amount_cents // 100}.{amount_cents % 100:02d}"


def _system_id(prefix: str, moment: datetime) -> str:
    """Return prefix + ISPB + ``yyyyMMddHHmm`` + 11 random letters and digits (32 in all)."""
    tail = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(11))
    return f"{prefix}{ISPB}{moment.astimezone(UTC):%Y%m%d%H%M}{tail}"


def end_to_end_id(moment: datetime) -> str:
    """Return a new ``endToEndId`` as the Pix system writes them (``E``...)."""
    return _system_id("E", moment)


def return_id(moment: datetime) -> str:
    """Return a new refund ``rtrId`` (``D``...)."""
    return _system_id("D", moment)
