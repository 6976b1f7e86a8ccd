"""Fast tests of the WeChat subscribe-message field rules: field types, format strings, the rule
of each type (values WeChat takes and values it refuses), rendering and the startup check. The
hypothesis properties are in test_fields_properties.py."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import datetime

import pytest

from mengchong_plugins.notifications.fields import (
    RULES,
    FieldError,
    check_template,
    field_type,
    fit,
    placeholders,
    render,
)
from notifications_support import CUT_KEYS, STRICT_KEYS


def refusal(key: str, value: str) -> FieldError:
    with pytest.raises(FieldError) as caught:
        fit(key, value)
    assert caught.value.key == key
    assert caught.value.reason.startswith(f"{key}: ")
    return caught.value


def test_a_field_error_is_a_value_error_saying_its_reason():
    error = FieldError("number2", "number2: bad")
    assert isinstance(error, ValueError)
    assert (error.key, error.reason, str(error)) == ("number2", "number2: bad", "number2: bad")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("thing1", "thing"),
        ("thing12", "thing"),
        ("short_thing3", "short_thing"),
        ("character_string12", "character_string"),
        ("phone_number01", "phone_number"),
        ("time3", "time"),
    ],
)
def test_the_type_of_a_key_is_its_name_before_the_digits(key, expected):
    assert field_type(key) == expected


@pytest.mark.parametrize("key", ["thing", "things1", "Thing1", "1thing", "thing1a", "thing 1", "enum1", ""])
def test_a_key_of_no_known_type_is_refused(key):
    with pytest.raises(FieldError, match="unknown WeChat field type") as caught:
        field_type(key)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("{pet_name}饿了", {"pet_name"}),
        ("{points}", {"points"}),
        ("{points:d} / {total:>5} {pet_name!r}", {"points", "total", "pet_name"}),
        ("{a}{a}", {"a"}),
        ("{level:{width}}", {"level", "width"}),
        ("签到成功", set()),
        ("{{literal}}", set()),
        ("{{literal}} {a} {{b}}", {"a"}),
    ],
)
def test_placeholders_are_the_names_a_format_string_uses(template, names):
    assert placeholders(template) == names


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{}点", "positional"),
        ("{0}点", "positional"),
        ("{pet.name}", "no attribute or index"),
        ("{pets[0]}", "no attribute or index"),
        ("{0.name}", "no attribute or index"),
        ("{pet name}", "a name is letters"),
        ("{points!x}", "conversion !x"),
        ("{points", "not a well-formed"),
        ("points}", "not a well-formed"),
        ("{level:{}}", "positional"),
    ],
)
def test_a_format_string_that_is_not_plain_names_is_refused(template, says):
    with pytest.raises(FieldError, match=says) as caught:
        placeholders(template)
    assert caught.value.key == ""
    with pytest.raises(FieldError) as keyed:
        placeholders(template, key="thing1")
    assert keyed.value.key == "thing1"
    assert keyed.value.reason.startswith("thing1: ")


def test_a_thing_is_cut_to_20_characters_with_an_ellipsis():
    assert fit("thing1", "一" * 20) == "一" * 20
    assert fit("thing1", "一二三四五六七八九十" * 2 + "多") == "一二三四五六七八九十一二三四五六七八九…"
    assert len(fit("thing1", "x" * 100)) == 20


def test_surrounding_whitespace_goes_before_counting():
    assert fit("thing1", "  \t" + "a" * 20 + " \n") == "a" * 20
    assert fit("number2", " 42 ") == "42"


def test_control_characters_in_free_text_become_spaces():
    assert fit("thing1", "小白\n饿了\x00") == "小白 饿了"
    assert fit("name1", "Mi\r\nmi") == "Mi mi"


@pytest.mark.parametrize("key", [*CUT_KEYS, *STRICT_KEYS])
@pytest.mark.parametrize("value", ["", "   ", "\n\t"])
def test_an_empty_value_is_refused(key, value):
    assert "empty" in refusal(key, value).reason


def test_the_rule_table_cannot_be_changed_by_accident():
    with pytest.raises(FrozenInstanceError):
        RULES["thing"].limit = 30  # type: ignore[misc]


def test_a_short_thing_is_cut_to_5():
    assert fit("short_thing1", "abcde") == "abcde"
    assert fit("short_thing1", "abcdef") == "abcd…"


def test_a_phrase_is_cut_to_5_chinese_characters_without_an_ellipsis():
    assert fit("phrase1", "配送中") == "配送中"
    assert fit("phrase1", "宠物正在配送中") == "宠物正在配"


@pytest.mark.parametrize("value", ["ok", "配送 中", "配送中!", "配送1", "配送…", "配送中。"])
def test_a_phrase_with_anything_but_chinese_characters_is_refused(value):
    assert "Chinese characters only" in refusal("phrase1", value).reason


def test_a_name_with_a_chinese_character_is_cut_to_10_else_20():
    assert fit("name1", "张" * 10) == "张" * 10
    assert fit("name1", "张" * 11) == "张" * 9 + "…"
    assert fit("name1", "A" * 20) == "A" * 20
    assert fit("name1", "Alexander Hamiltons Jr") == "Alexander Hamiltons…"
    assert fit("name1", "Lily小白") == "Lily小白"
    assert fit("name1", "Lily Chen小白") == "Lily Chen…"


# One row per type, kept by hand: formatted one item a line they would fill a hundred lines.
# fmt: off
VALID = {
    "number": ["0", "42", "-3.5", "3.14", "007", "1" * 32, "-" + "1" * 31],
    "letter": ["abc", "ABCxyz", "A" * 32],
    "symbol": ["!", "#$%", "¥", "-----", "@+", "§→…"],
    "character_string": ["abc-123_XYZ", "!@#", "A" * 32, "ORDER#2026/03"],
    "amount": ["¥100", "$9.99", "100元", "￥12.5元", "1234567890", "€0.5", "£3", "12345678.90"],
    "phone_number": ["+86-0766-66888866", "(010) 1234 5678", "13800138000", "1" * 17],
    "car_number": ["粤A8Z888挂", "粤B12345", "AB12345", "A", "京A12345", "1234567警"],
    "time": [
        "15:01", "15:01:59", "00:00", "23:59", "2019-10-01 15:01", "2019-10-01 15:01:30",
        "2019年10月1日 15:01", "2024年2月29日 08:00:00", "15:01~16:00", "15:01 ~ 16:00",
        "2019年10月1日 15:01~2019年10月1日 18:00", "2019-10-01 23:00~2019-10-02 01:00",
    ],
    "date": [
        "2019-10-01", "2019年10月1日", "2019年01月05日", "2024-02-29", "2019-10-01 15:01",
        "2019年10月1日 15:01:30", "2019-10-01~2019-10-07", "2019年10月1日 ~ 2019年10月3日",
    ],
}

INVALID = {
    "number": ["abc", "1.2.3", "1.", ".5", "+1", "1e5", "１２", "1,000", "- 1", "1 000", "--1", "1" * 33],
    "letter": ["abc1", "ab c", "é", "ab-c", "字", "A" * 33],
    "symbol": ["a", "1", "! !", "，", "。", "、", "！", "￥", "😀", "中", "!!!!!!", "!a"],
    "character_string": ["ab c", "中文", "é", "A" * 33, "tab\there"],
    "amount": ["100美元", "¥", "¥¥1", "12345678901", "123456789.01", "1,000", "-5", "5.", "元",
               "100 元", "USD5"],
    "phone_number": ["+86-0766-668888661", "call me", "+-()", "12#3", "１３８"],
    "car_number": ["粤A8Z8888挂", "粤A8 888", "粤中123", "粤挂", "粤", "A-123", "AB12-3", "AB123-", "-AB123",
                   "粤a8z888挂中"],
    "time": [
        "24:00", "15:60", "15:01:60", "5:01", "15:1", "2019-10-01", "2019-02-30 10:00", "2019-10-01T15:01",
        "2019-10-01  15:01", "15:01~", "~15:01", "15:01~16:00~17:00", "15:01-16:00", "noon",
    ],
    "date": [
        "2019-13-01", "2019-1-01", "2019/10/01", "15:01", "2019-02-29", "0000-01-01", "2019年13月1日",
        "2019-10-01 25:00", "2019-10-01~", "十月一日",
    ],
}
# fmt: on


@pytest.mark.parametrize(
    ("kind", "value"), [(kind, value) for kind, values in VALID.items() for value in values]
)
def test_a_valid_value_of_a_strict_type_is_sent_as_it_is(kind, value):
    assert fit(f"{kind}7", value) == value


@pytest.mark.parametrize(
    ("kind", "value"), [(kind, value) for kind, values in INVALID.items() for value in values]
)
def test_an_invalid_value_of_a_strict_type_is_refused_with_the_rule(kind, value):
    reason = refusal(f"{kind}7", value).reason
    assert RULES[kind].text in reason


def test_the_reason_names_the_field_the_value_and_the_rule():
    assert refusal("number2", "abc").reason == (
        "number2: 'abc' is not a number (digits, optionally one '.' and a leading '-', up to 32 characters)"
    )
    assert refusal("letter1", "A" * 33).reason.startswith(f"letter1: {'A' * 33!r} is over 32 characters")
    assert repr("x" * 40) in refusal("number2", "x" * 40).reason
    long = refusal("number2", "x" * 41).reason
    assert repr("x" * 39 + "…") in long
    assert "x" * 40 not in long


def test_render_formats_every_field_in_order_and_fits_it():
    fields = {"time3": "{when:%Y-%m-%d %H:%M}", "thing1": "{pet_name}饿了", "number2": "{points:d}"}
    context = {"pet_name": "小白" * 10, "points": 35, "when": datetime(2026, 3, 15, 8, 5), "unused": 1}
    rendered = render(fields, context)
    assert rendered == {"time3": "2026-03-15 08:05", "thing1": "小白" * 9 + "小…", "number2": "35"}
    assert list(rendered) == ["time3", "thing1", "number2"]
    assert render({}, context) == {}
    assert render({"thing1": "{{{pet_name}}}"}, {"pet_name": "Mimi"}) == {"thing1": "{Mimi}"}


def test_render_refuses_a_missing_context_key_naming_the_field_and_the_keys():
    with pytest.raises(FieldError) as caught:
        render({"thing1": "{pet_name}", "number2": "{points}/{total}"}, {"pet_name": "Mimi"})
    assert caught.value.key == "number2"
    assert "points, total" in caught.value.reason


def test_render_refuses_a_value_its_format_spec_does_not_fit():
    with pytest.raises(FieldError, match="can't be formatted") as caught:
        render({"number2": "{points:d}"}, {"points": "35"})
    assert caught.value.key == "number2"


def test_render_refuses_a_value_that_breaks_the_rule_and_an_unknown_type():
    with pytest.raises(FieldError, match="is not a number") as caught:
        render({"thing1": "{a}", "number2": "{a}"}, {"a": "five"})
    assert caught.value.key == "number2"
    with pytest.raises(FieldError, match="unknown WeChat field type"):
        render({"enum1": "{a}"}, {"a": "x"})
    with pytest.raises(FieldError, match="empty"):
        render({"thing1": "{a}"}, {"a": " "})


KNOWN = {"pet_name", "points", "when"}


def test_a_good_template_passes_the_check():
    check_template({"thing1": "{pet_name}饿了", "number2": "{points:d}", "time3": "{when:%H:%M}"}, KNOWN)
    check_template({"phrase4": "已完成", "thing5": "{{每日}}签到"}, KNOWN)
    check_template({}, KNOWN)


@pytest.mark.parametrize(
    ("fields", "key", "says"),
    [
        ({"thing1": "{pet_name}", "things2": "{points}"}, "things2", ["unknown WeChat field type"]),
        ({"thing1": "{owner}{pet_name}{age}"}, "thing1", ["age, owner", "not among the known names"]),
        ({"thing1": "{pet_name", "number2": "{}"}, "thing1", ["not a well-formed"]),
        ({"number2": "{}{pet.name}"}, "number2", ["positional", "no attribute or index"]),
        ({"enum1": "{who}"}, "enum1", ["unknown WeChat field type", "who"]),
        ({"number2": "abc"}, "number2", ["is not a number"]),
        ({"thing1": "   "}, "thing1", ["empty"]),
    ],
)
def test_the_check_reports_every_problem_of_the_first_bad_field(fields, key, says):
    with pytest.raises(FieldError) as caught:
        check_template(fields, KNOWN)
    assert caught.value.key == key
    for words in says:
        assert words in caught.value.reason


def test_the_check_names_no_known_names_when_there_are_none():
    with pytest.raises(FieldError, match=r"\(none\)"):
        check_template({"thing1": "{pet_name}"}, set())
