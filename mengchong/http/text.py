"""What text the server accepts, checked once for every request: JSON bodies nested at most
:data:`MAX_JSON_DEPTH` deep, and no string (a value or a key, in a body, a query or a path) that a
database can't store or that is only there to confuse: NUL and other control characters, lone
UTF-16 surrogates, non-characters. Display names (nicknames, pet names) are held to more:
:func:`display_name_problem` also refuses line breaks, tabs, bidi overrides and zero-width
characters, with which one name can pass for another.

Each refusal is a 400 naming the field, raised before a schema or a handler sees the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mengchong.http.errors import ApiError, ErrorCode, FieldError

MAX_JSON_DEPTH = 32
"""Deeper than any body of ours (the deepest is 3); a limit keeps parsing and storing bounded."""

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls; surrogates (only
# lone ones reach a str: a JSON parser pairs the rest); the non-characters U+FFFE and U+FFFF.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Line breaks and tabs, the Arabic letter mark, zero-width spaces and joiners, left-to-right and
# right-to-left marks, embeddings, overrides and isolates, word joiner and invisible operators,
# the byte-order mark.
_SPOOFING = re.compile("[\t\n\r\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` can't be stored, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return f"contains a character that is not allowed (U+{ord(found.group()):04X})"


def storable(value: str) -> str:
    """``value`` with every character a database can't store replaced by U+FFFD, for text we keep
    but did not ask for (a User-Agent header, say)."""
    return _UNSTORABLE.sub("\ufffd", value)


def display_name_problem(value: str) -> str | None:
    """Why ``value`` can't be a name shown to other people, or None when it can."""
    problem = text_problem(value)
    if problem is not None:
        return problem
    found = _SPOOFING.search(value)
    if found is None:
        return None
    return f"contains an invisible or direction-changing character (U+{ord(found.group()):04X})"


def bad_text(field: str, problem: str) -> ApiError:
    return ApiError(ErrorCode.BAD_FIELD, f"Invalid request: {field}", [FieldError(field, problem)])


def check_parameters(items: Iterable[tuple[str, str]], location: str) -> None:
    """400 for the first query or path parameter whose name or value can't be stored."""
    for name, value in items:
        if (problem := text_problem(name)) is not None:
            raise bad_text(location, f"has a parameter name that {problem}")
        if (problem := text_problem(value)) is not None:
            raise bad_text(name, problem)


def check_json(document: Any) -> None:
    """400 for a JSON document nested over :data:`MAX_JSON_DEPTH` (40002) or holding a string,
    as a value or a key, that can't be stored (40001, the field named with dots: ``a.b.0``)."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if (problem := text_problem(value)) is not None:
                raise bad_text(path or "body", problem)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ApiError(
                    ErrorCode.MALFORMED_BODY,
                    f"The request body is nested more than {MAX_JSON_DEPTH} levels deep",
                    [FieldError(path or "body", f"nested more than {MAX_JSON_DEPTH} levels deep")],
                )
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in pairs:
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (problem := text_problem(key)) is not None:
                    raise bad_text(path or "body", f"has a key that {problem}")
                stack.append((item, name, depth + 1))
