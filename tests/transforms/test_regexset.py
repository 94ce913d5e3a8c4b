"""Cue alternations: first-character buckets and the case-sensitive twins that scan lower-cased text."""

import random
import re

import pytest

import transforms.claims as claims
from tests.conftest import SEEDS
from transforms.regexset import alternation, lower_for_twins, lowered_source


@pytest.mark.parametrize(
    ("source", "lowered"),
    [
        ("Kratom", "kratom"),
        (r"(?<![\w-])(?:Non-Addictive|Safe)\b", r"(?<![\w-])(?:non-addictive|safe)\b"),
        (r"\S+\W\B\D\Sx", r"\S+\W\B\D\Sx"),  # escapes keep their case
        ("(?P<Name_1>Foo)(?P=Name_1)", "(?P<Name_1>foo)(?P=Name_1)"),  # group names too
        ("[a-z’'-]+ (?=Now)(?!Then)(?<=x)(?<!Y)", "[a-z’'-]+ (?=now)(?!then)(?<=x)(?<!y)"),
        ("[^]a]b", "[^]a]b"),
        ("[\\[]Kratom", "[\\[]kratom"),  # an escaped "[" neither opens nor closes a set
        ("(?:mu|μ|Δ)", "(?:mu|μ|δ)"),
    ],
)
def test_literal_letters_are_lowered(source, lowered):
    assert lowered_source(source) == lowered


@pytest.mark.parametrize(
    "source",
    [
        "[A-Z]\\w+",  # a set with capitals: under IGNORECASE it matches both cases
        "[^]A]",
        "[]A]",
        "(?-i:MAT)",  # case matters here: lower-cased text cannot tell
        "(?i:x)",
        "\\x41",  # characters given by their code
        "\\u0041",
        "\\N{LATIN CAPITAL LETTER A}",
        "\\0101",
        "(?#comment)",
        "(?(1)a|b)",
        "ſ",  # re.IGNORECASE equates it with "s"
        "ı",
    ],
)
def test_patterns_a_twin_cannot_copy(source):
    assert lowered_source(source) is None


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("Kratom IS Safe", True),
        ("Kratom’s “non-addictive” label", True),
        ("İstanbul", False),  # lower case is longer: offsets would shift
        ("ſafe", False),  # extra case equivalents
        ("ΟΔΟΣ", False),  # final sigma
        ("micro µg", False),
    ],
)
def test_text_a_twin_can_scan(text, usable):
    assert (lower_for_twins(text) is not None) is usable


def _sentences() -> list[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.strip()) > 20]
    rng = random.Random(5)
    variants = [v for s in found for v in (s.upper(), s.title(), s.swapcase())]
    odd = [s[:i] + ch + s[i:] for s in found[:200] for ch in "ſİKΣıµ" for i in [rng.randrange(len(s) + 1)]]
    return found + variants + odd


SENTENCES = _sentences()


def test_every_twin_finds_what_its_pattern_finds():
    claims.rules()
    assert len(claims._TWINS) >= 20  # the cue lists have twins (a lexicon edit that breaks them is slower)
    for pat, twin in claims._TWINS.values():
        for s in SENTENCES:
            low = lower_for_twins(s)
            if low is not None:
                got = [m.span() for m in twin.finditer(low)]
                assert got == [m.span() for m in pat.finditer(s)], (pat.pattern[:80], s)


def test_the_analysis_is_the_same_with_and_without_twins():
    analyse = claims._analyse.__wrapped__
    claims.rules()
    with_twins = [analyse(s) for s in SENTENCES]
    saved = dict(claims._TWINS)
    try:
        claims._TWINS.clear()
        without = [analyse(s) for s in SENTENCES]
    finally:
        claims._TWINS.update(saved)
    assert with_twins == without


def test_bucketed_alternation_keeps_branch_order():
    source, _ = alternation([("ab", None), ("abc", None), ("b", None)], re.IGNORECASE)
    assert [m.group(0) for m in re.finditer(source, "ABC b", re.IGNORECASE)] == ["AB", "b"]


def test_blanking_cues_is_re_sub():
    r = claims.rules()
    for pat in (r.vague, r.anecdotal, r.named, r.hedge):
        for s in SENTENCES:
            assert claims._blank(pat, s) == pat.sub(" ", s), (pat.pattern[:80], s)


def test_taxonomy_twins_find_the_same_topics():
    from transforms.topics import _taxonomy

    topics = _taxonomy()[1]
    assert all(t.twin is not None for t in topics)
    for s in SENTENCES:
        low = lower_for_twins(s)
        if low is not None:
            assert [bool(t.twin.search(low)) for t in topics] == [bool(t.regex.search(s)) for t in topics], s
