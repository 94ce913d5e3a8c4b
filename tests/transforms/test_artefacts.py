"""Generation artefacts: boilerplate phrases, instruction headings and keyword phrases stuffed into paragraphs."""

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.artefacts import _TOKEN, _cues, _locator, _tokens, find_artefacts
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


@pytest.mark.parametrize(
    "text",
    [
        "As an AI model, I AM AN AI. [Insert keyword here] LOREM IPSUM; xas an ai model; I cannot provide medical advice.",
        "(as an ai language model) _as an ai model 9i am an ai [insert] [INSERT X]\nI am an ai",
        *[p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))],
    ],
)
def test_the_lower_case_boilerplate_scan_finds_what_the_pattern_finds(text):
    from transforms.regexset import lower_for_twins

    _, (boiler, boiler_low), _, _ = _cues()
    assert boiler_low is not None  # the lexicon's phrases have a twin (an edit that loses it is slower)
    low = lower_for_twins(text)
    assert [m.span() for m in boiler_low.finditer(low)] == [m.span() for m in boiler.finditer(text)]


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


# ---- the repeated-phrase counter against a brute-force reference (every n-gram of every run, no pruning)

_REF_BREAK = re.compile(r"[^\w\s'’-]+")
_REF_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def _reference_phrases(text: str, sections, section_ids) -> list[dict]:
    _, _, rep, stop = _cues()
    lo, hi, min_par = int(rep["min_words"]), int(rep["max_words"]), int(rep["min_paragraphs"])
    paragraphs = [(p, sid) for sec, sid in zip(sections, section_ids, strict=True) for p in sec.paragraphs]
    if len(paragraphs) < min_par:
        return []
    where: dict[tuple[str, ...], set[int]] = {}
    for pi, ((p0, p1), _) in enumerate(paragraphs):
        for run in _REF_BREAK.split(text[p0:p1].casefold().replace("’", "'")):
            words = _REF_WORD.findall(run)
            for n in range(lo, hi + 1):
                for k in range(len(words) - n + 1):
                    where.setdefault(tuple(words[k : k + n]), set()).add(pi)

    def reportable(g):
        return g[0] not in stop and g[-1] not in stop and sum(w not in stop for w in g) >= 2

    def inside(g, o):
        return any(o[k : k + len(g)] == g for k in range(len(o) - len(g) + 1))

    freq = {g: ps for g, ps in where.items() if len(ps) >= min_par and reportable(g)}
    maximal = [
        g
        for g, ps in freq.items()
        if not any(len(o) > len(g) and len(qs) >= len(ps) and inside(g, o) for o, qs in freq.items())
    ]
    maximal.sort(key=lambda g: (-len(freq[g]), -len(g), g))
    rows = []
    for g in maximal[:3]:
        (p0, p1), sid = paragraphs[min(freq[g])]
        m = _locator(g).search(text, p0, p1)
        rows.append(
            {
                "document_id": "d1",
                "kind": "repeated_phrase",
                "detail": " ".join(g),
                "section_id": sid,
                "char_start": m.start() if m else p0,
                "char_end": m.end() if m else p1,
                "occurrences": len(freq[g]),
            }
        )
    return rows


def _found_phrases(text: str) -> tuple[list[dict], list[dict]]:
    sections = segment_sections(text)
    ids = [f"d1-s{s.ordinal}" for s in sections]
    found = [r for r in find_artefacts("d1", text, sections, ids) if r["kind"] == "repeated_phrase"]
    return found, _reference_phrases(text, sections, ids)


_VOCAB = ["kratom", "pain", "relief", "best", "for", "the", "safe", "non-addictive", "users'", "mg", "2024"]
_SEPARATORS = [" ", " ", " ", ", ", ". ", "; ", " - ", "’s ", " _ "]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(_VOCAB), st.sampled_from(_SEPARATORS)), min_size=0, max_size=40),
        min_size=0,
        max_size=9,
    )
)
def test_repeated_phrases_match_a_brute_force_count(paragraphs):
    text = "\n\n".join("".join(w + s for w, s in para).strip() for para in paragraphs) + "\n"
    found, expected = _found_phrases(text)
    assert found == expected


def test_repeated_phrases_match_the_brute_force_count_on_the_seeds():
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        found, expected = _found_phrases(path.read_text(encoding="utf-8"))
        assert found == expected, path.name


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1 \t\n\u00a0\u2003_'’-.,!?é\u0301\u00b2")), max_size=200))
def test_tokens_are_the_token_regex_findall(s):
    assert _tokens(s) == tuple(_TOKEN.findall(s))
