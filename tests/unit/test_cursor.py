"""Listing cursors are opaque: only what `encode_cursor` made is accepted, and nothing a
caller can send makes the decoder (or the database behind it) fail with anything but
`InvalidCursor`."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pixyproxy.app.cursor import decode_cursor, encode_cursor
from pixyproxy.domain.exceptions import InvalidCursor
from pixyproxy.domain.models import PageAnchor
from tests.support.builders import make_image

GUID = UUID("12345678-abcd-4678-9abc-def012345678")


def raw_cursor(text: str, *, alphabet: str = "urlsafe", padding: bool = False) -> str:
    encode = base64.urlsafe_b64encode if alphabet == "urlsafe" else base64.standard_b64encode
    encoded = encode(text.encode()).decode()
    return encoded if padding else encoded.rstrip("=")


def issued(created_at: datetime, guid: UUID = GUID) -> str:
    return encode_cursor(replace(make_image(0), guid=guid, created_at=created_at))


def test_an_issued_cursor_decodes_to_its_anchor() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert decode_cursor(issued(when)) == PageAnchor(created_at=when, guid=GUID)


@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
    ),
    guid=st.uuids(),
)
def test_every_issued_cursor_round_trips(when: datetime, guid: UUID) -> None:
    anchor = PageAnchor(created_at=when.replace(tzinfo=UTC), guid=guid)
    assert decode_cursor(issued(anchor.created_at, guid)) == anchor


def forged() -> list[str]:
    good = f"1|2024-05-06T07:08:09.123456+00:00|{GUID}"
    issued_one = raw_cursor(good)
    return [
        # What the attack found: times whose UTC conversion overflows a datetime.
        raw_cursor(f"1|0001-01-01T00:00:00+14:00|{GUID}"),
        raw_cursor(f"1|9999-12-31T23:59:59-14:00|{GUID}"),
        # Another spelling of a cursor we did issue.
        raw_cursor(good + "\x00"),
        raw_cursor(good, padding=True),
        issued_one + "==",
        raw_cursor(f"1|2024-05-06T07:08:09.123456+00:00|{str(GUID).upper()}"),
        raw_cursor(f"1|2024-05-06T09:08:09.123456+02:00|{GUID}"),
        raw_cursor(f"1|2024-05-06 07:08:09.123456+00:00|{GUID}"),
        raw_cursor(f"1|2024-05-06T07:08:09.123456Z|{GUID}"),
        raw_cursor(f"1|2024-05-06T07:08:09.123456+00:00|{GUID.hex}"),
        raw_cursor(f"1|2024-05-06T07:08:09.123456+00:00|{{{GUID}}}"),
        # Cursors we never issue: before the epoch, naive times, other versions.
        raw_cursor(f"1|0001-01-01T00:00:00+00:00|{GUID}"),
        raw_cursor(f"1|1969-12-31T23:59:59+00:00|{GUID}"),
        raw_cursor(f"1|2024-05-06T07:08:09|{GUID}"),
        raw_cursor(f"2|2024-05-06T07:08:09.123456+00:00|{GUID}"),
        raw_cursor(f"1|2024-05-06T07:08:09.123456+00:00|{GUID}|x"),
        "",
        "=",
        "%%%",
        "a",
        "\x00",
        "é",
        "1" * 4400,
    ]


@pytest.mark.parametrize("cursor", forged(), ids=range(len(forged())))
def test_anything_not_issued_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_another_base64_spelling_of_an_issued_cursor_is_not_ours() -> None:
    cursor = issued(datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(cursor) % 4 in (2, 3), "the last group must have spare bits for this test"
    # The last character's low bits are padding: setting one spells the same bytes.
    spare = alphabet[alphabet.index(cursor[-1]) | 1]
    assert spare != cursor[-1]
    respelled = cursor[:-1] + spare
    assert base64.urlsafe_b64decode(respelled + "==") == base64.urlsafe_b64decode(cursor + "==")
    with pytest.raises(InvalidCursor):
        decode_cursor(respelled)


@given(st.text(max_size=80))
def test_no_text_makes_the_decoder_fail_otherwise(cursor: str) -> None:
    try:
        anchor = decode_cursor(cursor)
    except InvalidCursor:
        return
    assert issued(anchor.created_at, anchor.guid) == cursor


def test_non_utc_offsets_of_issued_times_are_not_ours() -> None:
    when = datetime(2024, 5, 6, tzinfo=timezone(timedelta(hours=2)))
    # We never issue such a cursor (times are kept in UTC), so we never accept one either.
    text = f"1|{when.isoformat()}|{GUID}"
    with pytest.raises(InvalidCursor):
        decode_cursor(raw_cursor(text))
