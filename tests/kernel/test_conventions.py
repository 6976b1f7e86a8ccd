"""The route conventions every plugin imports from the kernel: strict schemas, hex ids, the owner
check (pure, no app)."""

from __future__ import annotations

import marshmallow as m
import pytest

from mengchong.http.conventions import AUTH, OPTIONAL_AUTH, IsoDate, StrictSchema, hex_id, is_hex_id, owned
from mengchong.http.errors import ApiError, ErrorCode


class PetPath(StrictSchema):
    pet_id = hex_id()


def test_a_strict_schema_refuses_unknown_fields_by_name():
    with pytest.raises(m.ValidationError) as raised:
        PetPath().load({"pet_id": "a" * 32, "extra": 1})
    assert raised.value.messages == {"extra": ["Unknown field."]}


@pytest.mark.parametrize("value", ["a" * 31, "a" * 33, "A" * 32, "g" * 32, "a" * 31 + "\n", ""])
def test_a_hex_id_is_exactly_32_lowercase_hex_characters(value):
    assert not is_hex_id(value)
    with pytest.raises(m.ValidationError) as raised:
        PetPath().load({"pet_id": value})
    assert raised.value.messages == {"pet_id": ["must be 32 lowercase hex characters"]}


def test_a_hex_id_field_is_required_and_documents_its_pattern():
    assert is_hex_id("0123456789abcdef" * 2)
    assert PetPath().load({"pet_id": "0123456789abcdef" * 2}) == {"pet_id": "0123456789abcdef" * 2}
    with pytest.raises(m.ValidationError, match="Missing data"):
        PetPath().load({})
    assert PetPath().fields["pet_id"].metadata["pattern"] == "^[0-9a-f]{32}$"


def test_owned_is_404_for_nothing_then_403_for_another_users_document():
    mine = {"id": "p1", "user_id": 7}
    assert owned(mine, 7, "Pet") is mine
    with pytest.raises(ApiError) as raised:
        owned(None, 7, "Pet")
    assert (raised.value.code, raised.value.message) == (ErrorCode.NOT_FOUND, "Pet not found")
    with pytest.raises(ApiError) as raised:
        owned(mine, 8, "Pet")
    assert (raised.value.code, raised.value.message) == (
        ErrorCode.FORBIDDEN,
        "This pet belongs to another user",
    )
    order = {"id": "o1", "buyer": 8}
    assert owned(order, 8, "Order", owner_field="buyer") is order


def test_the_auth_markers():
    assert AUTH == [{"bearerAuth": []}]
    assert OPTIONAL_AUTH == [{"bearerAuth": []}, {}]


class DayBody(StrictSchema):
    day = IsoDate(required=True)


@pytest.mark.parametrize(
    "value", ["2026-6-13", "2026-06-1", "20260613", "2026-02-30", " 2026-06-13", 20260613]
)
def test_an_iso_date_is_exactly_yyyy_mm_dd_and_a_real_day(value):
    with pytest.raises(m.ValidationError) as raised:
        DayBody().load({"day": value})
    assert list(raised.value.messages) == ["day"]


def test_an_iso_date_loads_as_a_date():
    from datetime import date

    assert DayBody().load({"day": "2026-06-13"}) == {"day": date(2026, 6, 13)}
