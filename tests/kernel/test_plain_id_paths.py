"""Paths made only of ``hex_id()`` fields are checked by the id pattern instead of marshmallow's
load: for any path values, that check accepts exactly what the load accepts and gives what the
load gives; a schema with any other field, option or hook always goes through the load."""

from __future__ import annotations

from typing import Any

import marshmallow as m
from hypothesis import given
from hypothesis import strategies as st

from mengchong.http.conventions import StrictSchema, hex_id
from mengchong.http.validation import _hex_id_fields, _plain_ids


class TwoIds(StrictSchema):
    pet_id = hex_id()
    task_id = hex_id()


class Hooked(StrictSchema):
    pet_id = hex_id()

    @m.post_load
    def changed(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "seen": True}


class Mixed(StrictSchema):
    pet_id = hex_id()
    page = m.fields.Integer(required=True)


class Renamed(StrictSchema):
    pet_id = hex_id(data_key="petId")


HEX = "0123456789abcdef"
ids = st.one_of(
    st.text(alphabet=HEX, min_size=32, max_size=32),
    st.text(alphabet=HEX + "ABCDEF-g \n", min_size=30, max_size=34),
    st.text(max_size=40),
)


@given(pet_id=ids, task_id=ids, extra=st.none() | st.text(max_size=3))
def test_the_check_accepts_exactly_what_the_load_accepts_and_gives_the_same(pet_id, task_id, extra):
    values = {"pet_id": pet_id, "task_id": task_id}
    if extra is not None:
        values["other"] = extra
    schema = TwoIds()
    try:
        loaded: dict[str, Any] | None = schema.load(values)
    except m.ValidationError:
        loaded = None
    if _plain_ids(schema, values):
        assert loaded == values
    else:
        assert loaded is None


def test_only_plain_hex_id_schemas_take_the_check():
    assert _hex_id_fields(TwoIds()) == {"pet_id", "task_id"}
    for schema in (Hooked(), Mixed(), Renamed()):
        assert _hex_id_fields(schema) == frozenset()
        assert not _plain_ids(schema, {"pet_id": "a" * 32})
