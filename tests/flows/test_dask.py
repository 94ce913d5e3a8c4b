"""`build --workers 2`: batches and validation chunks run on a Dask LocalCluster (prefect-dask) and publish
exactly what the default single-process build publishes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import duckdb
import pytest

from flows.build import (
    CORPUS_TABLES,
    SCORE,
    build_flow,
    late_suite_groups,
    reads_corpus_tables,
    writers_read,
)
from flows.storage import Layout
from flows.validation import load_suite_specs
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Run-independent content of every table analysts query (ids embed content hashes, so they must agree too).
SNAPSHOT = {
    "documents": "SELECT document_id, n_chars, n_sentences, n_claims FROM documents",
    "sentences": "SELECT sentence_id, char_start, char_end, role, evidence, stance FROM sentences",
    "claims": "SELECT claim_id, claim_type, certainty, negated, types FROM claims",
    "claim_entities": "SELECT claim_id, entity, polarity, char_start FROM claim_entities",
    "claim_families": "SELECT family_id, n_members FROM claim_families",
    "contradictions": "SELECT pair_id, kind, claim_id_a, claim_id_b FROM contradiction_pairs",
    "document_topics": "SELECT document_id, topic_id, rank FROM document_topics",
}


def snapshot(out) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(Layout.at(out).warehouse), read_only=True)
    try:
        return {name: sorted(con.sql(sql).fetchall(), key=repr) for name, sql in SNAPSHOT.items()}
    finally:
        con.close()


def test_two_dask_workers_publish_what_one_process_publishes(seeds_copy, tmp_path):
    from prefect.settings import PREFECT_API_URL

    one = tmp_path / "one"
    assert build_flow(str(seeds_copy), str(one), batch_docs=1).status == "success"

    two = tmp_path / "two"
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}  # workers report to the harness
    args = [
        "build",
        "-q",
        "--input",
        str(seeds_copy),
        "--output",
        str(two),
        "--workers",
        "2",
        "--batch-docs",
        "1",
    ]
    res = subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    # Five one-document batches and the validation chunk ran in the two worker processes, not in the CLI's.
    assert "tasks ran in 2 worker processes" in res.stdout
    assert "distributed." not in res.stdout + res.stderr  # Dask's INFO chatter stays out of the output

    assert snapshot(two) == snapshot(one)
    # The per-part suites validated on the workers are in the flow's Data Docs, next to the corpus suites.
    validations = Layout.at(two).data_docs / "validations"
    for suite in ("sentences", "claims", "claim_entities", "sections", "documents", "claim_family_members"):
        assert list((validations / suite).rglob("*.html")), suite


def test_chunks_validated_on_the_cluster_during_the_batches_are_labelled_and_stop_publication(
    seeds_copy, tmp_path, monkeypatch
):
    """On Dask, a chunk's suites are submitted as soon as its batches are staged (before the count of chunks is
    known); a failure in any of them still reaches the report under its final 'chunk i/N' label."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from prefect_dask import DaskTaskRunner

    import flows.build as build_mod
    from flows.validation import Validator
    from transforms.errors import ValidationFailed

    monkeypatch.setattr(build_mod, "CHUNK_ROWS", 1)  # one chunk per one-document batch
    submitted = []
    real_submit = build_mod._submit_chunk

    def submit(staging, parts, index):
        submitted.append(list(parts))
        return real_submit(staging, parts, index)

    monkeypatch.setattr(build_mod, "_submit_chunk", submit)
    real_frame = Validator.frame
    frames_in = {}  # suite -> whether its frame was built in the flow's thread

    def frame(self, con, suite, sql=None):
        frames_in[suite] = threading.current_thread() is threading.main_thread()
        table = real_frame(self, con, suite, sql)
        if suite == "sentences":  # every chunk: break one offset
            ok = table["_text_ok"].to_pylist()
            ok[pc.index(table["ordinal"], 0).as_py()] = False
            table = table.set_column(table.schema.get_field_index("_text_ok"), "_text_ok", pa.array(ok))
        if suite in ("documents", "contradiction_pairs"):  # a corpus suite run early, and one run late
            table = table.set_column(
                0, table.schema.names[0], pa.nulls(table.num_rows, table.schema.types[0])
            )
        return table

    monkeypatch.setattr(Validator, "frame", frame)
    # Threads, not processes: the patches above must reach the tasks (the CLI's LocalCluster uses processes).
    runner = DaskTaskRunner(cluster_kwargs={"processes": False, "n_workers": 1, "threads_per_worker": 2})
    out = tmp_path / "data"
    with pytest.raises(ValidationFailed) as info:
        build_flow.with_options(task_runner=runner)(str(seeds_copy), str(out), batch_docs=1)
    # Four chunks submitted during the batches, the last one after them; each of the 5 parts in exactly one.
    assert len(submitted) == 5
    assert len({p for parts in submitted for p in parts}) == sum(map(len, submitted)) == 5
    failed = [f for f in info.value.failures if f["suite"] == "sentences"]
    assert sorted(f["chunk"] for f in failed) == [f"chunk {i}/5" for i in range(1, 6)]
    assert all(f["unexpected_count"] == 1 for f in failed)
    # The corpus suites ran on the cluster too, and their failures reach the report.
    corpus = {name for name, spec in load_suite_specs().items() if spec["meta"]["scope"] == "corpus"}
    assert {name for name in corpus if frames_in[name]} == set()
    assert {"documents", "contradiction_pairs"} <= {f["suite"] for f in info.value.failures}
    assert not Layout.at(out).warehouse.exists()


@pytest.mark.parametrize(
    ("suite", "early"),
    [("documents", True), ("inputs", True), ("rejected_inputs", True), ("topics", False)]
    + [(name, False) for name in CORPUS_TABLES],
)
def test_corpus_suites_that_read_no_corpus_table_can_run_before_the_corpus_step(suite, early):
    """On Dask, these run during the corpus step: their frames must not read what it writes."""
    spec = load_suite_specs()[suite]
    assert spec["meta"]["scope"] == "corpus"
    assert reads_corpus_tables(spec) is not early


@pytest.mark.parametrize(
    ("suite", "writers"),
    [
        ("claim_family_members", {"families"}),
        ("contradiction_pairs", {"families"}),
        ("topics", {"topics"}),
        ("document_topics", {"topics"}),
        ("document_keywords", {"topics"}),
        ("extractor_accuracy", {SCORE}),
        ("documents", set()),
    ],
)
def test_each_corpus_suite_waits_for_the_writers_of_the_tables_it_reads(suite, writers):
    assert writers_read(load_suite_specs()[suite]) == writers


def test_every_late_corpus_suite_is_in_exactly_one_group():
    specs = load_suite_specs()
    groups = late_suite_groups(specs)
    late = [n for n, s in specs.items() if s["meta"]["scope"] == "corpus" and reads_corpus_tables(s)]
    assert sorted(n for names in groups.values() for n in names) == sorted(late)
    assert groups[frozenset({"families"})] == ["claim_family_members", "contradiction_pairs"]


def test_on_dask_the_families_suites_are_queued_before_the_topics_are_computed(
    seeds_copy, tmp_path, monkeypatch
):
    """Each group of corpus suites goes to the cluster as soon as its branch is written, not after the step."""
    from prefect_dask import DaskTaskRunner

    import flows.build as build_mod

    events: list[tuple[str, str]] = []
    real_branch, real_submit = build_mod.corpus_task.fn, build_mod._submit_ready_suites

    def branch(staging, name):
        events.append(("branch", name))
        return real_branch(staging, name)

    def submit(staging, pending, done, n):
        ready = [name for key, names in pending.items() if key <= done for name in names]
        events.extend(("suites", name) for name in ready)
        return real_submit(staging, pending, done, n)

    monkeypatch.setattr(build_mod.corpus_task, "fn", branch)
    monkeypatch.setattr(build_mod, "_submit_ready_suites", submit)
    runner = DaskTaskRunner(cluster_kwargs={"processes": False, "n_workers": 1, "threads_per_worker": 2})
    out = tmp_path / "data"
    assert (
        build_flow.with_options(task_runner=runner)(str(seeds_copy), str(out), batch_docs=1).status
        == "success"
    )
    assert events.index(("suites", "claim_family_members")) < events.index(("branch", "topics"))
    assert events.index(("branch", "topics")) < events.index(("suites", "document_topics"))
    assert ("suites", "extractor_accuracy") in events
