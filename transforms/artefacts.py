"""Generation artefacts: traces of templated or machine-generated writing in an article.

* `instruction_heading`: a heading that carries an instruction to the writer ("What is kratom? Describe its
  botanical origins and common uses.") — an outline prompt that leaked into the published text;
* `repeated_phrase`: an exact phrase of several words (an SEO keyword) repeated in many paragraphs;
* `boilerplate`: phrases that betray generation ("as an AI language model", "[insert ...]").
Cue lists and thresholds are in lexicons/analytics.yaml.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import compress, count
from operator import and_

import pyarrow as pa

from transforms.lexicon import lexicon_cache, load_yaml
from transforms.regexset import factored_alternation, first_chars, lower_for_twins
from transforms.sections import SectionSpan

DOCUMENT_ARTEFACTS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # instruction_heading | repeated_phrase | boilerplate
        pa.field("detail", pa.string(), nullable=False),
        pa.field("section_id", pa.string()),
        pa.field("char_start", pa.int64(), nullable=False),
        pa.field("char_end", pa.int64(), nullable=False),
        pa.field("occurrences", pa.int32(), nullable=False),
    ]
)

# A paragraph's tokens: words, and runs of punctuation (which end a phrase). A word starts with a letter or
# digit (`str.isalnum`, the same test as the regex's \w less "_"); a punctuation run never does.
_TOKEN = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*|[^\w\s'’-]+")


def _tokens(paragraph: str) -> tuple[str, ...]:
    r"""`_TOKEN.findall(paragraph)`, faster: no token holds white space (`str.split` and the regex's \s agree on
    what that is), and a piece of letters and digits only is one word, so the regex runs on the other pieces."""
    out: list[str] = []
    for piece in paragraph.split():
        if piece.isalnum():
            out.append(piece)
        else:
            out += _TOKEN.findall(piece)
    return tuple(out)


def _grams(seq: tuple[str, ...], n: int) -> Iterator[tuple[str, ...]]:
    """Every n-gram of `seq`, in order (zip stops at the shortest of the shifted copies)."""
    return zip(*[seq[i:] for i in range(n)], strict=False)


@lexicon_cache
def _cues() -> tuple[
    re.Pattern[str], tuple[re.Pattern[str] | None, re.Pattern[str] | None], dict, frozenset[str]
]:
    cfg = load_yaml("analytics.yaml")["artefacts"]
    verbs = "|".join(cfg["instruction_verbs"])
    # An instruction starts a sentence inside the heading: after ?, !, . or : (or opens the heading itself
    # when the heading has a second sentence).
    instruction = re.compile(rf"(?:^|[?.!:]\s+)((?:{verbs})\b[^?.!]*[.?!]?)", re.IGNORECASE)
    phrases = cfg.get("boilerplate_phrases") or []
    boiler = boiler_low = None
    if phrases:
        source = "|".join(f"(?:{p})" for p in phrases)
        # The scan runs over every article: a lookahead on the characters a phrase can start with skips most
        # positions at once (0.45 -> 0.20 ms per generated article, measured).
        starts = [first_chars(p, re.IGNORECASE) for p in phrases]
        if all(starts):
            chars = "".join(sorted({re.escape(c) for st in starts for c in st}))  # type: ignore[union-attr]
            source = f"(?=[{chars}])(?:{source})"
        boiler = re.compile(source, re.IGNORECASE)
        boiler_low, _ = factored_alternation(phrases)
    from transforms.lexicon import load_lines

    stop = frozenset(w.lower() for w in load_lines("stopwords.txt")) | {
        "the",
        "a",
        "an",
        "of",
        "in",
        "to",
        "for",
        "and",
        "or",
        "is",
        "its",
        "it",
        "as",
        "on",
        "with",
        "by",
    }
    return instruction, (boiler, boiler_low), cfg["repeated_phrase"], stop


def find_artefacts(
    document_id: str, text: str, sections: Sequence[SectionSpan], section_ids: Sequence[str]
) -> list[dict]:
    instruction, (boiler, boiler_low), rep, stop = _cues()
    rows: list[dict] = []
    for sec, sid in zip(sections, section_ids, strict=True):
        if sec.heading and sec.heading_span:
            for m in instruction.finditer(sec.heading):
                if m.start(1) == 0 and not re.search(r"[?.!:]\s", sec.heading):
                    continue  # "Explore the options" alone is an ordinary imperative heading
                h0 = text.find(sec.heading, sec.heading_span[0], sec.heading_span[1])
                start = (h0 if h0 >= 0 else sec.heading_span[0]) + m.start(1)
                rows.append(
                    _row(
                        document_id,
                        "instruction_heading",
                        m.group(1).strip(),
                        sid,
                        start,
                        start + len(m.group(1).rstrip()),
                        1,
                    )
                )
    if boiler is not None:
        # the lower-case twin scans ~2.5x faster (regexset.factored_alternation); the detail keeps the text's case
        low = lower_for_twins(text) if boiler_low is not None else None
        for m in boiler_low.finditer(low) if low is not None else boiler.finditer(text):  # type: ignore[union-attr]
            rows.append(
                _row(document_id, "boilerplate", text[m.start() : m.end()], None, m.start(), m.end(), 1)
            )
    rows.extend(_repeated_phrases(document_id, text, sections, section_ids, rep, stop))
    return rows


def _row(doc: str, kind: str, detail: str, sid: str | None, s: int, e: int, n: int) -> dict:
    return {
        "document_id": doc,
        "kind": kind,
        "detail": detail,
        "section_id": sid,
        "char_start": s,
        "char_end": e,
        "occurrences": n,
    }


def _repeated_phrases(doc, text, sections, section_ids, rep, stop) -> list[dict]:
    """Maximal word n-grams (min..max words) that occur in >= min_paragraphs distinct paragraphs.

    Grown level by level: an (n+1)-gram can only repeat where its n-word prefix and suffix both do, so only
    those positions are extended. A paragraph is one token sequence, words and punctuation runs alike, so
    `zip`, `set`, `Counter` and `map` build, count and test its grams in C; a gram with punctuation in it is
    never a phrase (phrases never cross punctuation), so it is dropped where the frequent ones are picked.
    """
    lo, hi, min_par = int(rep["min_words"]), int(rep["max_words"]), int(rep["min_paragraphs"])
    paragraphs = [(p, sid) for sec, sid in zip(sections, section_ids, strict=True) for p in sec.paragraphs]
    if len(paragraphs) < min_par:
        return []
    seqs = [_tokens(text[p0:p1].casefold().replace("’", "'")) for (p0, p1), _ in paragraphs]

    counts: dict[tuple[str, ...], int] = {}  # frequent phrase -> paragraphs it occurs in
    grams_at: dict[int, list[set[tuple[str, ...]]]] = {}  # words -> each paragraph's counted grams
    starts: list[list[int] | None] = [None] * len(seqs)  # per paragraph: candidate positions; None: all
    for n in range(lo, hi + 1):
        tally: Counter[tuple[str, ...]] = Counter()
        grams_of: list[set[tuple[str, ...]]] = []
        for seq, ks in zip(seqs, starts, strict=True):
            grams = set(_grams(seq, n)) if ks is None else {seq[k : k + n] for k in ks}
            grams_of.append(grams)
            tally.update(grams)
        frequent = {g: c for g, c in tally.items() if c >= min_par and all(t[0].isalnum() for t in g)}
        if not frequent:
            break
        counts.update(frequent)
        grams_at[n] = grams_of
        if n == hi:
            break
        # next level: the positions whose n-gram and the n-gram one token on are both frequent
        nxt: list[list[int] | None] = []
        for seq, ks, grams in zip(seqs, starts, grams_of, strict=True):
            if grams.isdisjoint(frequent):
                nxt.append([])
            elif ks is None:
                hit = list(map(frequent.__contains__, _grams(seq, n)))
                nxt.append(list(compress(count(), map(and_, hit, hit[1:]))))
            else:
                ok = {k for k in ks if seq[k : k + n] in frequent}
                nxt.append([k for k in ks if k in ok and k + 1 in ok])
        starts = nxt

    def reportable(g: tuple[str, ...]) -> bool:
        return g[0] not in stop and g[-1] not in stop and sum(w not in stop for w in g) >= 2

    frequent_all = {g: c for g, c in counts.items() if reportable(g)}
    # Keep maximal phrases: drop a gram contained in a longer frequent gram seen in as many paragraphs.
    covered: dict[tuple[str, ...], int] = {}  # sub-gram -> most paragraphs of a longer gram containing it
    for o, c in frequent_all.items():
        for n in range(lo, len(o)):
            for k in range(len(o) - n + 1):
                sub = o[k : k + n]
                covered[sub] = max(covered.get(sub, 0), c)
    keep_grams = [(g, c) for g, c in frequent_all.items() if covered.get(g, 0) < c]
    keep_grams.sort(key=lambda x: (-x[1], -len(x[0]), x[0]))
    rows = []
    for g, c in keep_grams[:3]:
        first = next(pi for pi, grams in enumerate(grams_at[len(g)]) if g in grams)
        (p0, p1), sid = paragraphs[first]
        m = _locator(g).search(text, p0, p1)  # offsets of the first occurrence
        start, end = (m.start(), m.end()) if m else (p0, p1)
        rows.append(_row(doc, "repeated_phrase", " ".join(g), sid, start, end, c))
    return rows


@functools.lru_cache(maxsize=4096)
def _locator(words: tuple[str, ...]) -> re.Pattern[str]:
    """The phrase's words separated by anything that is not a word (cached: templated text repeats phrases)."""
    return re.compile(
        r"\b" + r"\W+".join(re.escape(w).replace("'", "['’]") for w in words) + r"\b", re.IGNORECASE
    )
