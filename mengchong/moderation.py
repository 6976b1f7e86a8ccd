"""The sensitive-word filter for user-visible text (nicknames, pet names).

Aho-Corasick over a word list, on text normalised so that evasion is caught: NFKC folds
full-width and compatibility forms (ｆｕｃｋ -> fuck), casefold folds case, and every space,
punctuation mark, symbol and control character is dropped, so "f u.c-k" and "傻 逼" match.
Matching ignores those characters on both sides, which may also catch words spanning two
real words; for short names that trade is the right one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import ahocorasick
from aiohttp import web

from mengchong.http.errors import ApiError, ErrorCode, field_error
from mengchong.http.text import display_name_problem
from mengchong.keys import settings_key, wechat_key, word_filter_key
from mengchong.wechat import WechatError

DROPPED_CATEGORIES = ("Z", "P", "S", "C")  # separators, punctuation, symbols, controls/format


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not unicodedata.category(ch).startswith(DROPPED_CATEGORIES))


def read_word_list(path: str | None) -> list[str]:
    """Words from a UTF-8 file, one per line, ``#`` comments; the built-in list when path is empty."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = resources.files("mengchong.data").joinpath("sensitive_words.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


class SensitiveWordFilter:
    def __init__(self, words: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        count = 0
        for word in words:
            key = normalise(word)
            if key:
                self._automaton.add_word(key, key)
                count += 1
        self.size = count
        if count:
            self._automaton.make_automaton()

    def find(self, text: str) -> list[str]:
        """The (normalised) blocked words the text contains, in order of appearance."""
        if not self.size:
            return []
        return [word for _, word in self._automaton.iter(normalise(text))]

    def is_clean(self, text: str) -> bool:
        return not self.find(text)


async def checked_text(request: web.Request, field: str, value: str, openid: str, max_length: int) -> str:
    """User-visible text as it will be stored: trimmed, 1..max_length characters, no invisible or
    direction-changing characters (400), free of blocked words (422 naming the field) and, when
    configured, passed by WeChat's content check."""
    app = request.app
    text = value.strip()
    if not 1 <= len(text) <= max_length:
        raise field_error(field, f"must be 1-{max_length} characters after trimming")
    if (problem := display_name_problem(text)) is not None:
        raise field_error(field, problem)
    if not app[word_filter_key].is_clean(text):
        raise field_error(field, "contains a blocked word", ErrorCode.SENSITIVE_CONTENT)
    settings = app[settings_key]
    if settings.moderation.wechat_check and settings.wechat.mode == "live":
        try:
            suggest = await app[wechat_key].check_text(text, openid)
        except WechatError as exc:
            raise ApiError(
                ErrorCode.WECHAT_FAILED, f"WeChat content check failed ({exc.errcode})", status=502
            ) from None
        if suggest != "pass":
            raise field_error(field, "was refused by WeChat's content check", ErrorCode.SENSITIVE_CONTENT)
    return text
