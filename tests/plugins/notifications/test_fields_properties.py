"""Hypothesis properties of the WeChat subscribe-message field rules: cutting (never over the
limit, a prefix of the original, idempotent), strict types (the value unchanged or refused), any
number, date and time a formatter makes, placeholders and the order of rendered fields."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from mengchong_plugins.notifications.fields import (
    RULES,
    FieldError,
    field_type,
    fit,
    is_chinese,
    placeholders,
    render,
)
from notifications_support import CUT_KEYS, STRICT_KEYS

quick = settings(max_examples=200, derandomize=True, database=None, deadline=None)

any_text = st.text(max_size=60)
plain_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60)
chinese = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=12)


def without_controls(value: str) -> str:
    return "".join(" " if unicodedata.category(char) == "Cc" else char for char in value)


def limit_of(key: str, value: str) -> int:
    rule = RULES[field_type(key)]
    has_chinese = any(is_chinese(char) for char in value)
    return rule.chinese_limit if rule.chinese_limit and has_chinese else rule.limit


@quick
@given(key=st.sampled_from(CUT_KEYS), value=any_text)
def test_a_cut_value_is_never_over_its_limit_and_fitting_it_again_changes_nothing(key, value):
    try:
        fitted = fit(key, value)
    except FieldError:
        assert not without_controls(value).strip() or key == "phrase3"
        return
    assert 0 < len(fitted) <= RULES[field_type(key)].limit
    assert len(fitted) <= limit_of(key, fitted)
    assert fit(key, fitted) == fitted


@quick
@given(value=plain_text.filter(lambda text: text.strip()))
def test_cutting_a_thing_keeps_a_prefix_of_the_original(value):
    stripped = value.strip()
    fitted = fit("thing1", value)
    if len(stripped) <= 20:
        assert fitted == stripped
    else:
        assert len(fitted) == 20
        assert fitted.endswith("…")
        assert stripped.startswith(fitted[:-1])


@quick
@given(value=chinese)
def test_a_chinese_phrase_is_its_first_five_characters(value):
    assert fit("phrase1", value) == value[:5]


@quick
@given(key=st.sampled_from(STRICT_KEYS), value=any_text)
def test_a_strict_type_sends_the_value_unchanged_or_refuses_it(key, value):
    try:
        fitted = fit(key, value)
    except FieldError:
        return
    assert fitted == value.strip()


@quick
@given(number=st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1e12, max_value=1e12))
def test_any_decimal_number_is_a_number(number):
    assert fit("number1", str(number)) == str(number)


@quick
@given(
    start=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    end=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    day_format=st.sampled_from(["%Y-%m-%d", "{y}年{m}月{d}日"]),
    clock_format=st.sampled_from(["%H:%M", "%H:%M:%S"]),
)
def test_any_formatted_moment_or_range_of_them_is_a_time_and_a_date(start, end, day_format, clock_format):
    def day(moment: datetime) -> str:
        return moment.strftime(day_format).format(y=moment.year, m=moment.month, d=moment.day)

    clock, other_clock = start.strftime(clock_format), end.strftime(clock_format)
    for value in (
        clock,
        f"{clock}~{other_clock}",
        f"{day(start)} {clock}",
        f"{day(start)} {clock}~{day(end)} {other_clock}",
    ):
        assert fit("time1", value) == value
    for value in (day(start), f"{day(start)}~{day(end)}", f"{day(start)} {clock}"):
        assert fit("date1", value) == value


names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@quick
@given(
    used=st.lists(names, min_size=0, max_size=5), literal=st.text(st.characters(blacklist_characters="{}"))
)
def test_placeholders_finds_exactly_the_names_used(used, literal):
    template = literal.join(f"{{{name}}}" for name in used) + literal
    assert placeholders(template) == set(used)


@quick
@given(order=st.permutations(["thing1", "number2", "time3", "phrase4", "letter5"]))
def test_render_keeps_the_order_of_the_fields(order):
    templates = {"thing1": "{a}", "number2": "{n}", "time3": "{t}", "phrase4": "完成", "letter5": "ok"}
    fields = {key: templates[key] for key in order}
    assert list(render(fields, {"a": "x", "n": 1, "t": "12:00"})) == order
