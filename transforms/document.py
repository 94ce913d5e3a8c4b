"""One parsed article -> rows of documents, sections, sentences, claims and claim_entities.

The schemas of those five tables are declared here, once, next to the code that produces them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from transforms.artefacts import find_artefacts
from transforms.claims import SentenceInput, SentenceLabels, label_sentences
from transforms.errors import InputRejected
from transforms.formats import ParsedDoc
from transforms.sections import SectionSpan, segment_sections
from transforms.sentences import split_sentences

DOCUMENTS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("record", pa.string()),
        pa.field("format", pa.string(), nullable=False),
        pa.field("encoding", pa.string(), nullable=False),
        pa.field("content_sha256", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("url", pa.string()),
        pa.field("published", pa.string()),
        pa.field("main_subject", pa.string()),
        pa.field("n_bytes", pa.int64(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
        pa.field("n_sections", pa.int32(), nullable=False),
        pa.field("n_sentences", pa.int32(), nullable=False),
        pa.field("n_claims", pa.int32(), nullable=False),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("pipeline_version", pa.string(), nullable=False),
    ]
)

SECTIONS_SCHEMA = pa.schema(
    [
        pa.field("section_id", pa.string(), nullable=False),
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("ordinal", pa.int32(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("heading", pa.string()),
        pa.field("level", pa.int32(), nullable=False),
        pa.field("char_start", pa.int64(), nullable=False),
        pa.field("char_end", pa.int64(), nullable=False),
        pa.field("n_sentences", pa.int32(), nullable=False),
        pa.field("entries", pa.list_(pa.string())),
    ]
)

SENTENCES_SCHEMA = pa.schema(
    [
        pa.field("sentence_id", pa.string(), nullable=False),
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("section_id", pa.string(), nullable=False),
        pa.field("ordinal", pa.int32(), nullable=False),
        pa.field("char_start", pa.int64(), nullable=False),
        pa.field("char_end", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("section_kind", pa.string(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
        pa.field("stance", pa.string(), nullable=False),
        pa.field("subject", pa.string()),
    ]
)

CLAIMS_SCHEMA = pa.schema(
    [
        pa.field("claim_id", pa.string(), nullable=False),
        pa.field("sentence_id", pa.string(), nullable=False),
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("section_id", pa.string(), nullable=False),
        pa.field("char_start", pa.int64(), nullable=False),
        pa.field("char_end", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("claim_type", pa.string(), nullable=False),
        pa.field("types", pa.list_(pa.string()), nullable=False),
        pa.field("certainty", pa.string(), nullable=False),
        pa.field("negated", pa.bool_(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
        pa.field("stance", pa.string(), nullable=False),
        pa.field("subject", pa.string()),
        pa.field("cues", pa.list_(pa.string()), nullable=False),
        pa.field("section_kind", pa.string(), nullable=False),
        pa.field("proposition", pa.string(), nullable=False),
        pa.field("signature", pa.string(), nullable=False),
    ]
)

CLAIM_ENTITIES_SCHEMA = pa.schema(
    [
        pa.field("claim_id", pa.string(), nullable=False),
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("entity_type", pa.string(), nullable=False),
        pa.field("char_start", pa.int64(), nullable=False),
        pa.field("char_end", pa.int64(), nullable=False),
        pa.field("surface", pa.string(), nullable=False),
        pa.field("polarity", pa.string(), nullable=False),
        pa.field("direction", pa.string()),
    ]
)

# Bounds checked BEFORE labelling (segmenting and splitting, done anyway, cost ~1 % of it), so a pathological document is
# rejected in about a second instead of hanging its batch:
MAX_SENTENCES_PER_DOCUMENT = 5_000
# Labelling time grows with the square of a sentence's length (each cue scans to its clause's end), so the
# budget is the sum of squared sentence lengths: one 22,000-char run-on "sentence", or 2,000,000 chars of
# 250-char sentences. Measured on cue-dense keyword stuffing (the worst case) at the budget: 2.1 s idle, ~4 s
# on a busy 2-core box; unguarded, a 1.9 M-char run-on line of it would take hours. Prose labels far faster.
MAX_LABEL_WORK = 500_000_000
# Sentence-bearing section kinds; headings and contents entries are structure, not sentences.
PROSE_KINDS = frozenset({"summary", "introduction", "body", "conclusion"})


def check_label_work(spans: Sequence[tuple[int, int]]) -> None:
    """Raise InputRejected("too_large") when labelling these sentence spans would blow the budget."""
    work = longest = 0
    for n, (s0, s1) in enumerate(spans, 1):
        work += (s1 - s0) ** 2
        longest = max(longest, s1 - s0)
        if n > MAX_SENTENCES_PER_DOCUMENT:
            raise InputRejected(
                "too_large", f"at least {n:,} sentences > limit {MAX_SENTENCES_PER_DOCUMENT:,}"
            )
        if work > MAX_LABEL_WORK:
            raise InputRejected(
                "too_large",
                f"run-on text: longest sentence {longest:,} chars; sum of squared sentence lengths "
                f"at least {work:,} > limit {MAX_LABEL_WORK:,}",
            )


def make_document_id(source_path: str, content_sha256: str) -> str:
    return hashlib.sha256(f"{source_path}\n{content_sha256}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where a parsed document came from (the flow fills this in)."""

    source_path: str  # relative to the input folder; "<file>#L<n>" for a JSON-lines record
    source_file: str
    content_sha256: str
    n_bytes: int


@dataclass(slots=True)
class DocumentRows:
    """The rows of one document, appended to a batch's builders. The three large tables are tuples in their
    schema's column order (`tuples_to_table`); the rest are dicts."""

    document: dict
    sections: list[dict]
    sentences: list[tuple]
    claims: list[tuple]
    entities: list[tuple]
    artefacts: list[dict]
    labels: list[SentenceLabels]
    sentence_spans: list[tuple[int, int]]


def _title(parsed: ParsedDoc, sections: Sequence[SectionSpan], source_path: str) -> str:
    if parsed.title:
        return parsed.title
    for s in sections:
        if s.heading:
            return s.heading
    return source_path.rsplit("/", 1)[-1]


def _main_subject(labels: Iterable[SentenceLabels]) -> str | None:
    counts: dict[str, int] = {}
    for lab in labels:
        if lab.subject:
            counts[lab.subject] = counts.get(lab.subject, 0) + 1
    return max(sorted(counts), key=counts.__getitem__) if counts else None


def process_document(
    parsed: ParsedDoc,
    source: SourceInfo,
    *,
    ingested_at: datetime,
    pipeline_version: str,
) -> DocumentRows:
    """Segment, split and label one document. Pure: the same inputs always give the same rows."""
    text = parsed.text
    doc_id = make_document_id(source.source_path, source.content_sha256)
    sections = segment_sections(text, parsed.headings, parsed.skip)

    inputs: list[SentenceInput] = []
    owner: list[int] = []  # section index of each sentence
    for si, sec in enumerate(sections):
        if sec.kind not in PROSE_KINDS:
            continue
        for p0, p1 in sec.paragraphs:
            for s0, s1 in split_sentences(text, p0, p1):
                inputs.append(SentenceInput(s0, s1, sec.kind, sec.heading))
                owner.append(si)
    check_label_work([(i.start, i.end) for i in inputs])
    labels = label_sentences(text, inputs) if inputs else []

    section_ids = [f"{doc_id}-s{sec.ordinal:03d}" for sec in sections]
    per_section = [0] * len(sections)
    for si in owner:
        per_section[si] += 1

    # Tuples in each schema's column order: building a dict per row and
    # letting Arrow look every key up again was 0.35 s of a 2.5 s batch of 500 generated articles.
    sentences: list[tuple] = []
    claims: list[tuple] = []
    entities: list[tuple] = []
    for ordinal, (inp, lab, si) in enumerate(zip(inputs, labels, owner, strict=True)):
        sent_id = f"{doc_id}-t{ordinal:04d}"
        sent_text = text[inp.start : inp.end]
        sid = section_ids[si]
        sentences.append(
            (
                sent_id,
                doc_id,
                sid,
                ordinal,
                inp.start,
                inp.end,
                sent_text,
                lab.role,
                inp.section_kind,
                lab.evidence,
                lab.stance,
                lab.subject,
            )
        )
        if lab.role != "claim":
            continue
        claim_id = f"{doc_id}-c{ordinal:04d}"
        claims.append(
            (
                claim_id,
                sent_id,
                doc_id,
                sid,
                inp.start,
                inp.end,
                sent_text,
                lab.claim_type,
                list(lab.types),
                lab.certainty,
                bool(lab.negated),
                lab.evidence,
                lab.stance,
                lab.subject,
                list(lab.cues),
                inp.section_kind,
                lab.proposition,
                lab.signature,
            )
        )
        entities.extend(
            (
                claim_id,
                doc_id,
                m.entity,
                m.entity_type,
                m.start,
                m.end,
                text[m.start : m.end],
                m.polarity,
                m.direction,
            )
            for m in lab.entities
        )

    section_rows = [
        {
            "section_id": section_ids[i],
            "document_id": doc_id,
            "ordinal": sec.ordinal,
            "kind": sec.kind,
            "heading": sec.heading,
            "level": sec.level,
            "char_start": sec.char_start,
            "char_end": sec.char_end,
            "n_sentences": per_section[i],
            "entries": sec.entries or None,
        }
        for i, sec in enumerate(sections)
    ]
    document = {
        "document_id": doc_id,
        "source_path": source.source_path,
        "source_file": source.source_file,
        "record": parsed.record,
        "format": parsed.format,
        "encoding": parsed.encoding,
        "content_sha256": source.content_sha256,
        "title": _title(parsed, sections, source.source_path),
        "url": parsed.url,
        "published": parsed.published,
        "main_subject": _main_subject(labels),
        "n_bytes": source.n_bytes,
        "n_chars": len(text),
        "n_sections": len(sections),
        "n_sentences": len(sentences),
        "n_claims": len(claims),
        "text": text,
        "ingested_at": ingested_at,
        "pipeline_version": pipeline_version,
    }
    artefacts = find_artefacts(doc_id, text, sections, section_ids)
    return DocumentRows(
        document,
        section_rows,
        sentences,
        claims,
        entities,
        artefacts,
        labels,
        [(i.start, i.end) for i in inputs],
    )


def tuples_to_table(rows: Sequence[tuple], schema: pa.Schema) -> pa.Table:
    """Rows as tuples in the schema's column order -> a table. A row of the wrong width is a ValueError.

    Arrow converts the tuples as one struct array in a single C++ pass: transposing them with `zip(*rows)` and
    converting each column was 0.53 s of a 1,000-article batch's three tuple tables, this is 0.15 s (same tables).
    """
    if not rows:
        return schema.empty_table()
    # ArrowInvalid, a ValueError, on a row of the wrong width
    structs = pa.array(rows, type=pa.struct(schema))
    return pa.Table.from_struct_array(structs).cast(schema)  # cast: a no-op that restores schema metadata
