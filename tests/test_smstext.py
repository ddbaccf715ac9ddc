"""SMS cost arithmetic and text splitting, against hand-counted cases."""

from __future__ import annotations

import pytest

from channels.smstext import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    encoding,
    segments,
    septets,
    to_gsm,
    ucs2_culprits,
)
from channels.text import split_text, utf16_length

CURLY = "\u2019"  # ’ the apostrophe Word puts in "isn’t"


def test_the_alphabets_have_the_standard_sizes() -> None:
    # 128 code points, minus the escape to the extension table.
    assert len(GSM7_BASIC) == 127
    # ^ { } \ [ ~ ] | € and form feed.
    assert frozenset("^{}\\[~]|€\f") == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "expected_encoding", "expected_segments"),
    [
        ("", "GSM-7", 1),  # documented: an empty SMS is still one message
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),  # 153 * 2
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # 160 septets
        ("€" * 80 + "a", "GSM-7", 2),  # 161 septets
        # 152 + 77*2 = 306 septets, which fits 2 * 153 on paper, but an escape pair can't
        # straddle parts: part 1 holds 152, part 2 holds 76 euros, part 3 the last one.
        ("a" * 152 + "€" * 77, "GSM-7", 3),
        ("ŵ" * 70, "UCS-2", 1),
        ("ŵ" * 71, "UCS-2", 2),
        ("ŵ" * 134, "UCS-2", 2),  # 67 * 2
        ("ŵ" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units: 70
        ("😀" * 36, "UCS-2", 2),  # 72
        ("a" * 69 + "😀", "UCS-2", 2),  # 71 units
        ("a" * 159 + CURLY, "UCS-2", 3),  # one curly apostrophe: 160 units at 67 a part
        ("Diolch yn fawr", "GSM-7", 1),
        ("Rydych chi'n gofalu am rywun? Ŵyr", "UCS-2", 1),
    ],
)
def test_encoding_and_segments(text: str, expected_encoding: str, expected_segments: int) -> None:
    assert encoding(text) == expected_encoding
    assert segments(text) == expected_segments


def test_extension_characters_count_two_septets() -> None:
    assert septets("€") == 2
    assert septets("[1] {a}|b~c^d\\e") == 15 + 8  # 15 characters, 8 of them escaped
    assert septets("Hello") == 5


def test_septets_refuses_ucs2_text() -> None:
    with pytest.raises(ValueError):
        septets("caf\u00e1")  # á is not in the GSM alphabet (é is)


def test_one_curly_apostrophe_forces_ucs2_and_to_gsm_undoes_it() -> None:
    text = f"We{CURLY}d love to hear how caring affects your week. Reply YES to start."
    assert encoding(text) == "UCS-2"
    assert encoding(to_gsm(text)) == "GSM-7"
    assert to_gsm(text) == text.replace(CURLY, "'")


def test_to_gsm_on_text_pasted_from_word() -> None:
    pasted = (
        "\u201cCaring\u201d isn\u2019t easy \u2013 we know\u2026\u00a0Tell us:\n"
        "\u2022 what helps \u2014 and what doesn\u2019t\n"
        "\u2022\tany ideas\u200b"
    )
    assert to_gsm(pasted) == (
        "\"Caring\" isn't easy - we know... Tell us:\n- what helps - and what doesn't\n- any ideas"
    )
    assert encoding(to_gsm(pasted)) == "GSM-7"


def test_to_gsm_leaves_real_letters_and_emoji_alone() -> None:
    text = "Diolch \u2013 ŵ ŷ, Zoë, José, 😀 \u2018ok\u2019"
    assert to_gsm(text) == "Diolch - ŵ ŷ, Zoë, José, 😀 'ok'"
    assert encoding(to_gsm(text)) == "UCS-2"  # it genuinely needs UCS-2


def test_ucs2_culprits_are_distinct_in_order_with_suggestions() -> None:
    assert ucs2_culprits(f"It{CURLY}s ŵ, it{CURLY}s \u2026 😀\u200b") == [
        (CURLY, "'"),
        ("ŵ", None),
        ("\u2026", "..."),
        ("😀", None),
        ("\u200b", ""),
    ]
    assert ucs2_culprits("Plain GSM text, €5 [ok]") == []


# -- split_text --------------------------------------------------------------------------


def test_text_that_fits_is_one_part() -> None:
    assert split_text("Hello", 10) == ["Hello"]
    assert split_text("", 10) == [""]
    assert split_text("x" * 10, 10) == ["x" * 10]


def test_split_prefers_paragraphs_then_sentences_then_spaces() -> None:
    text = "First paragraph here.\n\nSecond one, longer than the rest."
    assert split_text(text, 40) == ["First paragraph here.", "Second one, longer than the rest."]
    text = "One two three. Four five six. Seven eight nine."
    assert split_text(text, 35) == ["One two three. Four five six.", "Seven eight nine."]
    assert split_text("aaaa bbbb cccc dddd", 12) == ["aaaa bbbb", "cccc dddd"]


def test_split_cuts_words_only_when_it_must() -> None:
    parts = split_text("x" * 25, 10)
    assert parts == ["x" * 10, "x" * 10, "x" * 5]


def test_split_long_survey_text_keeps_every_word() -> None:
    sentence = "Caring for someone can be tiring, and it is fine to say so. "
    text = (sentence * 100).strip()  # 5,999 characters
    parts = split_text(text, 1600)
    assert len(parts) == 4
    assert all(len(part) <= 1600 for part in parts)
    assert all(part.endswith(".") for part in parts)  # cut at sentence ends
    assert " ".join(parts).split() == text.split()


def test_split_counts_with_the_given_length() -> None:
    text = "😀" * 30
    parts = split_text(text, 20, utf16_length)
    assert [utf16_length(p) for p in parts] == [20, 20, 20]
    assert "".join(parts) == text


def test_split_never_separates_a_combining_accent() -> None:
    text = "e\u0301" * 8  # é as e + combining acute: 16 code points
    parts = split_text(text, 5)
    assert all(not part.startswith("\u0301") for part in parts)
    assert "".join(parts) == text
