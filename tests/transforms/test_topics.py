"""Topics: the editable taxonomy per document, and NMF-discovered topics once the corpus supports them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from benchmarks.generate import _pools, article
from transforms.batch import RawInput, process_inputs
from transforms.topics import (
    assign_taxonomy,
    discover_topics,
    document_terms,
    focus_keywords,
    taxonomy_table,
    topic_settings,
)


@pytest.fixture(scope="module")
def doc_terms() -> pa.Table:
    """Per-document term sketches of 120 generated articles (five themes, from the seeds)."""
    pools = _pools()
    raw = [RawInput(f"a{i:03d}.txt", article(i, pools)[0].encode("utf-8")) for i in range(120)]
    return process_inputs(raw, ingested_at=datetime(2026, 1, 1, tzinfo=UTC), pipeline_version="t").tables[
        "doc_terms"
    ]


def test_taxonomy_scores_share_of_sentences():
    text = "Kratom eases withdrawal. Cravings fade. Prolactin falls. Withdrawal is hard."
    spans = [(0, 24), (25, 39), (40, 55), (56, 76)]
    rows = {r["topic_id"]: r for r in assign_taxonomy("d", text, spans)}
    assert rows["tax:opioid_withdrawal"]["score"] == 0.5  # two of four sentences
    assert "tax:prolactin" not in rows  # one sentence is below min_sentences
    assert [r["rank"] for r in sorted(rows.values(), key=lambda r: r["rank"])] == list(
        range(1, len(rows) + 1)
    )


def test_taxonomy_table_is_the_lexicon():
    t = taxonomy_table()
    assert t.num_rows >= 10 and set(t["method"].to_pylist()) == {"taxonomy"}
    assert all(t["terms"].to_pylist())


def test_discovered_topics_are_deterministic_and_cover_every_document(doc_terms):
    topics, assigned = discover_topics(doc_terms)
    again, assigned_again = discover_topics(doc_terms)
    assert topics.equals(again) and assigned.equals(assigned_again)
    assert topics.num_rows >= 2 and set(topics["method"].to_pylist()) == {"discovered"}
    assert all(len(t) >= 3 for t in topics["terms"].to_pylist())
    docs = set(doc_terms["document_id"].to_pylist())
    assert set(assigned["document_id"].to_pylist()) == docs
    assert set(assigned["topic_id"].to_pylist()) <= set(topics["topic_id"].to_pylist())


def test_no_discovered_topics_below_the_corpus_floor(doc_terms):
    floor = topic_settings().discovered_min_documents
    few = sorted(set(doc_terms["document_id"].to_pylist()))[: floor - 1]
    small = doc_terms.filter(pa.compute.is_in(doc_terms["document_id"], pa.array(few)))
    topics, assigned = discover_topics(small)
    assert topics.num_rows == 0 and assigned.num_rows == 0


def test_a_connection_view_gives_the_same_topics_and_keywords_as_the_table(doc_terms):
    """The build passes a DuckDB connection (its `doc_terms` view over staged Parquet) instead of the table."""
    con = duckdb.connect()
    try:
        con.register("doc_terms", doc_terms)
        topics, assigned = discover_topics(con)
        keywords = focus_keywords(con)
    finally:
        con.close()
    expected_topics, expected_assigned = discover_topics(doc_terms)
    assert topics.equals(expected_topics) and assigned.equals(expected_assigned)
    assert keywords.equals(focus_keywords(doc_terms))
    assert keywords.num_rows == len(set(doc_terms["document_id"].to_pylist()))


def _sample(doc_terms: pa.Table, n: int) -> list[str]:
    ids = sorted(set(doc_terms["document_id"].to_pylist()))
    return sorted(ids, key=lambda d: (hashlib.md5(d.encode()).hexdigest(), d))[:n]


@pytest.mark.parametrize("fit", [50, 77])
def test_a_large_corpus_is_fitted_on_a_sample_and_every_document_is_scored(doc_terms, fit):
    """Above `fit_documents` the topics are those of the sample alone, and every document is scored against
    them, `fit` documents at a time (120 documents: three blocks, the last one short)."""
    topics, assigned = discover_topics(doc_terms, fit_documents=fit)
    sample = doc_terms.filter(pa.compute.is_in(doc_terms["document_id"], pa.array(_sample(doc_terms, fit))))
    sample_topics, _ = discover_topics(sample)
    assert topics.num_rows >= 2
    assert topics.select(["topic_id", "label", "terms"]).equals(
        sample_topics.select(["topic_id", "label", "terms"])
    )
    assert all(f"fitted on {fit} of 120 documents" in d for d in topics["description"].to_pylist())
    assert set(assigned["document_id"].to_pylist()) == set(doc_terms["document_id"].to_pylist())
    assert set(assigned["topic_id"].to_pylist()) <= set(topics["topic_id"].to_pylist())
    by_doc: dict[str, list[int]] = {}
    for r in assigned.to_pylist():
        by_doc.setdefault(r["document_id"], []).append(r["rank"])
    assert all(ranks == list(range(1, len(ranks) + 1)) for ranks in by_doc.values())
    again = discover_topics(doc_terms, fit_documents=fit)
    assert topics.equals(again[0]) and assigned.equals(again[1])


def test_a_corpus_within_the_fit_size_is_fitted_whole(doc_terms):
    whole = discover_topics(doc_terms)
    assert discover_topics(doc_terms, fit_documents=120) == whole
    assert discover_topics(doc_terms, fit_documents=119) != whole


def test_document_topic_ranks_are_contiguous_and_scores_descend(doc_terms):
    _, assigned = discover_topics(doc_terms)
    by_doc: dict[str, list[tuple[int, float]]] = {}
    for r in assigned.to_pylist():
        by_doc.setdefault(r["document_id"], []).append((r["rank"], r["score"]))
    for rows in by_doc.values():
        assert [rank for rank, _ in rows] == list(range(1, len(rows) + 1)) and len(rows) <= 3
        scores = [s for _, s in rows]
        assert scores == sorted(scores, reverse=True) and min(scores) >= 0.10


def test_document_terms_are_the_same_on_any_number_of_duckdb_threads():
    """The batch's documents are cut into one record batch per DuckDB thread; the sketches must not change."""
    pools = _pools()
    raw = [RawInput(f"a{i:03d}.txt", article(i, pools)[0].encode("utf-8")) for i in range(40)]
    docs = process_inputs(raw, ingested_at=datetime(2026, 1, 1, tzinfo=UTC), pipeline_version="t").tables[
        "documents"
    ]
    one = document_terms(docs, threads=1)
    assert one.num_rows > 40 * 10
    for threads in (2, 3, 64, None):
        assert document_terms(docs, threads=threads).equals(one), threads
    ragged = pa.Table.from_batches(docs.to_batches(max_chunksize=7))  # already in several record batches
    assert document_terms(ragged, threads=2).equals(one)
    assert document_terms(docs.slice(0, 1), threads=2).equals(
        one.filter(pc.equal(one["document_id"], docs["document_id"][0]))
    )


def test_the_one_pass_topic_scan_finds_each_topics_pattern():
    from tests.transforms.test_regexset import SENTENCES
    from transforms.topics import _taxonomy, _topic_scanner, sentence_topics

    topics = _taxonomy()[1]
    # every topic is in the one pass (a lexicon edit that drops one out scans it on its own, slower)
    assert None not in _topic_scanner().slot
    crafted = [
        "Mu-opioid receptors and opioid withdrawal overlap here.",  # matches of two topics that overlap
        "Withdrawal-like symptoms are not withdrawal.",  # a guarded match, then a real one
        "KRATOM TAPERING and cravings",
    ]
    for s in [*SENTENCES, *crafted]:
        expected = tuple(i for i, t in enumerate(topics) if t.regex.search(s))
        assert sentence_topics.__wrapped__(s) == expected, s
