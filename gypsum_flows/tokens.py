"""The one tokeniser of the metadata index, shared by the indexer and by search.

It follows ``splitIntoTokens`` of gypsum-metadata-index (section 8.3 of
docs/gypsum-api.md): NFKD-normalise, remove ``\\p{Diacritic}`` characters, lower-case,
split on anything that is not a Unicode letter, number, private-use character
or ``-``, drop empty pieces and duplicates (first occurrence order).

Example:
    >>> split_into_tokens("F-35 Lightning II")
    ['f-35', 'lightning', 'ii']
    >>> split_into_tokens("Müller, every人, Aaron's")
    ['muller', 'every人', 'aaron', 's']
"""

from __future__ import annotations

import functools
import re
import unicodedata

#: Code points with the Unicode ``Diacritic`` property (Unicode 17, as in the
#: Node.js that runs the reference indexer). Python's ``unicodedata`` has no
#: such property, and ``combining()`` alone misses spacing marks such as ``^``.
_DIACRITIC_RANGES = """
5E 60 A8 AF B4 B7-B8 2B0-34E 350-357 35D-362 374-375 37A 384-385 483-487 559 591-5BD 5BF 5C1-5C2 5C4-5C5
5C7 64B-652 657-658 6DF-6E0 6E5-6E6 6EA-6EC 730-74A 7A6-7B0 7EB-7F5 818-819 898-89F 8C9-8D2 8E3-8FE 93C
94D 951-954 971 9BC 9CD A3C A4D ABC ACD AFD-AFF B3C B4D B55 BCD C3C C4D CBC CCD D3B-D3C D4D DCA E3A
E47-E4C E4E EBA EC8-ECC F18-F19 F35 F37 F39 F3E-F3F F82-F84 F86-F87 FC6 1037 1039-103A 1063-1064
1069-106D 1087-108D 108F 109A-109B 135D-135F 1714-1715 1734 17C9-17D3 17DD 1939-193B 1A60 1A75-1A7C 1A7F
1AB0-1ABE 1AC1-1ACB 1ACF-1ADD 1AE0-1AEB 1B34 1B44 1B6B-1B73 1BAA-1BAB 1BE6 1BF2-1BF3 1C36-1C37 1C78-1C7D
1CD0-1CE8 1CED 1CF4 1CF7-1CF9 1D2C-1D6A 1D9B-1DBE 1DC4-1DCF 1DF5-1DFF 1FBD 1FBF-1FC1 1FCD-1FCF 1FDD-1FDF
1FED-1FEF 1FFD-1FFE 2CEF-2CF1 2E2F 302A-302F 3099-309C 30FC A66F A67C-A67D A67F A69C-A69D A6F0-A6F1
A700-A721 A788-A78A A7F1 A7F8-A7F9 A806 A82C A8C4 A8E0-A8F1 A92B-A92E A953 A9B3 A9C0 A9E5 AA7B-AA7D
AABF-AAC2 AAF6 AB5B-AB5F AB69-AB6B ABEC-ABED FB1E FE20-FE2F FF3E FF40 FF70 FF9E-FF9F FFE3 102E0
10780-10785 10787-107B0 107B2-107BA 10A38-10A3A 10A3F 10AE5-10AE6 10D22-10D27 10D4E 10D69-10D6D 10EFA
10EFD-10EFF 10F46-10F50 10F82-10F85 11046 11070 110B9-110BA 11133-11134 11173 111C0 111CA-111CC
11235-11236 112E9-112EA 1133B-1133C 1134D 11366-1136C 11370-11374 113CE-113D0 113D2-113D3 113E1-113E2
11442 11446 114C2-114C3 115BF-115C0 1163F 116B6-116B7 1172B 11839-1183A 1193D-1193E 11943 119E0 11A34
11A47 11A99 11C3F 11D42 11D44-11D45 11D97 11DD9 11F41-11F42 11F5A 13447-13455 1612F 16AF0-16AF4
16B30-16B36 16D6B-16D6C 16F8F-16F9F 16FF0-16FF1 1AFF0-1AFF3 1AFF5-1AFFB 1AFFD-1AFFE 1CF00-1CF2D
1CF30-1CF46 1D167-1D169 1D16D-1D172 1D17B-1D182 1D185-1D18B 1D1AA-1D1AD 1E030-1E06D 1E130-1E136 1E2AE
1E2EC-1E2EF 1E5EE-1E5EF 1E8D0-1E8D6 1E944-1E946 1E948-1E94A
"""

#: Private-use code points (category ``Co``), which the indexer keeps in tokens.
_PRIVATE_USE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"


def _range_class(ranges: str) -> str:
    """A regex character class body from ``"5E A8 B7-B8 ..."`` hex ranges."""
    parts = []
    for item in ranges.split():
        lo, _, hi = item.partition("-")
        parts.append(re.escape(chr(int(lo, 16))) + (f"-{re.escape(chr(int(hi, 16)))}" if hi else ""))
    return "".join(parts)


_DIACRITIC = re.compile(f"[{_range_class(_DIACRITIC_RANGES)}]+")
#: The same removal for ASCII text (NFKD leaves it unchanged): a plain character deletion.
_ASCII_DIACRITICS = str.maketrans("", "", "".join(c for c in map(chr, range(128)) if _DIACRITIC.match(c)))


@functools.cache
def _separators(keep: str) -> re.Pattern[str]:
    """Runs of characters that split tokens; ``keep`` lists extra characters to keep."""
    # In Python's ``re``, [^\W_] is exactly the Unicode letters (L*) and numbers (N*).
    extra = re.escape("-" + keep.replace("_", ""))
    underscore = "" if "_" in keep else "|_"
    return re.compile(f"(?:[^\\w{extra}{_PRIVATE_USE}]{underscore})+")


def split_into_tokens(text: str, keep: str = "") -> list[str]:
    """Split ``text`` into the index's search tokens.

    Args:
        text: Any string (a metadata value or a query).
        keep: Extra characters kept inside tokens, e.g. ``"%_"`` for partial
            (``LIKE``) queries.

    Returns:
        Distinct non-empty tokens, in order of first appearance.

    Example:
        >>> split_into_tokens("Tumour %cell_line%", keep="%_")
        ['tumour', '%cell_line%']
    """
    if text.isascii():
        folded = text.translate(_ASCII_DIACRITICS).lower()
    else:
        folded = _DIACRITIC.sub("", unicodedata.normalize("NFKD", text)).lower()
    return list(dict.fromkeys(t for t in _separators(keep).split(folded) if t))
