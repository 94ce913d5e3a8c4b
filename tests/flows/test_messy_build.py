"""The messy crawl folder, end to end through the real flow: every input accounted for, with the right reason.

tests/fixtures/messy/EXPECTED.yaml states the outcome of each committed fixture. Files git cannot keep or should
not carry (symbolic links, a 50 MB single line, a million bullet lines, a sparse over-the-limit file, hostile
names) are made here, at test time, with their expected outcome in GENERATED.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from typer.testing import CliRunner

from flows import build as build_mod
from flows.build import BuildSummary, build_flow
from flows.discover import MAX_FILE_BYTES
from flows.storage import Layout
from tests.conftest import ROOT, SEEDS
from transforms import document
from transforms.batch import RawInput, process_inputs
from transforms.document import MAX_SENTENCES_PER_DOCUMENT
from transforms.errors import InputRejected, ValidationFailed
from transforms.formats import MAX_DOC_CHARS, MAX_DOC_LINES
from transforms.sentences import split_sentences

pytestmark = pytest.mark.usefixtures("prefect_harness")

MESSY = ROOT / "tests" / "fixtures" / "messy"
NOT_INPUTS = {"EXPECTED.yaml", ".gitattributes"}
EXPECTED: dict[str, dict] = yaml.safe_load((MESSY / "EXPECTED.yaml").read_text(encoding="utf-8"))
OUTSIDE_MARKER = "OUTSIDEMARKER7f3a"

HUGE_LINE = b"kratom is a tree " * (50 * 1024 * 1024 // 17)  # a 50 MB single line
MILLION_BULLETS = b"- kratom\n" * 1_000_000
BULLET_FLOOD = b"- a\n" * 400_000  # within MAX_DOC_CHARS, far over MAX_DOC_LINES
# One 1.9 M-char "sentence" dense with claim cues: unguarded, labelling it is quadratic (hours).
RUN_ON = b"kratom is safe and helps with pain " * (1_900_000 // 35)
MANY_SENTENCES = b"\n\n".join([b"Kratom tea is sold in many shops. " * 10] * 600)  # 6,000 sentences

# name -> (reason, a fragment of the detail)
GENERATED: dict[str, tuple[str, str]] = {
    "generated/huge_single_line.txt": ("too_large", f"{len(HUGE_LINE):,} chars > limit {MAX_DOC_CHARS:,}"),
    "generated/million_bullets.md": ("too_large", f"{len(MILLION_BULLETS):,} chars > limit"),
    "generated/bullet_flood.txt": ("too_large", f"400,000 lines > limit {MAX_DOC_LINES:,}"),
    "generated/run_on.txt": ("too_large", "run-on text: longest sentence"),
    "generated/many_sentences.txt": ("too_large", f"sentences > limit {MAX_SENTENCES_PER_DOCUMENT:,}"),
    "generated/oversized.dat": ("too_large", f"bytes > limit {MAX_FILE_BYTES}"),
    "links/inside_copy.txt": ("duplicate", "same bytes as plain_prose.txt"),
    "links/outside_file.txt": ("symlink_outside", "points outside the input folder"),
    "links/outside_folder": ("symlink_outside", "points outside the input folder"),
    "links/broken.txt": ("unreadable", "broken symbolic link"),
    "links/loop": ("not_a_file", "symbolic link to a folder"),
}


def make_messy_input(root: Path) -> Path:
    inp = root / "input"
    inp.mkdir(parents=True)
    for p in MESSY.iterdir():
        if p.name not in NOT_INPUTS:
            shutil.copy(p, inp / p.name)
    outside = root / "outside"
    (outside / "folder").mkdir(parents=True)
    prose = f"Kratom is a tree. {OUTSIDE_MARKER} must never be read. The FDA warns about kratom.\n"
    (outside / "secret.txt").write_text(prose)
    (outside / "folder" / "a.txt").write_text(prose)
    gen = inp / "generated"
    gen.mkdir()
    for name, data in (
        ("huge_single_line.txt", HUGE_LINE),
        ("million_bullets.md", MILLION_BULLETS),
        ("bullet_flood.txt", BULLET_FLOOD),
        ("run_on.txt", RUN_ON),
        ("many_sentences.txt", MANY_SENTENCES),
    ):
        (gen / name).write_bytes(data)
    with open(gen / "oversized.dat", "wb") as fh:  # sparse: past the file limit without writing 64 MB
        fh.truncate(MAX_FILE_BYTES + 1)
    links = inp / "links"
    links.mkdir()
    (links / "inside_copy.txt").symlink_to("../plain_prose.txt")
    (links / "outside_file.txt").symlink_to(outside / "secret.txt")
    (links / "outside_folder").symlink_to(outside / "folder", target_is_directory=True)
    (links / "broken.txt").symlink_to(root / "nowhere.txt")
    (links / "loop").symlink_to("..", target_is_directory=True)
    return inp


def expected_reason(name: str) -> str | None:
    if name in GENERATED:
        return GENERATED[name][0]
    return EXPECTED[name].get("rejected")


ALL_FILES = sorted(set(EXPECTED) | set(GENERATED))
ACCEPTED = [n for n in ALL_FILES if expected_reason(n) is None]
REJECTED = [n for n in ALL_FILES if expected_reason(n) is not None]


@pytest.fixture(scope="module")
def messy(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> tuple[Path, BuildSummary, float]:
    root = tmp_path_factory.mktemp("messy")
    inp = make_messy_input(root)
    t = time.perf_counter()
    summary = build_flow(str(inp), str(root / "out"))
    return root / "out", summary, time.perf_counter() - t


def q(out: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(Layout.at(out).warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------------------- nothing lost


def test_build_succeeds_within_bounds(messy: tuple[Path, BuildSummary, float]) -> None:
    _, summary, seconds = messy
    assert summary.status == "success" and summary.validation["success"]
    assert summary.validation["suites"]["inputs"]["failed"] == 0
    # Unguarded, the run-on line alone would take hours and the bullet flood ~90 s.
    assert seconds < 120


def test_every_discovered_file_is_accounted_for(messy: tuple[Path, BuildSummary, float]) -> None:
    out, summary, _ = messy
    assert summary.files_discovered == len(ALL_FILES)
    inputs = dict(q(out, "SELECT source_file, outcome FROM inputs"))
    assert sorted(inputs) == ALL_FILES  # one row per file, no more, no less
    in_documents = {r[0] for r in q(out, "SELECT DISTINCT source_file FROM documents")}
    in_rejected = {r[0] for r in q(out, "SELECT DISTINCT source_file FROM rejected_inputs")}
    assert in_documents | in_rejected == set(ALL_FILES)
    assert in_documents == set(ACCEPTED)
    # The run summary, the run record and the tables tell the same story.
    assert sum(summary.outcomes.values()) == summary.files_discovered
    by_outcome = dict(q(out, "SELECT outcome, count(*) FROM inputs GROUP BY ALL"))
    assert summary.outcomes == by_outcome
    assert by_outcome == {"accepted": len(ACCEPTED) - 1, "partial": 1, "rejected": len(REJECTED)}
    run = q(
        out,
        "SELECT files_discovered, files_accepted, files_partial, files_rejected FROM runs WHERE run_id = ?",
        [summary.run_id],
    )
    assert run == [(len(ALL_FILES), len(ACCEPTED) - 1, 1, len(REJECTED))]


def test_rejections_have_their_reasons(messy: tuple[Path, BuildSummary, float]) -> None:
    out, _, _ = messy
    rows = {r[0]: r[1:] for r in q(out, "SELECT source_path, reason, detail, bytes FROM rejected_inputs")}
    expected_paths = set(REJECTED) | {"articles.jsonl#L4"}
    assert set(rows) == expected_paths
    for name in REJECTED:
        reason, detail, _ = rows[name]
        assert reason == expected_reason(name), (name, reason, detail)
        assert detail.strip()
        if name in GENERATED:
            assert GENERATED[name][1] in detail, (name, detail)
    assert rows["articles.jsonl#L4"][0] == "invalid_record"
    assert rows["plain_prose_copy.txt"][1] == "same bytes as plain_prose.txt"
    assert rows["generated/huge_single_line.txt"][2] == len(HUGE_LINE)


def test_accepted_files_have_their_format_encoding_and_sections(
    messy: tuple[Path, BuildSummary, float],
) -> None:
    out, _, _ = messy
    for name in ACCEPTED:
        exp = EXPECTED[name]
        docs = q(
            out,
            "SELECT document_id, record, format, encoding, n_sections FROM documents WHERE source_file = ? "
            "ORDER BY record",
            [name],
        )
        assert len(docs) == exp["n_docs"], name
        assert {(d[2], d[3]) for d in docs} == {(exp["format"], exp["encoding"])}, name
        assert q(out, "SELECT format FROM inputs WHERE source_file = ?", [name]) == [(exp["format"],)]
        for doc_id, record, _, _, n_sections in docs:
            want = exp["records"][record] if record else exp["n_sections"]
            assert n_sections == want, (name, record)
            assert q(out, "SELECT count(*) FROM sections WHERE document_id = ?", [doc_id]) == [(want,)]
            if record is None:
                headed = q(
                    out,
                    "SELECT level, heading FROM sections WHERE document_id = ? AND heading IS NOT NULL "
                    "ORDER BY ordinal",
                    [doc_id],
                )
                assert headed == [tuple(h) for h in exp["headings"]], name


def test_text_is_normalised(messy: tuple[Path, BuildSummary, float]) -> None:
    out, _, _ = messy
    texts = dict(q(out, "SELECT source_path, text FROM documents"))
    for text in texts.values():
        assert "\r" not in text and not text.startswith("\ufeff")
    assert "“natural”" in texts["legacy_cp1252.txt"] and "café" in texts["legacy_cp1252.txt"]
    assert "naïve" in texts["lone_cr_nfd.txt"] and "\u0308" not in texts["lone_cr_nfd.txt"]
    assert texts["utf16le_nobom.txt"].startswith("Kratom Tea and Sleep\n")
    # Hard-wrapped PDF lines are joined into sentences: a sentence runs across the line break.
    wrapped = q(
        out,
        "SELECT count(*) FROM sentences s JOIN documents d USING (document_id) "
        "WHERE d.source_file = 'pdf_text_wrapped.txt' AND s.text LIKE '%Southeast Asia' || chr(10) || 'whose%'",
    )
    assert wrapped == [(1,)]
    meta = q(out, "SELECT title, url, published FROM documents WHERE source_file = 'headings_h1_h6.html'")
    assert meta == [
        ("Kratom Explained, Level by Level", "https://clinic.example.org/kratom-explained", "2024-01-09")
    ]


def test_symlinks_out_of_the_folder_are_not_followed(messy: tuple[Path, BuildSummary, float]) -> None:
    out, _, _ = messy
    assert q(out, f"SELECT count(*) FROM documents WHERE text LIKE '%{OUTSIDE_MARKER}%'") == [(0,)]
    assert q(out, "SELECT count(*) FROM documents WHERE source_file LIKE 'links/%'") == [(0,)]


def test_partial_jsonl_file_is_accounted_record_by_record(messy: tuple[Path, BuildSummary, float]) -> None:
    out, _, _ = messy
    assert q(
        out, "SELECT outcome, n_documents, n_rejected FROM inputs WHERE source_file = 'articles.jsonl'"
    ) == [("partial", 3, 1)]
    paths = [
        r[0]
        for r in q(out, "SELECT source_path FROM documents WHERE source_file = 'articles.jsonl' ORDER BY 1")
    ]
    assert paths == ["articles.jsonl#L1", "articles.jsonl#L2", "articles.jsonl#L3"]


# --------------------------------------------------------------------------------------- the time guard


def test_label_guard_rejects_before_labelling(monkeypatch: pytest.MonkeyPatch) -> None:
    import transforms.document as document

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("labelled a document the guard should have rejected first")

    monkeypatch.setattr(document, "label_sentences", forbidden)
    for name, data, fragment in (
        ("run_on.txt", RUN_ON, "run-on text"),
        ("many_sentences.txt", MANY_SENTENCES, f"> limit {MAX_SENTENCES_PER_DOCUMENT:,}"),
    ):
        t = time.perf_counter()
        result = process_inputs([RawInput(name, data)], ingested_at=datetime.now(UTC), pipeline_version="t")
        assert time.perf_counter() - t < 10
        rejected = result.tables["rejected_inputs"].to_pylist()
        assert [r["reason"] for r in rejected] == ["too_large"]
        assert fragment in rejected[0]["detail"]


def test_label_guard_limits_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Kratom is a tree. It grows in Asia. The FDA warns about it."
    three = split_sentences(text)
    monkeypatch.setattr(document, "MAX_SENTENCES_PER_DOCUMENT", 3)
    document.check_label_work(three)
    monkeypatch.setattr(document, "MAX_SENTENCES_PER_DOCUMENT", 2)
    with pytest.raises(InputRejected, match="at least 3 sentences > limit 2"):
        document.check_label_work(three)
    monkeypatch.setattr(document, "MAX_SENTENCES_PER_DOCUMENT", 3)
    work = 17**2 + 17**2 + 23**2  # the three sentences' lengths, squared
    monkeypatch.setattr(document, "MAX_LABEL_WORK", work)
    document.check_label_work(three)
    monkeypatch.setattr(document, "MAX_LABEL_WORK", work - 1)
    with pytest.raises(InputRejected, match="longest sentence 23 chars"):
        document.check_label_work(three)


# --------------------------------------------------------------------------------------- read-only query


def test_query_opens_the_warehouse_read_only(messy: tuple[Path, BuildSummary, float]) -> None:
    from flows.cli import app

    out, _, _ = messy
    warehouse = Layout.at(out).warehouse
    before = warehouse.read_bytes()
    runner = CliRunner()
    ok = runner.invoke(
        app, ["query", "--output", str(out), "--format", "csv", "SELECT count(*) AS n FROM inputs"]
    )
    assert ok.exit_code == 0 and ok.stdout.split() == ["n", str(len(ALL_FILES))]
    for sql in (
        "CREATE TABLE x AS SELECT 1",
        "DROP VIEW documents",
        "CREATE OR REPLACE VIEW documents AS SELECT 1 AS x",
    ):
        res = runner.invoke(app, ["query", "--output", str(out), sql])
        assert res.exit_code == 1, sql
        lines = [ln for ln in res.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and "read-only" in lines[0], res.output
    assert warehouse.read_bytes() == before


# --------------------------------------------------------------------------------------- the inputs suite


def _small_input(root: Path) -> Path:
    inp = root / "input"
    inp.mkdir(parents=True)
    for p in sorted(SEEDS.iterdir())[:2]:
        shutil.copy(p, inp / p.name)
    (inp / "empty.txt").write_bytes(b"")
    (inp / "junk.bin").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    return inp


def _miscounting(lost: str, misreported: str):
    """process_inputs with two bugs in its `inputs` rows, which no real input can cause: one file's row is
    lost, another file's row says it was rejected although it gave a document."""
    real = build_mod.process_inputs

    def wrong(*args, **kwargs):
        result = real(*args, **kwargs)
        rows = [r for r in result.tables["inputs"].to_pylist() if r["source_file"] != lost]
        for r in rows:
            if r["source_file"] == misreported:
                r["outcome"] = "rejected"
        result.tables["inputs"] = pa.Table.from_pylist(rows, schema=result.tables["inputs"].schema)
        return result

    return wrong


def test_inputs_suite_fails_when_a_file_goes_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inp, out = _small_input(tmp_path), tmp_path / "out"
    first = build_flow(str(inp), str(out))  # the suite passes on the real thing ...
    assert first.validation["suites"]["inputs"]["failed"] == 0
    before = Layout.at(out).warehouse.read_bytes()

    seed = sorted(os.listdir(inp))[0]
    monkeypatch.setattr(build_mod, "process_inputs", _miscounting("junk.bin", seed))
    with pytest.raises(ValidationFailed) as info:  # ... and fails when a file is not accounted for
        build_flow(str(inp), str(out), full=True)
    failed = {(f["suite"], f["expectation"]): f for f in info.value.failures}
    count = failed[("inputs", "expect_table_row_count_to_equal")]
    assert count["sample"] == [{"observed_value": 3}]  # 3 rows for 4 discovered files
    # ... and from the other side: a rejection whose file has no `inputs` row.
    orphan = [
        f for f in info.value.failures if f["suite"] == "rejected_inputs" and f["column"] == "_input_found"
    ]
    assert [r["source_file"] for r in orphan[0]["sample"]] == ["junk.bin"]
    outcome = [f for f in info.value.failures if f["column"] == "_outcome_ok"]
    assert [r["source_file"] for r in outcome[0]["sample"]] == [seed]
    assert Layout.at(out).warehouse.read_bytes() == before  # nothing published


# --------------------------------------------------------------------------------------- hostile content

XSS_NAME = "<img src=x onerror=alert(1)>.txt"
XSS_TEXT = "<script>alert(1)</script>"


def test_untrusted_text_reaches_data_docs_only_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp, out = _small_input(tmp_path), tmp_path / "out"
    article = (SEEDS / sorted(os.listdir(SEEDS))[2]).read_text()
    (inp / XSS_NAME).write_text(f"{XSS_TEXT} Kratom {XSS_TEXT}\n\n{article}")
    real = build_mod.process_inputs

    def duplicating(*args, **kwargs):  # make the inputs suite list this file's name as an unexpected value
        result = real(*args, **kwargs)
        inputs = result.tables["inputs"]
        hostile = inputs.filter(pa.compute.equal(inputs["source_file"], XSS_NAME))
        result.tables["inputs"] = pa.concat_tables([inputs, hostile])
        return result

    monkeypatch.setattr(build_mod, "process_inputs", duplicating)
    with pytest.raises(ValidationFailed) as info:
        build_flow(str(inp), str(out))
    uniques = [f for f in info.value.failures if f["expectation"] == "expect_column_values_to_be_unique"]
    assert uniques and uniques[0]["column"] == "source_file"
    html = "\n".join(p.read_text(errors="replace") for p in Layout.at(out).data_docs.rglob("*.html"))
    assert "onerror=alert" in html  # the value did reach the Data Docs ...
    assert "<img src=x" not in html and "<script>alert" not in html  # ... but never as markup
    assert (
        "&lt;img src=x onerror=alert(1)&gt;" in html or "&amp;lt;img src=x onerror=alert(1)&amp;gt;" in html
    )


HOSTILE_NAMES = [
    "..%2f..%2fevil.txt",
    "new\nline evil.txt",
    "rtl \u202eevil\u202c txt.exe",
    "-rf evil.txt",
    "evil 名前 café.md",
]


def test_hostile_names_cannot_write_outside_the_output_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    inp, out = _small_input(work), work / "out"
    article = (SEEDS / sorted(os.listdir(SEEDS))[3]).read_text()
    for i, name in enumerate(HOSTILE_NAMES):
        (inp / name).write_text(f"Copy {i} of the article.\n\n{article}")
    record = {"id": "../../../evil", "url": "file:///etc/passwd", "title": "../evil", "text": article}
    (inp / "evil.jsonl").write_text(json.dumps(record) + "\n")
    (tmp_path / "bait").mkdir()

    def snapshot() -> set[str]:
        return {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if not p.is_relative_to(out)}

    before = snapshot()
    summary = build_flow(str(inp), str(out))
    assert summary.status == "success"
    assert snapshot() == before  # not one path created or removed outside the output folder
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out.resolve())
        assert "evil" not in p.name and "%2f" not in p.name  # output names come from hashes and run ids
    paths = {r[0] for r in q(out, "SELECT source_path FROM documents")}
    assert set(HOSTILE_NAMES) <= paths and "evil.jsonl#L1" in paths  # names kept exactly, as data only
