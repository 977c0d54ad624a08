"""``horario`` at the edges of time: every value is read or refused with a 400, never a 500.

``9999-12-31T23:59:59-14:00`` was a 500: a valid time where it was written, it is past
year 9999 once in UTC, and ``astimezone`` raised ``OverflowError``, which pydantic passes on.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.bank.notices import parse_pix_notice
from payments.errors import BadRequest

ROUTE = "/payments/pix/confirmation/pix"
#: An offset as Python reads it: less than a day either way.
MAX_OFFSET_MINUTES = 24 * 60 - 1


def item(horario) -> dict:
    return {
        "endToEndId": "E87654321202009091221dfghi123456",
        "txid": "971122d8f37211eaadc10242ac120002",
        "valor": "110.00",
        "horario": horario,
    }


def rfc3339(moment: datetime, offset_minutes: int, digits: int, zulu: bool) -> str:
    """Write ``moment`` (naive, local to the offset) as RFC 3339 with ``digits`` of fraction."""
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if digits:
        text += "." + f"{moment.microsecond:06d}{'987'}"[:digits]
    if zulu and offset_minutes == 0:
        return text + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def in_utc(moment: datetime, offset_minutes: int) -> datetime | None:
    """Return the UTC time the text means, or None when that is outside years 1 to 9999."""
    try:
        return moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(UTC)
    except OverflowError:
        return None


# Times near the ends of the calendar, where an offset pushes them out of it, and anywhere.
_edges = st.one_of(
    st.datetimes(min_value=datetime(9999, 12, 30), max_value=datetime.max),
    st.datetimes(min_value=datetime.min, max_value=datetime(1, 1, 2)),
    st.datetimes(),
)
_offsets = st.one_of(
    st.sampled_from([0, -14 * 60, 14 * 60, -MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES]),
    st.integers(-MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES),
)


@settings(max_examples=500, deadline=None)
@given(_edges, _offsets, st.integers(0, 9), st.booleans())
def test_any_time_with_an_offset_is_read_in_utc_or_refused_as_400(moment, offset, digits, zulu):
    text = rfc3339(moment, offset, digits, zulu)
    expected = in_utc(moment.replace(microsecond=0), offset)

    try:
        [parsed] = parse_pix_notice({"pix": [item(text)]})
    except BadRequest as exc:
        assert expected is None, (text, exc.message)
        assert exc.message == "pix[0].horario must be a time from year 1 to year 9999 in UTC"
    else:
        assert expected is not None, text
        assert parsed.paid_at.tzinfo is UTC
        assert parsed.paid_at.replace(microsecond=0) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=45),
        st.integers(),
        st.floats(),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_any_other_value_is_a_400_naming_horario(value):
    try:
        parse_pix_notice({"pix": [item(value)]})
    except BadRequest as exc:
        assert exc.message.startswith("pix[0].horario ")


@pytest.mark.parametrize(
    ("horario", "status"),
    [
        ("9999-12-31T23:59:59-14:00", 400),
        ("9999-12-31T23:59:59-00:01", 400),
        ("9999-12-31T23:59:59.999999999-23:59", 400),
        ("0001-01-01T00:00:00+14:00", 400),
        ("0001-01-01T00:00:00+00:01", 400),
        ("9999-12-31T23:59:59+14:00", 200),
        ("9999-12-31T23:59:59.999999999Z", 200),
        ("0001-01-01T00:00:00Z", 200),
        ("0001-01-01T00:00:00-14:00", 200),
        ("2026-11-23T10:05:00+24:00", 400),
        ("10000-01-01T00:00:00Z", 400),
    ],
)
def test_extreme_times_through_the_route(client, horario, status):
    response = client.post(ROUTE, json={"pix": [item(horario)]})

    assert response.status_code == status, response.get_json()
    if status == 400:
        assert "horario" in response.get_json()["message"]
    else:  # read; no charge has that txid
        assert response.get_json()["results"][0]["status"] == 404
