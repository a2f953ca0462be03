"""The one tokeniser (section 8.3 of docs/gypsum-api.md), shared by the indexer and search."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from gypsum_flows.tokens import split_into_tokens


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("F-35 Lightning II", ["f-35", "lightning", "ii"]),
        ("Müller", ["muller"]),
        ("every人", ["every人"]),
        ("Aaron's", ["aaron", "s"]),
        ("mouse MOUSE Mouse, rat", ["mouse", "rat"]),
        ("Crème brûlée", ["creme", "brulee"]),
        ("ﬁne ①", ["fine", "1"]),  # NFKD compatibility forms
        ("a^b c`d", ["ab", "cd"]),  # spacing diacritics are removed, not split on
        ("snake_case/path.txt", ["snake", "case", "path", "txt"]),
        ("\ue000private", ["\ue000private"]),
        ("  ,;  ", []),
    ],
)
def test_split_into_tokens(text: str, tokens: list[str]) -> None:
    assert split_into_tokens(text) == tokens


def test_partial_keeps_like_wildcards() -> None:
    assert split_into_tokens("Brai% cell_line", keep="%_") == ["brai%", "cell_line"]
    assert split_into_tokens("Brai% cell_line") == ["brai", "cell", "line"]


def test_word_class_is_exactly_unicode_letters_and_numbers() -> None:
    """The tokeniser relies on [^\\W_] meaning \\p{L}|\\p{N}; check it on this Python's Unicode tables."""
    word = re.compile(r"[^\W_]")
    mismatches = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if bool(word.match(chr(cp))) != (unicodedata.category(chr(cp))[0] in "LN")
    ]
    assert mismatches == []
