"""A batch of input files (bytes) -> the Arrow tables of those files. Pure: no Prefect, no file system.

Every file ends up in `inputs` (one row) and either yields documents or rows in `rejected_inputs`; a bug on
one file becomes a rejection with reason `error`, never a lost batch.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from transforms.artefacts import DOCUMENT_ARTEFACTS_SCHEMA
from transforms.document import (
    CLAIM_ENTITIES_SCHEMA,
    CLAIMS_SCHEMA,
    DOCUMENTS_SCHEMA,
    SECTIONS_SCHEMA,
    SENTENCES_SCHEMA,
    SourceInfo,
    process_document,
    tuples_to_table,
)
from transforms.errors import InputRejected
from transforms.formats import parse_file
from transforms.inputs import INPUTS_SCHEMA, REJECTED_SCHEMA
from transforms.topics import DOC_TERMS_SCHEMA, DOCUMENT_TOPICS_SCHEMA, assign_taxonomy, document_terms

# Backstop, measured after the fact: a document that still took this long is rejected (`timeout`).
DOCUMENT_SECONDS = 30.0

BATCH_TABLES = {
    "documents": DOCUMENTS_SCHEMA,
    "sections": SECTIONS_SCHEMA,
    "sentences": SENTENCES_SCHEMA,
    "claims": CLAIMS_SCHEMA,
    "claim_entities": CLAIM_ENTITIES_SCHEMA,
    "document_topics": DOCUMENT_TOPICS_SCHEMA,
    "document_artefacts": DOCUMENT_ARTEFACTS_SCHEMA,
    "doc_terms": DOC_TERMS_SCHEMA,
    "rejected_inputs": REJECTED_SCHEMA,
    "inputs": INPUTS_SCHEMA,
}
# The large tables come from process_document as tuples in schema order.
_TUPLE_TABLES = frozenset({"sentences", "claims", "claim_entities"})


@dataclass(frozen=True, slots=True)
class RawInput:
    rel: str
    data: bytes
    error: str | None = None  # set when the file could not be read


@dataclass
class BatchTables:
    tables: dict[str, pa.Table]
    seconds: dict[str, float] = field(default_factory=dict)
    n_documents: int = 0
    n_rejected: int = 0


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, step: str, t0: float) -> float:
        t1 = time.perf_counter()
        self.seconds[step] += t1 - t0
        return t1


def process_inputs(
    inputs: Iterable[RawInput], *, ingested_at: datetime, pipeline_version: str, threads: int | None = None
) -> BatchTables:
    """One batch's tables. `threads` caps the DuckDB threads of its vectorised steps (None: DuckDB's default)."""
    rows: dict[str, list] = {name: [] for name in BATCH_TABLES}  # dicts; tuples for the _TUPLE_TABLES
    timer = _Timer()
    for item in inputs:
        t0 = time.perf_counter()
        file_sha = hashlib.sha256(item.data).hexdigest()
        n_docs = n_rej = 0
        fmt = None

        def reject(
            path: str, reason: str, detail: str, nbytes: int, sha: str | None, rel: str = item.rel
        ) -> None:
            nonlocal n_rej
            n_rej += 1
            rows["rejected_inputs"].append(
                {
                    "source_path": path,
                    "source_file": rel,  # bound as a default: the closure must not see a later item
                    "reason": reason,
                    "detail": detail[:500],
                    "bytes": nbytes,
                    "content_sha256": sha,
                }
            )

        try:
            if item.error is not None:
                raise InputRejected("unreadable", item.error)
            parsed = parse_file(item.data, item.rel)
        except InputRejected as exc:
            reject(item.rel, exc.reason, exc.detail, len(item.data), file_sha)
            parsed = None
        except Exception as exc:  # a parser bug must not lose the rest of the batch
            reject(item.rel, "error", _describe(exc), len(item.data), file_sha)
            parsed = None
        t0 = timer.add("parse", t0)

        if parsed is not None:
            for rej in parsed.rejected:
                reject(f"{item.rel}#{rej.record}", rej.reason, rej.detail, 0, None)
            for doc in parsed.docs:
                fmt = fmt or doc.format
                if doc.record is None:
                    path, sha, nbytes = item.rel, file_sha, len(item.data)
                else:
                    path = f"{item.rel}#{doc.record}"
                    sha = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
                    nbytes = len(doc.text.encode("utf-8"))
                started = time.perf_counter()
                try:
                    result = process_document(
                        doc,
                        SourceInfo(path, item.rel, sha, nbytes),
                        ingested_at=ingested_at,
                        pipeline_version=pipeline_version,
                    )
                except InputRejected as exc:  # over the labelling budget (checked before labelling)
                    reject(path, exc.reason, exc.detail, nbytes, sha)
                    continue
                except Exception as exc:
                    reject(path, "error", _describe(exc), nbytes, sha)
                    continue
                elapsed = time.perf_counter() - started
                n_sent = result.document["n_sentences"]
                if n_sent == 0:
                    reject(
                        path,
                        "no_sentences",
                        "no prose sentences found (only headings or lists?)",
                        nbytes,
                        sha,
                    )
                    continue
                if elapsed > DOCUMENT_SECONDS:
                    reject(
                        path, "timeout", f"took {elapsed:.1f} s > guard {DOCUMENT_SECONDS:.0f} s", nbytes, sha
                    )
                    continue
                n_docs += 1
                rows["documents"].append(result.document)
                rows["sections"].extend(result.sections)
                rows["sentences"].extend(result.sentences)
                rows["claims"].extend(result.claims)
                rows["claim_entities"].extend(result.entities)
                rows["document_artefacts"].extend(result.artefacts)
                rows["document_topics"].extend(
                    assign_taxonomy(result.document["document_id"], doc.text, result.sentence_spans)
                )
            t0 = timer.add("segment_and_label", t0)

        outcome = "accepted" if n_docs and not n_rej else ("partial" if n_docs else "rejected")
        rows["inputs"].append(
            {
                "source_file": item.rel,
                "outcome": outcome,
                "bytes": len(item.data),
                "content_sha256": file_sha,
                "format": fmt,
                "n_documents": n_docs,
                "n_rejected": n_rej,
            }
        )

    t0 = time.perf_counter()
    tables = {
        name: (tuples_to_table if name in _TUPLE_TABLES else pa.Table.from_pylist)(rows[name], schema=schema)
        for name, schema in BATCH_TABLES.items()
        if name != "doc_terms"
    }
    t0 = timer.add("arrow", t0)
    tables["doc_terms"] = document_terms(tables["documents"], threads)
    timer.add("terms", t0)
    return BatchTables(
        tables,
        dict(timer.seconds),
        n_documents=tables["documents"].num_rows,
        n_rejected=tables["rejected_inputs"].num_rows,
    )


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    loc = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
    return f"{type(exc).__name__}: {exc}{loc}"[:500]
