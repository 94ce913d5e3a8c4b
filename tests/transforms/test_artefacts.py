"""Generation artefacts: boilerplate phrases, instruction headings and keyword phrases stuffed into paragraphs."""

from pathlib import Path

import pytest

from transforms.artefacts import find_artefacts
from transforms.sections import segment_sections

ROOT = Path(__file__).resolve().parents[2]


def artefacts(text: str) -> list[tuple[str, str, str, int]]:
    sections = segment_sections(text)
    rows = find_artefacts("d1", text, sections, [f"d1-s{s.ordinal}" for s in sections])
    for r in rows:  # a repeated phrase's offsets point at the words it names
        if r["kind"] == "repeated_phrase":
            at = text[r["char_start"] : r["char_end"]].casefold().replace("’", "'")
            assert at.split() == r["detail"].casefold().split()
    return [(r["kind"], r["detail"], text[r["char_start"] : r["char_end"]], r["occurrences"]) for r in rows]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Kratom helps.\n\nAs an AI language model, I cannot judge.\n", "As an AI language model"),
        ("Kratom helps.\n\nAs an AI model, I cannot judge.\n", "As an AI model"),
        ("Buy now at [Insert Brand Name] today.\n", "[Insert Brand Name]"),
        ("Lorem Ipsum dolor sit amet.\n", "Lorem Ipsum"),
        ("I CANNOT PROVIDE MEDICAL ADVICE here.\n", "I CANNOT PROVIDE MEDICAL ADVICE"),
    ],
)
def test_boilerplate_phrases_are_found_in_any_case(text, found):
    assert [a[2] for a in artefacts(text) if a[0] == "boilerplate"] == [found]


@pytest.mark.parametrize(
    "text",
    [
        "Kratom has an alkaloid profile.\n",
        "As an AI modeler, I build supply chains.\n",  # "ai model" inside a longer word is no match
        "Insert the capsule; a lorem is not a word.\n",
    ],
)
def test_ordinary_text_has_no_boilerplate(text):
    assert [a for a in artefacts(text) if a[0] == "boilerplate"] == []


def test_instruction_headings_of_a_seed_are_reported_at_their_offsets():
    text = (ROOT / "seeds" / "000_8a4ef0c6c9ed8294.txt").read_text(encoding="utf-8")
    found = [(a[1], a[2]) for a in artefacts(text) if a[0] == "instruction_heading"]
    assert ("Describe its botanical origins and common uses.",) * 2 in found
    assert all(detail == at_offsets for detail, at_offsets in found)


def test_a_phrase_stuffed_into_three_paragraphs_is_reported_once_as_the_longest_phrase():
    para = "Many readers ask about {} and the best kratom for pain relief today."
    text = "\n\n".join(para.format(x) for x in ("dosing", "safety", "tea", "laws")) + "\n"
    found = [a for a in artefacts(text) if a[0] == "repeated_phrase"]
    assert found[0][1] == "best kratom for pain relief today"  # a phrase never starts with a stop word
    assert found[0][3] == 4  # paragraphs it occurs in
    assert found[0][2] == "best kratom for pain relief today"


def test_a_phrase_in_two_paragraphs_or_across_punctuation_is_not_stuffing():
    two = "Best kratom for pain relief, they say.\n\nBest kratom for pain relief again.\n\nSomething else.\n"
    assert [a for a in artefacts(two) if a[0] == "repeated_phrase"] == []
    split = "\n\n".join(["Best kratom. For pain relief now."] * 3) + "\n"
    assert all("kratom for" not in a[1] for a in artefacts(split) if a[0] == "repeated_phrase")
