"""Generation artefacts: traces of templated or machine-generated writing in an article.

* `instruction_heading`: a heading that carries an instruction to the writer ("What is kratom? Describe its
  botanical origins and common uses.") — an outline prompt that leaked into the published text;
* `repeated_phrase`: an exact phrase of several words (an SEO keyword) repeated in many paragraphs;
* `boilerplate`: phrases that betray generation ("as an AI language model", "[insert ...]").
Cue lists and thresholds are in lexicons/analytics.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pyarrow as pa

from transforms.lexicon import lexicon_cache, load_yaml
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

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_BREAK = re.compile(r"[^\w\s'’-]")  # punctuation between two words ends a phrase


@lexicon_cache
def _cues() -> tuple[re.Pattern[str], re.Pattern[str] | None, dict, frozenset[str]]:
    cfg = load_yaml("analytics.yaml")["artefacts"]
    verbs = "|".join(cfg["instruction_verbs"])
    # An instruction starts a sentence inside the heading: after ?, !, . or : (or opens the heading itself
    # when the heading has a second sentence).
    instruction = re.compile(rf"(?:^|[?.!:]\s+)((?:{verbs})\b[^?.!]*[.?!]?)", re.IGNORECASE)
    phrases = cfg.get("boilerplate_phrases") or []
    boiler = re.compile("|".join(f"(?:{p})" for p in phrases), re.IGNORECASE) if phrases else None
    from transforms.lexicon import load_lines

    stop = frozenset(w.lower() for w in load_lines("stopwords.txt")) | {"the", "a", "an", "of", "in", "to", "for", "and", "or", "is", "its", "it", "as", "on", "with", "by"}
    return instruction, boiler, cfg["repeated_phrase"], stop


def find_artefacts(document_id: str, text: str, sections: Sequence[SectionSpan], section_ids: Sequence[str]) -> list[dict]:
    instruction, boiler, rep, stop = _cues()
    rows: list[dict] = []
    for sec, sid in zip(sections, section_ids, strict=True):
        if sec.heading and sec.heading_span:
            for m in instruction.finditer(sec.heading):
                if m.start(1) == 0 and not re.search(r"[?.!:]\s", sec.heading):
                    continue  # "Explore the options" alone is an ordinary imperative heading
                h0 = text.find(sec.heading, sec.heading_span[0], sec.heading_span[1])
                start = (h0 if h0 >= 0 else sec.heading_span[0]) + m.start(1)
                rows.append(_row(document_id, "instruction_heading", m.group(1).strip(), sid, start, start + len(m.group(1).rstrip()), 1))
    if boiler is not None:
        for m in boiler.finditer(text):
            rows.append(_row(document_id, "boilerplate", m.group(0), None, m.start(), m.end(), 1))
    rows.extend(_repeated_phrases(document_id, text, sections, section_ids, rep, stop))
    return rows


def _row(doc: str, kind: str, detail: str, sid: str | None, s: int, e: int, n: int) -> dict:
    return {"document_id": doc, "kind": kind, "detail": detail, "section_id": sid, "char_start": s, "char_end": e, "occurrences": n}


def _repeated_phrases(doc, text, sections, section_ids, rep, stop) -> list[dict]:
    """Maximal word n-grams (min..max words) that occur in >= min_paragraphs distinct paragraphs."""
    lo, hi, min_par = int(rep["min_words"]), int(rep["max_words"]), int(rep["min_paragraphs"])
    paragraphs = [(p, sid) for sec, sid in zip(sections, section_ids, strict=True) for p in sec.paragraphs]
    if len(paragraphs) < min_par:
        return []
    where: dict[tuple[str, ...], dict[int, tuple[int, int, str]]] = {}
    for pi, ((p0, p1), sid) in enumerate(paragraphs):
        words = [(m.group(0).casefold().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text, p0, p1)]
        # run id per word: a new run starts after punctuation, so phrases never cross commas or sentences
        runs, run = [], 0
        for k, (_, s, _) in enumerate(words):
            if k and _BREAK.search(text, words[k - 1][2], s):
                run += 1
            runs.append(run)
        for n in range(lo, hi + 1):
            for k in range(len(words) - n + 1):
                if runs[k] != runs[k + n - 1]:
                    continue
                gram = tuple(w for w, _, _ in words[k : k + n])
                if gram[0] in stop or gram[-1] in stop or sum(w not in stop for w in gram) < 2:
                    continue
                where.setdefault(gram, {}).setdefault(pi, (words[k][1], words[k + n - 1][2], sid))
    frequent = {g: locs for g, locs in where.items() if len(locs) >= min_par}
    # Keep maximal phrases: drop a gram contained in a longer frequent gram seen in as many paragraphs.
    keep = []
    for g, locs in frequent.items():
        if any(len(o) > len(g) and len(frequent[o]) >= len(locs) and _contains(o, g) for o in frequent):
            continue
        keep.append((g, locs))
    keep.sort(key=lambda x: (-len(x[1]), -len(x[0]), x[0]))
    rows = []
    for g, locs in keep[:3]:
        first = min(locs.values())
        rows.append(_row(doc, "repeated_phrase", " ".join(g), first[2], first[0], first[1], len(locs)))
    return rows


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))
