import json
import re
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transforms.sentences as sentences
from transforms.errors import LexiconError
from transforms.lexicon import load_lines
from transforms.sentences import (
    _CANDIDATES_TEMPLATE,
    Abbreviations,
    _split,
    compile_abbreviations,
    split_sentences,
)

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((ROOT / "eval/sbd_golden_rules_en.json").read_text(encoding="utf-8"))["rules"]
GOLD_SENTENCES = [
    json.loads(line)
    for line in (ROOT / "eval/seeds_gold/sentences.jsonl").read_text(encoding="utf-8").splitlines()
]

# Golden rules the splitter is known to get wrong (at most 2 may be listed), with the reason.
KNOWN_FAILURES = {
    18: (
        '"At 5 a.m. Mr. Smith went" must stay one sentence while "at 6 P.M. Mr. Smith then went" must split: '
        "the same shape (time abbreviation + title + name) with opposite answers. We keep the sentence "
        "together, the safer error for time expressions followed by a name or title."
    ),
}


def sentences_of(text: str, start: int = 0, end: int | None = None) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text, start, end)]


def spans_of(text: str, expected: list[str]) -> list[tuple[int, int]]:
    """The spans of the expected sentences, found left to right in `text`."""
    spans, pos = [], 0
    for sentence in expected:
        s = text.index(sentence, pos)
        spans.append((s, s + len(sentence)))
        pos = s + len(sentence)
    return spans


def golden_rule_passes(rule: dict) -> bool:
    return sentences_of(rule["text"]) == [s.strip() for s in rule["sentences"]]


# --- English Golden Rules -----------------------------------------------------------------------------


def test_golden_rules_score():
    assert len(GOLDEN) == 48
    failing = [r["id"] for r in GOLDEN if not golden_rule_passes(r)]
    passing = len(GOLDEN) - len(failing)
    assert passing >= 46, f"{passing}/48 golden rules pass; failing: {failing}"


def test_known_failures_are_few_and_documented():
    assert len(KNOWN_FAILURES) <= 2
    assert all(reason for reason in KNOWN_FAILURES.values())


@pytest.mark.parametrize("rule", GOLDEN, ids=[f"rule{r['id']:02d}" for r in GOLDEN])
def test_golden_rule(rule):
    if rule["id"] in KNOWN_FAILURES:
        pytest.skip(KNOWN_FAILURES[rule["id"]])
    assert sentences_of(rule["text"]) == [s.strip() for s in rule["sentences"]]


# --- Cases the splitter must get right (health text, citations, abbreviations) ---------------------------

CASES = {
    # health text specifics
    "approx. before a number": (
        "Users take approx. 5 g per dose. Effects start within 10 minutes.",
        ["Users take approx. 5 g per dose.", "Effects start within 10 minutes."],
    ),
    "Approx. at sentence start": (
        "Approx. 5 g is a moderate dose. Higher doses sedate.",
        ["Approx. 5 g is a moderate dose.", "Higher doses sedate."],
    ),
    "7-OH at sentence end and start": (
        "Kratom contains 7-OH. 7-OH binds opioid receptors.",
        ["Kratom contains 7-OH.", "7-OH binds opioid receptors."],
    ),
    "e.g., with comma": (
        "Some products, e.g., K shots, are concentrated. They act fast.",
        ["Some products, e.g., K shots, are concentrated.", "They act fast."],
    ),
    "e.g. before a capital": (
        "Potent extracts (e.g. K shots) are sold online. Regulation varies.",
        ["Potent extracts (e.g. K shots) are sold online.", "Regulation varies."],
    ),
    "mg/kg. at sentence end": (
        "Rats received 10 mg/kg. The dose was repeated daily.",
        ["Rats received 10 mg/kg.", "The dose was repeated daily."],
    ),
    "Fig. 2": (
        "Plasma levels peaked early (Fig. 2). See Fig. 3 for the metabolites.",
        ["Plasma levels peaked early (Fig. 2).", "See Fig. 3 for the metabolites."],
    ),
    "vs. between capitals": (
        "Kratom vs. Placebo was the title. It compared two groups.",
        ["Kratom vs. Placebo was the title.", "It compared two groups."],
    ),
    "vs. between lowercase": (
        "The trial compared kratom vs. placebo. Results were mixed.",
        ["The trial compared kratom vs. placebo.", "Results were mixed."],
    ),
    "i.e. before a capital": (
        "It binds the mu receptor, i.e. The same target as morphine. Naloxone blocks it.",
        ["It binds the mu receptor, i.e. The same target as morphine.", "Naloxone blocks it."],
    ),
    # abbreviations
    "titles and St.": (
        "Dr. Smith met Mr. Jones at St. Mary's Hospital. They talked.",
        ["Dr. Smith met Mr. Jones at St. Mary's Hospital.", "They talked."],
    ),
    "St. John's wort": (
        "St. John's wort interacts with many drugs. Ask a pharmacist.",
        ["St. John's wort interacts with many drugs.", "Ask a pharmacist."],
    ),
    "No. before a number": (
        "See report No. 12 for details. It is public.",
        ["See report No. 12 for details.", "It is public."],
    ),
    "No. as an answer": (
        "Is kratom approved? No. The FDA has not approved it.",
        ["Is kratom approved?", "No.", "The FDA has not approved it."],
    ),
    "etc. mid-sentence": (
        "Nausea, constipation, etc. are common. Seizures are rare.",
        ["Nausea, constipation, etc. are common.", "Seizures are rare."],
    ),
    "etc. in parentheses": (
        "Side effects (nausea, itching, etc.) were mild. Nobody stopped.",
        ["Side effects (nausea, itching, etc.) were mild.", "Nobody stopped."],
    ),
    "etc. at sentence end": (
        "Vendors sell powder, capsules, etc. Kratom is also brewed as tea.",
        ["Vendors sell powder, capsules, etc.", "Kratom is also brewed as tea."],
    ),
    "U.S. before a name": (
        "The U.S. Food and Drug Administration issued a warning. It cited deaths.",
        ["The U.S. Food and Drug Administration issued a warning.", "It cited deaths."],
    ),
    "U.S. at sentence end": (
        "Kratom is legal in most of the U.S. Some states ban it.",
        ["Kratom is legal in most of the U.S.", "Some states ban it."],
    ),
    "U.S.A.": (
        "Sales grew in the U.S.A. last year. Europe lagged.",
        ["Sales grew in the U.S.A. last year.", "Europe lagged."],
    ),
    "Co. and Jr.": (
        "Smith & Co. Ltd makes extracts. John Smith Jr. Day is not a holiday.",
        ["Smith & Co. Ltd makes extracts.", "John Smith Jr. Day is not a holiday."],
    ),
    "et al. before a year": (
        "Smith et al. (2019) found no effect. Jones et al. The later trial disagreed.",
        ["Smith et al. (2019) found no effect.", "Jones et al.", "The later trial disagreed."],
    ),
    "initials": (
        "The study by Jonas E. Smith was small. J. K. Rowling did not write it.",
        ["The study by Jonas E. Smith was small.", "J. K. Rowling did not write it."],
    ),
    "vitamin D. ends a sentence": (
        "Many patients lack vitamin D. The elderly are most at risk.",
        ["Many patients lack vitamin D.", "The elderly are most at risk."],
    ),
    # numbers
    "decimals and money": (
        "The dose was 3.5 mg. A bottle costs $100.00 in stores.",
        ["The dose was 3.5 mg.", "A bottle costs $100.00 in stores."],
    ),
    "dotted number": (
        "You can find it at N°. 1026.253.553. That is where the treasure is.",
        ["You can find it at N°. 1026.253.553.", "That is where the treasure is."],
    ),
    "sentence starting with a number": (
        "The survey ran in 2019. 25 percent of users reported dependence.",
        ["The survey ran in 2019.", "25 percent of users reported dependence."],
    ),
    # citations
    "citation marks after the period": (
        "Kratom is an opioid agonist.[1] It is also adrenergic.[2,3] Both matter.[12-14] Data are thin.",
        [
            "Kratom is an opioid agonist.[1]",
            "It is also adrenergic.[2,3]",
            "Both matter.[12-14]",
            "Data are thin.",
        ],
    ),
    "citation marks before the period": (
        "Kratom is an opioid agonist [1]. It is adrenergic [2, 3]. Both matter [12–14]. Data are thin.",
        [
            "Kratom is an opioid agonist [1].",
            "It is adrenergic [2, 3].",
            "Both matter [12–14].",
            "Data are thin.",
        ],
    ),
    "superscript citation": (
        "Deaths have been reported.¹ Most involved other drugs.",
        ["Deaths have been reported.¹", "Most involved other drugs."],
    ),
    "parenthetical citations": (
        "Kratom reduces cravings (Smith 2019). Evidence is weak (Smith et al., 2019). More work is needed.",
        [
            "Kratom reduces cravings (Smith 2019).",
            "Evidence is weak (Smith et al., 2019).",
            "More work is needed.",
        ],
    ),
    "parenthetical citation after the period": (
        "Kratom reduces cravings. (Smith 2019) Evidence is weak.",
        ["Kratom reduces cravings. (Smith 2019)", "Evidence is weak."],
    ),
    # e-mail, URLs, quotes, ellipses
    "e-mail and URL": (
        "Write to info@fda.hhs.gov. See https://www.fda.gov/news/kratom.html. Reports are reviewed.",
        ["Write to info@fda.hhs.gov.", "See https://www.fda.gov/news/kratom.html.", "Reports are reviewed."],
    ),
    "quote then lowercase": (
        '"This is great." she said. Then she left.',
        ['"This is great." she said.', "Then she left."],
    ),
    "curly quote then capital": (
        "He said, “It helped me.” Others disagreed.",
        ["He said, “It helped me.”", "Others disagreed."],
    ),
    "ellipses": (
        "I tried it... and felt fine. Later . . . nothing. It wore off... Then I slept.",
        ["I tried it... and felt fine.", "Later . . . nothing.", "It wore off...", "Then I slept."],
    ),
    "omission in brackets": (
        "“Kratom […] reduced withdrawal” (Lee 2020). It was a survey.",
        ["“Kratom […] reduced withdrawal” (Lee 2020).", "It was a survey."],
    ),
    "lowercase-led word that is capitalised": (
        "Vaccines were compared. mRNA vaccines did better.",
        ["Vaccines were compared.", "mRNA vaccines did better."],
    ),
    "question and exclamation": (
        "Is it safe? Nobody knows! Studies are small.",
        ["Is it safe?", "Nobody knows!", "Studies are small."],
    ),
    # lists
    "numbered list inline": (
        "1. Stop slowly 2. Drink water 3. See a doctor",
        ["1. Stop slowly", "2. Drink water", "3. See a doctor"],
    ),
    "numbered list with periods": (
        "1. Stop slowly. 2. Drink water.",
        ["1. Stop slowly.", "2. Drink water."],
    ),
    "parenthesised list": (
        "(1) nausea (2) itching (3) constipation",
        ["(1) nausea", "(2) itching", "(3) constipation"],
    ),
    "inline bullets": (
        "Risks: • liver injury • seizures • dependence",
        ["Risks:", "• liver injury", "• seizures", "• dependence"],
    ),
    # newlines
    "hard-wrapped lines join": (
        "Kratom is a tropical tree\nnative to Southeast Asia. Its leaves\ncontain alkaloids.",
        ["Kratom is a tropical tree\nnative to Southeast Asia.", "Its leaves\ncontain alkaloids."],
    ),
    "line ending a sentence": (
        "Kratom is a tree.\nIts leaves contain alkaloids.",
        ["Kratom is a tree.", "Its leaves contain alkaloids."],
    ),
    "abbreviation at the end of a wrapped line": (
        "The study by Dr.\nSmith was small.",
        ["The study by Dr.\nSmith was small."],
    ),
    "blank line always ends": (
        "Summary\n\nKratom is a tree\n \t\nnative to Asia. Dr.\n\nSmith",
        ["Summary", "Kratom is a tree", "native to Asia.", "Dr.", "Smith"],
    ),
    "list items after a newline": (
        "Common effects include\n- nausea\n* itching\n• constipation\n– sweating\n1. dry mouth\n2) sleep",
        [
            "Common effects include",
            "- nausea",
            "* itching",
            "• constipation",
            "– sweating",
            "1. dry mouth",
            "2) sleep",
        ],
    ),
    "markdown heading lines": (
        "## Safety\nKratom can cause seizures.\n### Dosing\nStart low",
        ["## Safety", "Kratom can cause seizures.", "### Dosing", "Start low"],
    ),
    "CJK full stops": ("克拉通是一种植物。它来自东南亚。", ["克拉通是一种植物。", "它来自东南亚。"]),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_cases(text, expected):
    assert split_sentences(text) == spans_of(text, expected), sentences_of(text)


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_cases_inside_a_larger_text(text, expected):
    """Offsets are into the whole text, and text outside [start, end) changes nothing."""
    padded = "Dr. X. " + text + " e.g. Y"
    start = len("Dr. X. ")
    shifted = [(s + start, e + start) for s, e in spans_of(text, expected)]
    assert split_sentences(padded, start, start + len(text)) == shifted


# --- Hand-labelled sentences of the seeds ---------------------------------------------------------------


def _line_of(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    return {
        doc: (ROOT / "seeds" / doc).read_text(encoding="utf-8") for doc in {g["doc"] for g in GOLD_SENTENCES}
    }


def test_all_gold_sentences_are_loaded():
    assert len(GOLD_SENTENCES) == 173


@pytest.mark.parametrize(
    "gold", GOLD_SENTENCES, ids=[f"{g['doc'][:3]}:{g['char_start']}" for g in GOLD_SENTENCES]
)
def test_gold_sentence_reproduced_exactly(gold, seed_texts):
    text = seed_texts[gold["doc"]]
    assert text[gold["char_start"] : gold["char_end"]] == gold["text"]
    line_start, line_end = _line_of(text, gold["char_start"])
    spans = split_sentences(text, line_start, line_end)
    assert (gold["char_start"], gold["char_end"]) in spans, [text[s:e] for s, e in spans]


# --- Lexicon ------------------------------------------------------------------------------------------------


def test_lexicon_file_parses_into_three_kinds_and_openers():
    rules = compile_abbreviations(load_lines("abbreviations.txt"))
    assert rules.kinds["Dr"] == sentences.NEVER_ENDS
    assert rules.kinds["approx"] == rules.kinds["Approx"] == sentences.NEVER_ENDS
    assert rules.kinds["No"] == sentences.BEFORE_NUMBERS
    assert rules.kinds["Co"] == sentences.MAY_END
    assert "no" not in rules.kinds or rules.kinds["no"] == sentences.BEFORE_NUMBERS
    assert {"The", "It", "How"} <= rules.openers


def test_unknown_lexicon_section_is_an_error():
    with pytest.raises(LexiconError):
        compile_abbreviations(["[titles]", "Dr."])


def test_lexicon_entries_change_behaviour():
    text = "We asked Prof. Xyz. Smith agreed. We called the abcd. Then we left."
    default = compile_abbreviations(load_lines("abbreviations.txt"))
    edited = compile_abbreviations([*load_lines("abbreviations.txt"), "[never_ends]", "Xyz.", "abcd."])
    assert len(_split(text, 0, None, default)) == 4
    # "abcd." ends in four lowercase letters, so it must also leave the regex fast path
    assert [text[s:e] for s, e in _split(text, 0, None, edited)] == [
        "We asked Prof. Xyz. Smith agreed.",
        "We called the abcd. Then we left.",
    ]


def test_lexicon_is_compiled_once(monkeypatch):
    def fail(name):
        raise AssertionError("lexicon read at call time")

    monkeypatch.setattr(sentences, "load_lines", fail)
    assert sentences_of("Dr. Smith left. He came back.") == ["Dr. Smith left.", "He came back."]


# --- Properties ---------------------------------------------------------------------------------------------

# Text built from the pieces that exercise the rules, mixed with arbitrary characters.
PIECES = [
    *"aZ .?!…\n\t\u00a0\u2029()[]\"'”’“—-•*#:;,0123456789\x00\u0301😀。",
    "word",
    "The",
    " It",
    "e.g.",
    "U.S.",
    "Dr.",
    "approx.",
    "No.",
    " I. ",
    " a. ",
    " b. ",
    " 1. ",
    " 2) ",
    "(1)",
    ". . .",
    "...",
    "....",
    "\n\n",
    "\n \t\n",
    "\n- ",
    "\n1. ",
    "\n## ",
    "[1]",
    "[2,3]",
    "(Smith 2019)",
    "Fig. 2",
    "mg/kg.",
    "3.5",
]
prose = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=40).map("".join)
any_text = st.one_of(st.text(max_size=200), prose)
offsets = st.one_of(st.none(), st.integers(-5, 250))
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LINE_SETTINGS = settings(max_examples=75, deadline=None)  # simple generated lines: fewer examples suffice


def _assert_span_contract(
    text: str, start: int | None, end: int | None, spans: list[tuple[int, int]]
) -> None:
    n = len(text)
    lo = min(max(start or 0, 0), n)
    hi = n if end is None else max(lo, min(end, n))
    prev = lo
    for s, e in spans:
        assert lo <= prev <= s < e <= hi, (spans, lo, hi)
        assert text[s:e] == text[s:e].strip(), repr(text[s:e])
        assert not re.search(r"\n[ \t]*\n", text[s:e]), f"blank line inside {text[s:e]!r}"
        prev = e
    covered = {i for s, e in spans for i in range(s, e)}
    lost = [i for i in range(lo, hi) if not text[i].isspace() and i not in covered]
    assert not lost, f"characters lost at {lost}: {spans}"


@PROPERTY_SETTINGS
@given(any_text, offsets, offsets)
def test_span_contract_on_any_text(text, start, end):
    spans = _split(text, start or 0, end, sentences._abbreviations())  # not the catch-all wrapper
    _assert_span_contract(text, start, end, spans)
    assert split_sentences(text, start or 0, end) == spans


@PROPERTY_SETTINGS
@given(any_text, st.integers(0, 250), st.integers(0, 250))
def test_range_is_split_like_the_substring(text, a, b):
    a, b = min(a, len(text)), min(max(a, b), len(text))
    assert split_sentences(text, a, b) == [(s + a, e + a) for s, e in split_sentences(text[a:b])]


@PROPERTY_SETTINGS
@given(prose)
def test_regex_fast_path_changes_nothing(text):
    """The "plain" branch decided by the regex alone must agree with the general rules."""
    rules = sentences._abbreviations()
    slow = Abbreviations(
        rules.kinds, rules.openers, re.compile(_CANDIDATES_TEMPLATE.replace("{exclude}", "(?!)"), re.VERBOSE)
    )
    assert _split(text, 0, None, rules) == _split(text, 0, None, slow)


word = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
words = st.lists(word, min_size=1, max_size=6).map(" ".join)


@LINE_SETTINGS
@given(st.lists(words, min_size=1, max_size=6))
def test_single_newline_without_punctuation_is_a_hard_wrap(lines):
    text = "\n".join(lines)
    assert split_sentences(text) == [(0, len(text))]


@LINE_SETTINGS
@given(st.lists(words, min_size=2, max_size=6), st.sampled_from(["- ", "* ", "• ", "– ", "1. "]))
def test_list_bullet_after_newline_starts_a_sentence(lines, bullet):
    text = lines[0] + "".join(f"\n{bullet}{line}" for line in lines[1:])
    assert sentences_of(text) == [lines[0]] + [bullet + line for line in lines[1:]]


# A last word that cannot be an abbreviation or an initial, so the punctuation after it ends the sentence.
last_words = st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=9).filter(
    lambda w: w not in sentences._abbreviations().kinds
)


@LINE_SETTINGS
@given(st.lists(st.tuples(words, last_words), min_size=2, max_size=6), st.sampled_from([".", "?", "!"]))
def test_newline_after_terminal_punctuation_ends_a_sentence(lines, mark):
    lines = [f"{first[0].upper()}{first[1:]} {last}{mark}" for first, last in lines]
    assert sentences_of("\n".join(lines)) == lines


@LINE_SETTINGS
@given(st.lists(words, min_size=2, max_size=6), st.sampled_from(["\n\n", "\n \n", "\n\t\n", "\n  \t \n\n"]))
def test_blank_line_always_ends_a_sentence(paragraphs, gap):
    assert sentences_of(gap.join(paragraphs)) == paragraphs


@pytest.mark.parametrize(
    ("start", "end"), [(-5, None), (0, 10**9), (50, 10), (10**9, None), (-10, -5), (3, 3)]
)
def test_out_of_range_offsets_are_clamped(start, end):
    text = "One sentence. Another one."
    spans = split_sentences(text, start, end)
    _assert_span_contract(text, start, end, spans)
