"""The files manifest: which part holds each input file (the next build reuses parts by it)."""

from __future__ import annotations

from flows.build import FILES_MANIFEST_SCHEMA, BatchResult, Plan, _files_manifest
from flows.discover import InputFile


def _file(rel: str) -> InputFile:
    return InputFile(rel, f"/in/{rel}", 10, 1, f"sha-{rel}")


def test_the_files_manifest_lists_carried_rows_then_each_batch_in_plan_order():
    carried = [
        {"source_file": "old.txt", "content_sha256": "sha-old", "part": "p0", "pipeline_version": "v0"}
    ]
    plan = Plan([[_file("a.txt"), _file("b.txt")], [_file("c.txt")]], ["p0"], carried)
    results = [BatchResult("p1", [], {}, {}), BatchResult("p2", [], {}, {})]
    table = _files_manifest(plan, results, "v1")
    assert table.schema == FILES_MANIFEST_SCHEMA
    assert table.to_pylist() == [
        carried[0],
        {"source_file": "a.txt", "content_sha256": "sha-a.txt", "part": "p1", "pipeline_version": "v1"},
        {"source_file": "b.txt", "content_sha256": "sha-b.txt", "part": "p1", "pipeline_version": "v1"},
        {"source_file": "c.txt", "content_sha256": "sha-c.txt", "part": "p2", "pipeline_version": "v1"},
    ]


def test_a_build_that_processed_nothing_keeps_the_carried_rows():
    carried = [
        {"source_file": "old.txt", "content_sha256": "sha-old", "part": "p0", "pipeline_version": "v0"}
    ]
    assert _files_manifest(Plan([], ["p0"], carried), [], "v1").to_pylist() == carried
    assert _files_manifest(Plan([], [], []), [], "v1").num_rows == 0
