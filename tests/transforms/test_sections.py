import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.sections import segment_sections

ROOT = Path(__file__).resolve().parents[2]
GOLD = [json.loads(line) for line in (ROOT / "eval/seeds_gold/sections.jsonl").read_text().splitlines()]
SEEDS = sorted({g["doc"] for g in GOLD})


@pytest.mark.parametrize("doc", SEEDS)
def test_seed_sections_match_gold_exactly(doc):
    text = (ROOT / "seeds" / doc).read_text(encoding="utf-8")
    got = [
        (s.ordinal, s.kind, s.heading, s.level, s.char_start, s.char_end, s.entries or None)
        for s in segment_sections(text)
    ]
    want = [
        (g["ordinal"], g["kind"], g["heading"], g["level"], g["char_start"], g["char_end"], g.get("entries"))
        for g in GOLD
        if g["doc"] == doc
    ]
    assert got == want


@pytest.mark.parametrize("doc", SEEDS)
def test_seed_paragraphs_are_never_headings(doc):
    text = (ROOT / "seeds" / doc).read_text(encoding="utf-8")
    gold_headings = {g["heading"] for g in GOLD if g["doc"] == doc and g["heading"]}
    for s in segment_sections(text):
        assert s.heading is None or s.heading in gold_headings
        for p0, p1 in s.paragraphs:
            assert text[p0:p1] not in gold_headings


def kinds(text, **kw):
    return [(s.kind, s.heading, s.level) for s in segment_sections(text, **kw)]


CASES = {
    "question headings, no contents list": (
        "Kratom is a tree native to Southeast Asia.\n"
        "What is kratom?\n"
        "Kratom leaves contain alkaloids. People chew them.\n"
        "Is kratom safe?\n"
        "The FDA has warned about risks. Liver injury has been reported.\n",
        [("summary", None, 0), ("body", "What is kratom?", 1), ("body", "Is kratom safe?", 1)],
    ),
    "numbered headings": (
        "Opioid withdrawal is hard. This guide explains the options.\n"
        "1. Symptoms of withdrawal\n"
        "Symptoms include anxiety and muscle aches.\n"
        "2. Treatment options\n"
        "Buprenorphine and methadone are approved treatments.\n",
        [
            ("summary", None, 0),
            ("body", "1. Symptoms of withdrawal", 1),
            ("body", "2. Treatment options", 1),
        ],
    ),
    "label sub-headings": (
        "Kratom has several reported effects.\n"
        "Effects of Kratom\n"
        "Low doses are stimulating.\n"
        "Side effects:\n"
        "Nausea and constipation are common.\n",
        [("summary", None, 0), ("body", "Effects of Kratom", 1), ("body", "Side effects", 2)],
    ),
    "a short sentence with a period is not a heading": (
        "Kratom is controversial.\nIt is sold online.\nSome users report dependence.\n",
        [("summary", None, 0), ("body", None, 0)],
    ),
    "explicit conclusion heading": (
        "Intro paragraph here.\n"
        "How Kratom Works\n"
        "It binds to opioid receptors.\n"
        "Conclusion\n"
        "More research is needed.\n",
        [("summary", None, 0), ("body", "How Kratom Works", 1), ("conclusion", "Conclusion", 1)],
    ),
    "closing paragraph that opens like a conclusion": (
        "Intro paragraph here.\n"
        "How Kratom Works\n"
        "It binds to opioid receptors.\n"
        "In conclusion, more research is needed.\n",
        [("summary", None, 0), ("body", "How Kratom Works", 1), ("conclusion", None, 0)],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_layouts(name):
    text, expected = CASES[name]
    assert kinds(text) == expected


def test_hard_wrapped_lines_are_joined_into_paragraphs():
    text = (
        "Kratom is a tropical tree whose leaves have been used for centuries in\n"
        "Southeast Asia as a stimulant and as a remedy for pain and fatigue. In\n"
        "recent years it has been marketed online as an aid for opioid withdrawal.\n"
        "\n"
        "The FDA has warned consumers not to use kratom because of the risk of\n"
        "addiction, abuse and dependence, and it has received reports of deaths\n"
        "associated with products that contained kratom and other substances.\n"
    )
    secs = segment_sections(text)
    paragraphs = [p for s in secs for p in s.paragraphs]
    assert len(paragraphs) == 2
    assert text[paragraphs[0][0] : paragraphs[0][1]].endswith("opioid withdrawal.")


@dataclass
class Mark:
    start: int
    end: int
    level: int
    text_start: int


def test_markup_headings_and_title():
    text = "# Kratom Guide\n\nIntro text.\n\n## Safety\n\nRisks exist.\n\n### Liver\n\nRare injury.\n"
    marks = []
    for line_start, line in _lines(text):
        if line.startswith("#"):
            hashes = len(line) - len(line.lstrip("#"))
            marks.append(Mark(line_start, line_start + len(line), hashes, line_start + hashes + 1))
    assert kinds(text, headings=marks) == [
        ("title", "Kratom Guide", 1),
        ("summary", None, 0),
        ("body", "Safety", 2),
        ("body", "Liver", 3),
    ]


def _lines(text):
    pos = 0
    for line in text.split("\n"):
        yield pos, line
        pos += len(line) + 1


def test_front_matter_is_skipped():
    text = "---\ntitle: X\n---\nFirst paragraph.\nSecond paragraph.\n"
    secs = segment_sections(text, skip=[(0, 17)])
    assert secs[0].kind == "summary" and text[secs[0].char_start : secs[0].char_end] == "First paragraph."


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .?:-–\n#1K\u0301é")), max_size=300))
def test_sections_are_ordered_and_inside_the_text(text):
    secs = segment_sections(text)
    last = 0
    for s in secs:
        assert 0 <= s.char_start < s.char_end <= len(text)
        assert s.char_start >= last
        last = s.char_end
        for p0, p1 in s.paragraphs:
            assert s.char_start <= p0 < p1 <= s.char_end
            assert text[p0:p1].strip() == text[p0:p1]
