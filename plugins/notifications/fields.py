"""WeChat subscribe-message field rules: render a template's fields and make each value valid.

A template in config.toml maps each data field (``thing1``, ``number2``, ``time3``...) to a Python
format string over a context built from an event. WeChat refuses a whole send (errcode 47003) when
one value breaks the rule of its field's type, so the values are checked here before sending: free
text that is too long is cut with an ellipsis, any other value that breaks its rule is a
:class:`FieldError`. The rules are those of subscribeMessage.send's "参数值内容限制说明" table and live
in :data:`RULES`, the one place their limits are written. Pure functions: no I/O, no configuration.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from string import Formatter
from typing import Any

ELLIPSIS = "…"
RANGE = re.compile(r" ?~ ?")  # "15:00~16:00", "15:00 ~ 16:00"
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")  # WeChat: no line feeds or other control characters
# [0-9], not \d: \d also matches non-ASCII digits, which WeChat does not count as digits.
NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
LETTERS = re.compile(r"[A-Za-z]+")
PRINTABLE_ASCII = re.compile(r"[!-~]+")  # digits, letters and symbols: no space
AMOUNT = re.compile(r"[¥$€£￥]?[0-9]+(?:\.[0-9]+)?元?")
PHONE = re.compile(r"[0-9+\-() ]*[0-9][0-9+\-() ]*")
CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?")
ISO_DAY = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})")
CHINESE_DAY = re.compile(r"(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日")
KEY = re.compile(r"(?P<type>[a-z_]+)[0-9]+")


class FieldError(ValueError):
    """A template field that can't be sent: ``key`` names it, ``reason`` says what and the rule."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


def is_chinese(char: str) -> bool:
    """Whether ``char`` is a CJK Unified Ideograph (any extension block), what WeChat calls 汉字."""
    return unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH")


def is_symbol(char: str) -> bool:
    """A punctuation mark or symbol that is not wide. CJK punctuation ("，" "。"), full-width forms
    ("！" "￥") and emoji are wide: WeChat's symbols exclude Chinese, so none of them is trusted."""
    wide = unicodedata.east_asian_width(char) in ("W", "F")
    return unicodedata.category(char)[0] in "PS" and not wide


def _all_chinese(value: str) -> bool:
    return all(is_chinese(char) for char in value)


def _symbols(value: str) -> bool:
    return all(is_symbol(char) for char in value)


def _alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _car_number(value: str) -> bool:
    """粤A8Z888挂: ASCII letters and digits, the first and the last character may be Chinese."""
    ends_ok = all(_alnum(char) or is_chinese(char) for char in (value[0], value[-1]))
    return ends_ok and all(_alnum(char) for char in value[1:-1]) and any(_alnum(char) for char in value)


def _day(text: str) -> bool:
    found = ISO_DAY.fullmatch(text) or CHINESE_DAY.fullmatch(text)
    if found is None:
        return False
    try:
        date(int(found["y"]), int(found["m"]), int(found["d"]))
    except ValueError:  # 2026-02-30, month 13, year 0
        return False
    return True


def _moment(text: str, *, needs_day: bool) -> bool:
    """One point in time: a day and a clock time, or (as ``needs_day`` says) one of the two."""
    parts = text.split(" ")
    if len(parts) == 2:
        return _day(parts[0]) and CLOCK.fullmatch(parts[1]) is not None
    if len(parts) == 1:
        return _day(text) if needs_day else CLOCK.fullmatch(text) is not None
    return False


def _span(value: str, *, needs_day: bool) -> bool:
    points = RANGE.split(value)
    return len(points) <= 2 and all(_moment(point, needs_day=needs_day) for point in points)


@dataclass(frozen=True)
class Rule:
    """One field type's rule.

    ``limit`` is in characters (``chinese_limit`` instead when the value has a Chinese character,
    ``digits`` the digits of an amount). A ``cut`` type shortens a value over its limit (with
    ``ellipsis``, unless the ellipsis itself would break ``check``); other types refuse it.
    ``check`` is the rule on the characters, ``what`` the English noun of a valid value and
    ``text`` the rule as shown in a :class:`FieldError`.
    """

    what: str
    text: str
    limit: int | None = None
    cut: bool = False
    check: Callable[[str], bool] | None = None
    chinese_limit: int | None = None
    digits: int | None = None
    ellipsis: bool = True


RULES: dict[str, Rule] = {
    "thing": Rule("text", "up to 20 characters, longer is cut", limit=20, cut=True),
    "short_thing": Rule("text", "up to 5 characters, longer is cut", limit=5, cut=True),
    "phrase": Rule(
        "a phrase",
        "Chinese characters only, up to 5, longer is cut",
        limit=5,
        cut=True,
        check=_all_chinese,
        ellipsis=False,  # "…" is not a Chinese character
    ),
    "name": Rule(
        "a name",
        "up to 10 characters with a Chinese character, else 20, longer is cut",
        limit=20,
        cut=True,
        chinese_limit=10,
    ),
    "number": Rule(
        "a number",
        "digits, optionally one '.' and a leading '-', up to 32 characters",
        limit=32,
        check=lambda value: NUMBER.fullmatch(value) is not None,
    ),
    "letter": Rule(
        "letters", "ASCII letters only, up to 32", limit=32, check=lambda v: LETTERS.fullmatch(v) is not None
    ),
    "symbol": Rule(
        "symbols", "symbols only (no letters, digits, spaces or CJK), up to 5", limit=5, check=_symbols
    ),
    "character_string": Rule(
        "a character string",
        "ASCII digits, letters and symbols, no spaces, up to 32 characters",
        limit=32,
        check=lambda value: PRINTABLE_ASCII.fullmatch(value) is not None,
    ),
    "amount": Rule(
        "an amount",
        "an optional currency symbol (¥ $ € £ ￥), up to 10 digits with an optional decimal part, "
        "an optional '元' at the end",
        check=lambda value: AMOUNT.fullmatch(value) is not None,
        digits=10,
    ),
    "phone_number": Rule(
        "a phone number",
        "digits and + - ( ) or spaces, up to 17 characters",
        limit=17,
        check=lambda value: PHONE.fullmatch(value) is not None,
    ),
    "car_number": Rule(
        "a car number",
        "letters or digits, the first and last may be Chinese characters, up to 8 characters",
        limit=8,
        check=_car_number,
    ),
    "time": Rule(
        "a time",
        "HH:MM or HH:MM:SS, optionally after YYYY-MM-DD or YYYY年M月D日, or a range 'a~b' of those",
        check=lambda value: _span(value, needs_day=False),
    ),
    "date": Rule(
        "a date",
        "YYYY-MM-DD or YYYY年M月D日, optionally followed by HH:MM[:SS], or a range 'a~b' of those",
        check=lambda value: _span(value, needs_day=True),
    ),
}


def _shown(value: str) -> str:
    """``value`` quoted for a message, long user text shortened."""
    return repr(value if len(value) <= 40 else value[:39] + ELLIPSIS)


def field_type(key: str) -> str:
    """A template field's type: ``thing1`` -> ``thing``, ``character_string12`` -> ``character_string``."""
    found = KEY.fullmatch(key)
    if found is None or found["type"] not in RULES:
        known = ", ".join(RULES)
        raise FieldError(
            key, f"{key}: unknown WeChat field type (a key is a type and digits; types: {known})"
        )
    return found["type"]


def _digits(value: str) -> int:
    return sum(char in "0123456789" for char in value)


def fit(key: str, value: str) -> str:
    """``value`` made valid for field ``key`` (see :data:`RULES`), or :class:`FieldError`.

    Surrounding whitespace goes, and in free text (the cut types) control characters become
    spaces. A cut value keeps its first ``limit - 1`` characters and ends in "…".
    """
    rule = RULES[field_type(key)]
    if rule.cut:
        value = CONTROLS.sub(" ", value)
    value = value.strip()
    if not value:
        raise FieldError(key, f"{key}: the value is empty (WeChat refuses empty values)")
    if rule.check is not None and not rule.check(value):
        raise FieldError(key, f"{key}: {_shown(value)} is not {rule.what} ({rule.text})")
    limit = rule.limit
    if rule.chinese_limit is not None and any(is_chinese(char) for char in value):
        limit = rule.chinese_limit
    if limit is not None and len(value) > limit:
        if not rule.cut:
            raise FieldError(key, f"{key}: {_shown(value)} is over {limit} characters ({rule.text})")
        value = value[: limit - 1] + ELLIPSIS if rule.ellipsis else value[:limit]
    if rule.digits is not None and _digits(value) > rule.digits:
        raise FieldError(key, f"{key}: {_shown(value)} has over {rule.digits} digits ({rule.text})")
    return value


def _problems(template: str) -> tuple[set[str], list[str]]:
    """The names ``template`` uses and what is wrong with it (nested ``{a:{width}}`` included)."""
    names: set[str] = set()
    problems: list[str] = []
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as error:  # "{a", "}", "{a!}"...
        return names, [f"{template!r} is not a well-formed format string ({error})"]
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name == "" or name.isdigit():
            problems.append(f"{template!r} has a positional {{{name}}}: name each value, as in {{points}}")
        elif "." in name or "[" in name:
            problems.append(f"{template!r} uses {{{name}}}: no attribute or index access, only {{name}}")
        elif not name.isidentifier():
            problems.append(f"{template!r} uses {{{name}}}: a name is letters, digits and '_'")
        else:
            names.add(name)
        if conversion not in (None, "r", "s", "a"):
            problems.append(f"{template!r} has the conversion !{conversion}: only !r, !s and !a exist")
        if "{" in spec:
            nested_names, nested_problems = _problems(spec)
            names |= nested_names
            problems += nested_problems
    return names, problems


def placeholders(template: str, *, key: str = "") -> set[str]:
    """The ``{names}`` format string ``template`` uses; :class:`FieldError` (for ``key``) if
    it is malformed, positional (``{}``, ``{0}``) or reaches into a value (``{a.b}``, ``{a[0]}``)."""
    names, problems = _problems(template)
    if problems:
        raise FieldError(key, "; ".join(f"{key}: {problem}" if key else problem for problem in problems))
    return names


def render(fields: Mapping[str, str], context: Mapping[str, Any]) -> dict[str, str]:
    """Every field's format string formatted with ``context`` and :func:`fit`, in the fields' order."""
    values: dict[str, str] = {}
    for key, template in fields.items():
        field_type(key)
        missing = sorted(name for name in placeholders(template, key=key) if name not in context)
        if missing:
            raise FieldError(key, f"{key}: {template!r} needs {', '.join(missing)}, not in the context")
        try:
            text = template.format_map(context)
        except (KeyError, ValueError, TypeError) as error:  # a spec the value can't take: {name:d}
            raise FieldError(key, f"{key}: {template!r} can't be formatted ({error!r})") from error
        values[key] = fit(key, text)
    return values


def check_template(fields: Mapping[str, str], known: set[str]) -> None:
    """At startup: every key has a known type, every format string is well formed and uses only
    ``known`` names, and a string without names is a valid value. Raises :class:`FieldError` with
    every problem of the first bad field."""
    for key, template in fields.items():
        problems: list[str] = []
        try:
            field_type(key)
        except FieldError as error:
            problems.append(error.reason)
        names, template_problems = _problems(template)
        problems += [f"{key}: {problem}" for problem in template_problems]
        unknown = sorted(names - known)
        if unknown:
            problems.append(
                f"{key}: {template!r} uses {', '.join(unknown)}, "
                f"not among the known names ({', '.join(sorted(known)) or 'none'})"
            )
        if not problems and not names:
            try:
                fit(key, template.format_map({}))
            except FieldError as error:
                problems.append(error.reason)
        if problems:
            raise FieldError(key, "; ".join(problems))
