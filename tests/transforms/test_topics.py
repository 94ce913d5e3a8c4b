"""Topics: the editable taxonomy per document, and NMF-discovered topics once the corpus supports them."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from benchmarks.generate import _pools, article
from transforms.batch import RawInput, process_inputs
from transforms.topics import assign_taxonomy, discover_topics, taxonomy_table, topic_settings


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
