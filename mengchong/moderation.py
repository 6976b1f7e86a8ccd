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
