"""The sensitive-word filter catches full-width, spaced, punctuated and mixed-case variants."""

from __future__ import annotations

import pytest

from mengchong.moderation import SensitiveWordFilter, normalise, read_word_list


@pytest.fixture(scope="module")
def word_filter() -> SensitiveWordFilter:
    return SensitiveWordFilter(read_word_list(None))


@pytest.mark.parametrize(
    "text",
    [
        "傻逼",
        "你是傻逼吗",
        "傻 逼",
        "傻\u3000逼",  # ideographic space
        "傻.逼",
        "傻*逼!",
        "fuck",
        "FuCk",
        "ｆｕｃｋ",  # full-width
        "Ｆ Ｕ Ｃ Ｋ",
        "f-u_c.k",
        "f\u200bu\u200bc\u200bk",  # zero-width spaces
        "my bitch dog",
        "ＳＨＩＴ",
    ],
)
def test_variants_are_caught(word_filter, text):
    assert not word_filter.is_clean(text)


@pytest.mark.parametrize("text", ["小白", "Fluffy", "旺财", "Mr. Whiskers", "毛毛 2号", "shiba", "Peanut"])
def test_ordinary_names_pass(word_filter, text):
    assert word_filter.is_clean(text)


def test_normalise_folds_width_case_and_separators():
    assert normalise("Ｈｅｌｌｏ, World！") == "helloworld"


def test_a_word_list_file_replaces_the_built_in_one(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# ours\n坏词\n\nBad Word\n", encoding="utf-8")
    custom = SensitiveWordFilter(read_word_list(str(words)))
    assert custom.size == 2
    assert custom.find("这是坏 词和BADWORD") == ["坏词", "badword"]
    assert custom.is_clean("傻逼")  # not in this list


def test_an_empty_list_blocks_nothing():
    assert SensitiveWordFilter([]).is_clean("anything")
