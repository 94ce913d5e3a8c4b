"""End to end: the real Prefect engine (test harness), real GX suites, a real DuckDB file."""

import os
import re
import subprocess
import sys
import textwrap
import threading

import duckdb
import pyarrow as pa
import pytest

from flows import build as build_mod
from flows.build import build_flow
from flows.storage import Layout
from transforms.errors import ValidationFailed

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def built(tmp_path_factory, prefect_harness):
    from tests.conftest import SEEDS

    out = tmp_path_factory.mktemp("built") / "data"
    summary = build_flow(str(SEEDS), str(out))
    return out, summary


def q(out, sql):
    con = duckdb.connect(str(Layout.at(out).warehouse), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_build_publishes_a_validated_dataset(built):
    out, summary = built
    assert summary.status == "success"
    assert summary.validation["success"] is True
    counts = dict(
        q(out, "SELECT 'documents', count(*) FROM documents UNION ALL SELECT 'claims', count(*) FROM claims")
    )
    assert counts["documents"] == 5 and counts["claims"] > 50
    for view in (
        "documents",
        "sections",
        "sentences",
        "claims",
        "topics",
        "document_topics",
        "rejected_inputs",
        "runs",
    ):
        assert q(out, f"SELECT count(*) FROM {view}")[0][0] >= 0
    assert (Layout.at(out).data_docs / "index.html").exists()
    status, n_claims = q(out, "SELECT status, rows['claims'] FROM runs")[0]
    assert status == "success" and n_claims == counts["claims"]


def test_every_offset_slices_its_text(built):
    out, _ = built
    bad = q(
        out,
        """
        SELECT count(*) FROM sentences s JOIN documents d USING (document_id)
        WHERE substring(d.text, s.char_start + 1, s.char_end - s.char_start) <> s.text
        """,
    )[0][0]
    assert bad == 0
    assert (
        q(out, "SELECT count(*) FROM claims c JOIN sentences s USING (sentence_id) WHERE c.text <> s.text")[
            0
        ][0]
        == 0
    )


def test_counts_agree(built):
    out, _ = built
    assert (
        q(
            out,
            """SELECT count(*) FROM documents d
           WHERE n_claims <> (SELECT count(*) FROM claims c WHERE c.document_id = d.document_id)""",
        )[0][0]
        == 0
    )


def test_prefect_run_has_summary_artifact(built):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["build-summary"]))
        )
    assert arts and "claimscope build" in arts[0].data


def test_ids_are_stable_across_runs(built, tmp_path):
    from tests.conftest import SEEDS

    out, _ = built
    other = tmp_path / "again"
    build_flow(str(SEEDS), str(other), full=True)
    for table, key in (("sentences", "sentence_id"), ("claims", "claim_id"), ("sections", "section_id")):
        first = {r[0] for r in q(out, f"SELECT {key} FROM {table}")}
        second = {r[0] for r in q(other, f"SELECT {key} FROM {table}")}
        assert first == second and first


def test_views_read_only_from_another_directory_during_a_build(seeds_copy, tmp_path):
    """A reader in another process and working directory keeps querying while a build publishes."""
    out = tmp_path / "data"
    build_flow(str(seeds_copy), str(out))
    stop = tmp_path / "stop"
    reader = textwrap.dedent(
        f"""
        import duckdb, os, time
        n = 0
        deadline = time.time() + 120
        while not os.path.exists({str(stop)!r}) and time.time() < deadline:
            con = duckdb.connect({str(out / "warehouse.duckdb")!r}, read_only=True)
            assert con.sql("SELECT count(*) FROM claims").fetchall()[0][0] > 0
            con.close()
            n += 1
        print(n)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", reader], cwd="/", stdout=subprocess.PIPE, text=True)
    try:
        (seeds_copy / "000_8a4ef0c6c9ed8294.txt").write_text(
            "Changed. Kratom may help with pain.\nMore text here.\n"
        )
        summary = build_flow(str(seeds_copy), str(out))
        assert summary.files_reused == 4 and summary.files_processed == 1
    finally:
        stop.touch()
        stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "reader failed while the build was running"
    assert int(stdout.strip()) > 0


def test_corrupted_staged_table_fails_validation_and_nothing_is_published(seeds_copy, tmp_path, monkeypatch):
    out = tmp_path / "data"
    build_flow(str(seeds_copy), str(out))
    layout = Layout.at(out)
    before = (os.readlink(layout.current), layout.warehouse.read_bytes())

    real = build_mod.process_inputs

    def corrupting(*args, **kwargs):
        result = real(*args, **kwargs)
        claims = result.tables["claims"]
        ends = pa.compute.add(claims["char_end"], 7)  # offsets no longer slice the claim text
        result.tables["claims"] = claims.set_column(
            claims.schema.get_field_index("char_end"), "char_end", ends
        )
        return result

    monkeypatch.setattr(build_mod, "process_inputs", corrupting)
    with pytest.raises(ValidationFailed) as info:
        build_flow(str(seeds_copy), str(out), full=True)
    failed = {(f["suite"], f["expectation"]) for f in info.value.failures}
    assert ("claims", "expect_column_values_to_be_in_set") in failed  # _text_ok / _matches_sentence
    assert any(f["sample"] for f in info.value.failures)
    assert (os.readlink(layout.current), layout.warehouse.read_bytes()) == before
    statuses = [r[0] for r in q(out, "SELECT status FROM runs ORDER BY started_at")]
    assert statuses[-1] == "validation_failed"


def test_second_concurrent_build_is_refused(seeds_copy, tmp_path):
    from flows import storage
    from transforms.errors import BuildLocked

    out = tmp_path / "data"
    layout = Layout.at(out)
    started = threading.Event()
    release = threading.Event()

    def hold():
        with storage.build_lock(layout):
            started.set()
            release.wait(30)

    t = threading.Thread(target=hold)
    t.start()
    started.wait(10)
    try:
        with pytest.raises(BuildLocked):
            build_flow(str(seeds_copy), str(out))
    finally:
        release.set()
        t.join()


def test_a_regressed_extractor_fails_validation_and_nothing_is_published(seeds_copy, tmp_path, monkeypatch):
    """Accuracy is a data-quality gate: an edit that breaks the extractor stops publication like a bad table."""
    import shutil

    import yaml

    from tests.conftest import ROOT
    from transforms import lexicon

    out = tmp_path / "data"
    build_flow(str(seeds_copy), str(out))
    layout = Layout.at(out)
    before = (os.readlink(layout.current), layout.warehouse.read_bytes())

    edited = tmp_path / "lexicons"
    shutil.copytree(ROOT / "lexicons", edited)
    cues = yaml.safe_load((edited / "claims.yaml").read_text(encoding="utf-8"))
    cues["hedges"]["modal"] = ["zzzz"]  # an analyst deletes may/might/could/can by mistake
    (edited / "claims.yaml").write_text(yaml.safe_dump(cues, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CLAIMSCOPE_LEXICONS", str(edited))
    try:
        with pytest.raises(ValidationFailed) as info:
            build_flow(str(seeds_copy), str(out))
    finally:
        monkeypatch.delenv("CLAIMSCOPE_LEXICONS")
        lexicon.refresh()
    failed = [f for f in info.value.failures if f["suite"] == "extractor_accuracy"]
    assert failed and failed[0]["column"] == "passed"
    assert any("certainty_hedged_f1" in str(row) for f in failed for row in f["sample"])
    assert (os.readlink(layout.current), layout.warehouse.read_bytes()) == before
    assert q(out, "SELECT status, accuracy_passed FROM runs ORDER BY started_at DESC LIMIT 1") == [
        ("validation_failed", False)
    ]


def test_analyst_views_on_the_seeds(built):
    """The derived views answer the product's questions on the seeds."""
    out, _ = built
    cards = {
        r[0][:3]: r[1:]
        for r in q(
            out,
            """SELECT source_path, instruction_headings, consult_professional_advice, risk_denials, contradictions,
                      focus_keyword, efficacy_hedged_share + efficacy_asserted_share
               FROM article_scorecards""",
        )
    }
    assert len(cards) == 5
    assert cards["000"][0] == 2  # "Describe its botanical origins ...", "Explain its effects ..."
    assert sum(c[0] for k, c in cards.items() if k != "000") == 0
    assert cards["004"][1] >= 1 and cards["001"][1] == 0
    assert cards["000"][2] >= 2  # "non-addictive" twice
    assert cards["003"][3] >= 1 and cards["004"][3] >= 1  # prolactin; hyperpigmentation
    assert all(c[4] for c in cards.values()) and all(abs(c[5] - 1) < 1e-9 for c in cards.values())
    ((n_members, n_articles),) = q(
        out, "SELECT n_members, n_articles FROM claim_families ORDER BY n_members DESC LIMIT 1"
    )
    assert n_members >= 6 and n_articles >= 3
    kinds = {r[0] for r in q(out, "SELECT DISTINCT kind || '/' || scope FROM contradictions")}
    assert {"polarity/same_article", "polarity/cross_article", "direction/same_article"} <= kinds
    assert q(
        out,
        "SELECT count(*) FROM contradictions WHERE text_a IS NULL OR text_b IS NULL OR source_path_a IS NULL",
    ) == [(0,)]
    topics = dict(q(out, "SELECT method, count(*) FROM topics GROUP BY 1"))
    assert topics.get("taxonomy", 0) >= 10
    assert q(out, "SELECT count(DISTINCT document_id) FROM document_topics WHERE method = 'taxonomy'") == [
        (5,)
    ]


def test_an_unchanged_rerun_republishes_without_recomputing(seeds_copy, tmp_path):
    out = tmp_path / "data"
    first = build_flow(str(seeds_copy), str(out))
    tables = "SELECT (SELECT count(*) FROM claims), (SELECT count(*) FROM claim_family_members), (SELECT count(*) FROM contradiction_pairs), (SELECT count(*) FROM topics)"
    before = q(out, tables)

    again = build_flow(str(seeds_copy), str(out))
    assert again.status == "success" and again.version != first.version
    assert again.validation["unchanged_since"] == first.version
    assert again.files_processed == 0 and "corpus" not in again.seconds and "validate" in again.seconds
    assert q(out, tables) == before
    assert q(out, "SELECT unchanged_since FROM runs ORDER BY started_at DESC LIMIT 1") == [(first.version,)]

    # A new junk file changes no document but is an input to account for: everything corpus-level is redone.
    (seeds_copy / "empty.txt").write_bytes(b"")
    third = build_flow(str(seeds_copy), str(out))
    assert third.validation["unchanged_since"] is None and "corpus" in third.seconds
    assert q(out, "SELECT reason FROM rejected_inputs") == [("empty",)]


def test_chunked_validation_agrees_with_whole_table_validation(seeds_copy, tmp_path, monkeypatch):
    """Per-chunk suites must give the whole-table answer: force one chunk per batch of one document."""
    monkeypatch.setattr(build_mod, "CHUNK_ROWS", 1)
    summary = build_flow(str(seeds_copy), str(tmp_path / "data"), batch_docs=1)
    assert summary.status == "success", summary.validation.get("failures")
    assert summary.validation["suites"]["claims"]["runs"] == 5  # one chunk per document
    assert summary.validation["suites"]["claim_family_members"]["runs"] == 1  # aggregated: one pass


def test_a_failure_in_a_validation_chunk_names_the_chunk_and_stops_publication(
    seeds_copy, tmp_path, monkeypatch
):
    """A per-part suite failing in one chunk reaches the report (with its chunk) and nothing is published."""
    import pyarrow.compute as pc

    from flows.validation import Validator

    monkeypatch.setattr(build_mod, "CHUNK_ROWS", 1)
    real_frame = Validator.frame

    def frame(self, con, suite, sql=None):
        table = real_frame(self, con, suite, sql)
        if suite == "sentences" and pc.min(table["ordinal"]).as_py() == 0:  # every chunk: break one offset
            ok = table["_text_ok"].to_pylist()
            ok[0] = False
            table = table.set_column(table.schema.get_field_index("_text_ok"), "_text_ok", pa.array(ok))
        return table

    monkeypatch.setattr(Validator, "frame", frame)
    with pytest.raises(ValidationFailed) as info:
        build_flow(str(seeds_copy), str(tmp_path / "data"), batch_docs=1)
    failed = [f for f in info.value.failures if f["suite"] == "sentences"]
    assert {f["column"] for f in failed} == {"_text_ok"}
    assert sorted(f["chunk"] for f in failed) == [f"chunk {i}/5" for i in range(1, 6)]
    assert all(f["unexpected_count"] == 1 for f in failed)
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_a_duplicated_family_member_fails_validation(seeds_copy, tmp_path, monkeypatch):
    """The aggregated family checks can fail: one claim listed twice stops publication."""
    duplicating = (
        build_mod.MEMBERS_SQL.replace("ORDER BY c.claim_id", "")
        + " UNION ALL ("
        + build_mod.MEMBERS_SQL.replace("ORDER BY c.claim_id", "LIMIT 1")
        + ")"
    )
    monkeypatch.setattr(build_mod, "MEMBERS_SQL", duplicating)
    with pytest.raises(ValidationFailed) as info:
        build_flow(str(seeds_copy), str(tmp_path / "data"))
    failed = {(f["suite"], f["column"]) for f in info.value.failures}
    assert ("claim_family_members", "_duplicate_members") in failed
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_validating_a_published_dataset_passes_and_leaves_no_spill_folder(built):
    from flows.runner import validate_published

    out, _ = built
    report = validate_published(str(out))
    assert report.success and report.suites["sentences"]["runs"] == 1
    staging = Layout.at(out).staging
    assert not staging.exists() or list(staging.iterdir()) == []


def _empty_folder(root):
    root.mkdir()


def _only_unusable_files(root):
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    hidden, elsewhere = root / ".hidden", root.parent / "elsewhere"  # hidden folders are not entered
    for d in (hidden, elsewhere):
        d.mkdir()
        (d / "article.txt").write_text("Kratom is said to help. " * 20, encoding="utf-8")
    (root / "linked").symlink_to(hidden, target_is_directory=True)
    (root / "outside.txt").symlink_to(elsewhere / "article.txt")


@pytest.mark.parametrize(
    ("make_input", "says"),
    [
        (_empty_folder, "the folder is empty"),
        (
            _only_unusable_files,
            "3 found, all rejected before processing (empty 1, not_a_file 1, symlink_outside 1)",
        ),
    ],
)
def test_nothing_to_build_is_a_named_error_and_publishes_nothing(tmp_path, make_input, says):
    """It used to end in DuckDB's "Table with name doc_terms does not exist" from the corpus step."""
    from flows.schedule import _run_records
    from transforms.errors import NoArticles

    src, out = tmp_path / "input", tmp_path / "data"
    make_input(src)
    with pytest.raises(NoArticles, match=re.escape(says)):
        build_flow(str(src), str(out))
    layout = Layout.at(out)
    assert layout.published_version() is None and not layout.warehouse.exists()
    runs = _run_records(layout)  # what `claimscope status` reads
    assert [r["status"] for r in runs] == ["failed"] and "NoArticles" in runs[0]["error"]
