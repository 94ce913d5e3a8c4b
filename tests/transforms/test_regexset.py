"""Cue alternations: first-character buckets, the case-sensitive twins that scan lower-cased text, and the
one-pass scan of every word list."""

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transforms.claims as claims
from tests.conftest import SEEDS
from transforms.regexset import (
    MultiScan,
    alternation,
    factored_alternation,
    first_and_rest,
    lower_for_twins,
    lowered_source,
    take,
)


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


GUARD, TAIL = r"[\w-]", r"(?:(?<=\s)|(?!\w))"  # the cue lists' (claims._WORD_GUARD, claims._WORD_END)


def _finditer(branches: list[str], text: str, lo: int = 0) -> list[tuple[int, int]]:
    pat = re.compile(rf"(?<!{GUARD})(?:" + "|".join(f"(?:{b})" for b in branches) + ")" + TAIL, re.IGNORECASE)
    return [m.span() for m in pat.finditer(text, lo)]


@pytest.mark.parametrize(
    ("branches", "pairs"),
    [
        (["may", "might"], [("m", "ay"), ("m", "ight")]),
        (["(?:is|are) (?:widely )?held"], [("i", "s (?:widely )?held"), ("a", "re (?:widely )?held")]),
        (["(?:very )?likely"], [("v", "ery likely"), ("l", "ikely")]),  # greedy: with the group first
        (["[ab]c"], [("a", "c"), ("b", "c")]),
        (["foo|bar"], [("f", "oo"), ("b", "ar")]),  # an entry may hold its own alternation
        ([r"\(x"], [("(", "x")]),
        (["lack(?:s|ed)? (?:of )?"], [("l", "ack(?:s|ed)? (?:of )?")]),
        (["a?b"], [("a", "b"), ("b", "")]),  # greedy: with the character first, then without
        (["[- ]?opioid"], [("-", "opioid"), (" ", "opioid"), ("o", "pioid")]),
        (["(?<!relapse |no )risk"], [("r", "(?<!(?:relapse |no )r)isk")]),  # the lookbehind moves on with it
        ([r"\bai", r"\b\(x"], [("a", r"(?<!\w.)i"), ("(", r"(?<=\w.)x")]),  # so does a word boundary
        (["[a-c]x"], [("a", "x"), ("b", "x"), ("c", "x")]),
        (["(?i:et) al"], [("e", "(?i:t) al"), ("E", "(?i:t) al")]),  # case-sensitive pattern, one part not
        (["(?i:is)"], [("i", "(?i:s)"), ("I", "(?i:s)")]),  # as first_chars, not "İ" or "ı"
    ],
)
def test_branches_split_into_first_character_and_rest(branches, pairs):
    assert first_and_rest(branches) == pairs


@pytest.mark.parametrize(
    "branch",
    [
        r"\w+n't",  # starts with a class
        "a??b",  # lazy: without the character first
        "(?:very )*likely",  # a repeated group
        "(?:very ){0,2}likely",
        "(?:very )??likely",  # lazy: without the group first
        "(risk)",  # a capturing group
        "(?=r)risk",  # a lookahead
        "[a-\u00ff]x",  # a wide range
        "(?i:é)x",  # its other cases are not worked out
        "[^a]x",
        ".x",
        "",
    ],
)
def test_branches_the_scanner_cannot_take(branch):
    assert first_and_rest([branch]) is None
    scanner = MultiScan([["may"], [branch]], GUARD, TAIL)
    assert scanner.slot == [0, None]


def _scan_all(lists: list[list[str]], text: str, lo: int) -> list[list[tuple[int, int]]]:
    scanner = MultiScan(lists, GUARD, TAIL)
    spans = scanner.spans(text)
    return [take(spans[k], lo) for k in scanner.slot if k is not None]


def test_overlapping_lists_each_find_their_own_matches():
    lists = [["may"], ["may help", "help"], ["help(?:s|ed)?"], ["ab", "abc"], ["non-addictive"]]
    text = "it may help. mayhem helped abc; non-addictive, a non-addictive-ish x"
    for lo in (0, 3, 4, 7, 20):
        assert _scan_all(lists, text, lo) == [_finditer(b, text, lo) for b in lists], lo


@pytest.mark.parametrize(("branches", "spans"), [(["ab", "ab c"], [(0, 2)]), (["ab c", "ab"], [(0, 4)])])
def test_a_list_keeps_its_branch_order_at_a_position(branches, spans):
    # both branches match at 0: the one listed first wins, as in the plain alternation
    assert _scan_all([branches], "ab c", 0) == [spans] == [_finditer(branches, "ab c")]


_WORDS = ["may", "might", "help", "helps", "non", "addictive", "risk", "of", "a", "ab", "abc", "b"]
_BRANCH = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map(" ".join) | st.sampled_from(
    [
        "(?:is|are) safe",
        "(?<!risk )of",
        "(?<!non-|not )addictive",  # alternatives of one width (re requires it)
        "[- ]?help",
        "a?b",
        "(?:very )?likely",
        "[ab]c",
        "help(?:s|ed)?",
        "non-addictive",
        "risk(?:s|y)? of",
    ]
)
_TEXT = st.lists(
    st.sampled_from(
        [*_WORDS, "is", "are", "safe", "very", "likely", "ac", "bc", "risky", "-", ",", ".", " ", "\n"]
    ),
    max_size=30,
).map(lambda ws: "".join(w if w in "-,. \n" else f" {w}" for w in ws))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_BRANCH, min_size=1, max_size=5), min_size=1, max_size=4), _TEXT, st.integers(0, 12))
def test_the_one_pass_scan_is_each_lists_finditer(lists, text, lo):
    assert _scan_all(lists, text, lo) == [_finditer(b, text, lo) for b in lists]


def test_every_cue_list_scan_is_its_patterns_finditer():
    claims.rules()
    assert len(claims._SLOTS) >= 20  # most cue lists scan in the one pass (a lexicon edit can leave one out)
    for pat, _ in claims._TWINS.values():
        for s in SENTENCES:
            for lo in (0, 15):
                where = (pat.pattern[:80], s, lo)
                assert claims._scan(pat, s, lo) == [m.span() for m in pat.finditer(s, lo)], where
                assert claims._found(pat, s, lo) == (pat.search(s, lo) is not None), where


@pytest.mark.parametrize(
    "branches",
    [[r"\bas an ai (?:language )?model\b", r"\[insert [^\]]+\]", "lorem ipsum"], [r"\b\(x", "b?c"]],
)
def test_the_lower_case_alternation_finds_what_the_pattern_finds(branches):
    twin, _ = factored_alternation(branches)
    assert twin is not None
    pat = re.compile("(?:" + "|".join(f"(?:{b})" for b in branches) + ")", re.IGNORECASE)
    for s in [
        *SENTENCES,
        "As an AI model (x a(x [INSERT it] bc c Lorem ipsum",
        "_(x as an ai language model",
    ]:
        low = lower_for_twins(s)
        if low is not None:
            assert [m.span() for m in twin.finditer(low)] == [m.span() for m in pat.finditer(s)], s


def test_the_entity_scan_finds_what_the_entity_pattern_finds():
    r = claims.rules()
    assert r.entity_twin is not None  # the lexicon's synonyms have a twin (an edit that loses it is slower)
    assert r.entity_absent is not None and r.entity_absent.search("kratom and mat") is None
    extra = [
        "MAT and OUD: kratom, non-opioid",
        "the WHO said mat who aka",
        "Kratom (MOUD) or SUDs",
        "non-kratom",
    ]
    for s in [*SENTENCES, *extra]:
        want = [(m.start(), m.end(), r.entity_groups[m.lastgroup]) for m in r.entity_re.finditer(s)]
        assert claims._entity_matches(s, r) == want, s


def test_a_branch_left_out_of_the_twin_is_returned():
    twin, left_out = factored_alternation(["kratom", "(?-i:MAT)", r"\w+n't"], leave_out=True)
    assert left_out == ["(?-i:MAT)", r"\w+n't"]
    assert [m.span() for m in twin.finditer("mat kratom")] == [(4, 10)]
    assert factored_alternation(["kratom", "(?-i:MAT)"]) == (None, ["kratom", "(?-i:MAT)"])


def test_every_case_sensitive_word_list_scan_is_its_patterns_finditer():
    claims.rules()
    assert claims._FAST  # evidence.named (a lexicon edit that loses it is slower)
    for pat, _ in claims._FAST.values():
        for s in [
            *SENTENCES,
            "In 2019, researchers: \u0130n 2019 researchers, \u0131N 2020, a study",
            "PubMed; ET AL.",
        ]:
            for lo in (0, 15):
                assert claims._scan(pat, s, lo) == [m.span() for m in pat.finditer(s, lo)], (s, lo)
