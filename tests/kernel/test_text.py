"""The text rules, as pure functions: what a database can't store, what a display name may not
hold, and how deep a JSON body may nest (exactly at the limit, and one past it)."""

from __future__ import annotations

import pytest

from mengchong.http.errors import ApiError
from mengchong.http.text import (
    MAX_JSON_DEPTH,
    check_json,
    check_parameters,
    display_name_problem,
    storable,
    text_problem,
)


def nested(depth: int) -> object:
    value: object = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def test_nesting_exactly_at_the_limit_passes_and_one_more_is_refused():
    check_json(nested(MAX_JSON_DEPTH))
    with pytest.raises(ApiError) as refused:
        check_json(nested(MAX_JSON_DEPTH + 1))
    assert refused.value.code == 40002


def test_scalars_and_empty_containers_pass():
    for document in (None, 1, 1.5, True, "text", [], {}, {"a": [1, {"b": "c"}]}):
        check_json(document)


@pytest.mark.parametrize(
    "bad", ["\x00", "\x08", "\x0b", "\x1f", "\x7f", "\x9f", "\ud800", chr(0xDFFF), "\uffff"]
)
def test_unstorable_characters_are_named_wherever_they_are(bad):
    assert text_problem(f"a{bad}b") is not None
    with pytest.raises(ApiError) as in_value:
        check_json({"outer": [{"name": f"x{bad}"}]})
    assert [e.field for e in in_value.value.errors] == ["outer.0.name"]
    with pytest.raises(ApiError) as in_key:
        check_json({"outer": {f"k{bad}": 1}})
    assert [e.field for e in in_key.value.errors] == ["outer"]
    with pytest.raises(ApiError) as in_query:
        check_parameters([("page", f"1{bad}")], "query")
    assert [e.field for e in in_query.value.errors] == ["page"]
    assert text_problem(storable(f"a{bad}b")) is None


@pytest.mark.parametrize(
    "fine",
    [
        "\t",
        "\n",
        "\r",
        " ",
        "é",
        "小",
        "🐱",
        "\u00a0",
        "\ud83d\udc31".encode("utf-16", "surrogatepass").decode("utf-16"),
    ],
)
def test_ordinary_text_is_storable(fine):
    assert text_problem(f"a{fine}b") is None


@pytest.mark.parametrize(
    "spoof",
    ["\u202e", "\u202a", "\u2066", "\u200b", "\u200d", "\u200e", "\ufeff", "\n", "\t", "\u2028", "\u061c"],
)
def test_display_names_refuse_what_hides_or_turns_text(spoof):
    assert text_problem(f"ab{spoof}cd") is None or spoof in "\n\t"
    assert display_name_problem(f"ab{spoof}cd") is not None


@pytest.mark.parametrize("name", ["小白", "Zoë", "مرحبا", "a b", "ありがとう", "🐱🐶"])
def test_display_names_keep_what_people_write(name):
    assert display_name_problem(name) is None
