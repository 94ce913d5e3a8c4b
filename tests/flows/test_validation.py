"""flows.validation: the frame escaping that keeps article-derived strings from reaching Data Docs raw."""

from __future__ import annotations

import html
import json

import pyarrow as pa
import pytest

from flows.validation import Validator, escape_strings, span_mismatches, widen_numbers


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["plain", None, "ids-only_1"], ["plain", None, "ids-only_1"]),
        (["<b>", None, "a & b"], ["&lt;b&gt;", None, "a &amp; b"]),
        (["\"q\" 'r'", "x"], ["&quot;q&quot; &#x27;r&#x27;", "x"]),
        (["&lt;"], ["&amp;lt;"]),  # escaped once more: the frame holds raw text, never pre-escaped HTML
        ([None, None], [None, None]),
        ([], []),
    ],
)
@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
def test_escape_strings(values, expected, typ):
    table = pa.table({"s": pa.array(values, type=typ), "n": pa.array(range(len(values)), type=pa.int64())})
    out = escape_strings(table)
    assert out.schema == table.schema
    assert out.column("s").to_pylist() == expected
    assert out.column("n").to_pylist() == list(range(len(values)))


def test_escape_strings_column_by_column():
    table = pa.table({"a": ["safe"], "b": ["<x>"]})
    assert escape_strings(table).to_pylist() == [{"a": "safe", "b": "&lt;x&gt;"}]


@pytest.mark.parametrize("special", list("&<>\"'"))
def test_escape_strings_finds_a_special_character_in_any_chunk_and_after_multibyte_text(special):
    column = pa.chunked_array([["plain", "ünïcödé ’quotes’"], [f"déjà {special} vu"]])
    out = escape_strings(pa.table({"s": column})).column("s").to_pylist()
    assert out == ["plain", "ünïcödé ’quotes’", f"déjà {html.escape(special)} vu"]


def test_escape_strings_on_slices_of_a_shared_buffer():
    sliced = pa.array(["<hidden>", "visible", "also fine"]).slice(1)
    assert escape_strings(pa.table({"s": sliced})).column("s").to_pylist() == ["visible", "also fine"]
    # the special character only past the slice's first bytes: a scan from the buffer's start by the
    # slice's length would miss it
    tail = pa.array(["plain words here", "x", "a & b"]).slice(1)
    assert escape_strings(pa.table({"s": tail})).column("s").to_pylist() == ["x", "a &amp; b"]


def _tiny_validator(tmp_path, *expectations: str) -> Validator:
    """A Validator over one suite "tiny": the given expectation types on column `id`."""
    suite = {
        "name": "tiny",
        "expectations": [{"type": t, "kwargs": {"column": "id"}, "meta": {}} for t in expectations],
        "meta": {"frame_sql": "SELECT 1 AS id"},
    }
    (tmp_path / "tiny.json").write_text(json.dumps(suite), encoding="utf-8")
    return Validator(tmp_path)


def test_the_gx_run_skips_the_frame_fingerprint_and_still_reports_failures(tmp_path):
    """GX's per-frame md5 fingerprint is switched off (flows/validation.py): a GX upgrade that renames the
    knob makes this fail instead of silently costing about 0.3 s per validation chunk again."""
    validator = _tiny_validator(
        tmp_path, "expect_column_values_to_not_be_null", "expect_column_values_to_be_unique"
    )
    failures = validator.validate("tiny", pa.table({"id": pa.array(["a", "b", "b", None])}))
    assert sorted(f.expectation for f in failures) == [
        "expect_column_values_to_be_unique",
        "expect_column_values_to_not_be_null",
    ]
    results = [result for _, result in validator.take_results()]
    assert results, "GX stored no validation result"
    for result in results:
        assert "pandas_data_fingerprint" not in json.dumps(result.to_json_dict())


def test_only_a_failing_suite_is_run_again_for_row_indices_and_each_run_stores_one_result(tmp_path):
    """Suites run with GX's cheap result format; one that fails runs again with the rows' indices (its samples
    and its Data Docs page need them), and that result replaces the first in the store."""
    validator = _tiny_validator(tmp_path, "expect_column_values_to_be_unique")
    assert validator.validate("tiny", pa.table({"id": pa.array(["a", "b", "c"])})) == []
    (passed,) = [result for _, result in validator.take_results()]
    assert passed.success
    assert "unexpected_index_list" not in passed.results[0].result  # no second, costlier run

    (failure,) = validator.validate("tiny", pa.table({"id": pa.array(["a", "b", "b", "c"])}))
    assert failure.unexpected_count == 2
    assert sorted(row["id"] for row in failure.sample) == ["b", "b"]
    (failed,) = [result for _, result in validator.take_results()]
    assert not failed.success
    assert failed.results[0].result["unexpected_index_list"] == [1, 2]


def test_a_run_leaves_no_frame_or_metric_cached_in_gx_and_the_next_still_reports_failures(tmp_path):
    """GX's pandas engine would keep each suite's last frame and its resolved metrics until that suite runs
    again (about 170 MB per validating process at 100k articles). A GX upgrade that renames what
    Validator.release_batches clears makes this fail."""
    validator = _tiny_validator(tmp_path, "expect_column_values_to_be_unique")
    engine = validator._source.get_execution_engine()
    for ids, failed in ((["a", "b", "b"], 1), (["a", "b", "c"], 0), (["c", "c", "d"], 1)):
        failures = validator.validate("tiny", pa.table({"id": pa.array(ids)}))
        assert [f.unexpected_count for f in failures] == ([2] if failed else [])
        assert engine is validator._source.get_execution_engine()  # the engine the runs use
        assert engine.batch_manager.batch_data_cache == {}
        assert engine.batch_manager.batch_cache == {}
        assert len(engine._metric_cache) == 0


_CLAIMS = [("c1", "affirmed"), ("c2", "affirmed"), ("c3", "negated")]
_MEMBERS = [("c1", "f1", "affirmed", True), ("c2", "f1", "affirmed", False), ("c3", "f2", "negated", True)]
_CHECKS = (
    "_duplicate_members",
    "_claims_without_family",
    "_orphan_members",
    "_signature_mismatches",
    "_null_keys",
)


@pytest.mark.parametrize(
    ("claims", "members", "expected"),
    [
        (_CLAIMS, _MEMBERS, (0, 0, 0, 0, 0)),
        ([*_CLAIMS, ("c4", "affirmed")], _MEMBERS, (0, 1, 0, 0, 0)),  # a claim with no family
        (_CLAIMS, [*_MEMBERS, ("c9", "f2", "negated", False)], (0, 0, 1, 0, 0)),  # a member with no claim
        (_CLAIMS, [*_MEMBERS[:2], ("c3", "f2", "affirmed", True)], (0, 0, 0, 1, 0)),  # signature differs
        (_CLAIMS, [*_MEMBERS, ("c2", "f2", "negated", False)], (1, 0, 0, 1, 0)),  # a claim in two families
        # no claim id: also an orphan, and a row that count(DISTINCT claim_id) leaves out
        (_CLAIMS, [*_MEMBERS, (None, "f2", "negated", False)], (1, 0, 1, 0, 1)),
    ],
)
def test_the_family_members_frame_counts_every_broken_link(claims, members, expected):
    """The claim_family_members suite validates one row per family, with whole-table checks folded in by its
    frame_sql (one full join of members and claims): each kind of broken link is counted exactly."""
    import duckdb

    validator = Validator()
    con = duckdb.connect()
    con.register(
        "claims", pa.table({"claim_id": [c for c, _ in claims], "signature": [s for _, s in claims]})
    )
    cols = ("claim_id", "family_id", "signature", "is_representative")
    table = pa.table({name: [m[i] for m in members] for i, name in enumerate(cols)})
    con.register("claim_family_members", table.append_column("similarity", pa.array([1.0] * len(members))))
    frame = validator.frame(con, "claim_family_members")
    assert {tuple(row[c] for c in _CHECKS) for row in frame.to_pylist()} == {expected}
    failures = validator.validate("claim_family_members", frame)
    failed = {f.column for f in failures}
    assert failed >= {c for c, n in zip(_CHECKS, expected, strict=True) if n}
    assert not failed & {c for c, n in zip(_CHECKS, expected, strict=True) if not n}
    validator.take_results()


def _suite_expectations():
    import great_expectations as gx

    from flows.validation import load_suite_specs

    for name, spec in load_suite_specs().items():
        suite = gx.ExpectationSuite(name=name, expectations=spec["expectations"])
        yield from suite.expectations


_RUNTIME = [None, {}, {"result_format": {"result_format": "COMPLETE", "partial_unexpected_count": 5}}]


def test_the_hoisted_gx_kwargs_equal_gx_own_on_every_expectation_in_the_suites(tmp_path):
    """flows.validation replaces four Expectation methods with ones that build the configuration once per call.
    On the GX version they were checked against they must return what GX's own methods return, for every
    expectation the suites hold (a GX upgrade is left unpatched; see the next test)."""
    from great_expectations.expectations.expectation import Expectation

    from flows import validation

    _tiny_validator(tmp_path, "expect_column_values_to_not_be_null")  # installs the replacements
    assert validation.hoist_gx_configuration(), "GX is not the version the replacements were checked against"
    for name, fn in validation.GX_KWARGS_METHODS.items():
        assert Expectation.__dict__[name] is fn
    own = validation.GX_ORIGINALS
    assert set(own) == set(validation.GX_KWARGS_METHODS)
    expectations = list(_suite_expectations())
    assert len(expectations) >= 100
    keys = ["column", "mostly", "result_format", "catch_exceptions", "value_set", "min_value", "no_such_key"]
    for e in expectations:
        assert validation._get_domain_kwargs(e) == own["_get_domain_kwargs"](e)
        assert validation._get_success_kwargs(e) == own["_get_success_kwargs"](e)
        for runtime in _RUNTIME:
            assert validation._get_runtime_kwargs(e, runtime) == own["_get_runtime_kwargs"](e, runtime)
        for key in [*keys, *e.domain_keys, *e.success_keys, *e.runtime_keys]:
            assert validation._get_success_kwarg(e, key, "dflt") == own["_get_success_kwarg"](e, key, "dflt")


def test_another_gx_version_keeps_gx_own_kwargs_methods(monkeypatch):
    import great_expectations as gx
    from great_expectations.expectations.expectation import Expectation

    from flows import validation

    before = {name: Expectation.__dict__[name] for name in validation.GX_KWARGS_METHODS}
    monkeypatch.setattr(gx, "__version__", "9.0.0")
    assert validation.hoist_gx_configuration() is False
    assert {name: Expectation.__dict__[name] for name in validation.GX_KWARGS_METHODS} == before


@pytest.mark.parametrize(
    ("typ", "wide"),
    [
        (pa.int8(), pa.int64()),
        (pa.int16(), pa.int64()),
        (pa.int32(), pa.int64()),
        (pa.uint8(), pa.int64()),
        (pa.uint32(), pa.int64()),
        (pa.float16(), pa.float64()),
        (pa.float32(), pa.float64()),
        (pa.int64(), pa.int64()),
        (pa.float64(), pa.float64()),
    ],
)
def test_widen_numbers_keeps_every_value(typ, wide):
    import numpy as np

    values = [np.float16(1.5), None, np.float16(-2.0)] if typ == pa.float16() else [1, None, 100]
    if pa.types.is_unsigned_integer(typ):
        values = [0, None, 200]
    table = pa.table({"n": pa.array(values, typ), "s": ["a", "b", None]})
    out = widen_numbers(table)
    assert out.schema.field("n").type == wide
    assert out.schema.field("s").type == pa.string()
    assert out["n"].to_pylist() == table["n"].to_pylist()
    assert out["s"].to_pylist() == table["s"].to_pylist()


def test_a_between_check_on_a_narrow_column_still_reports_its_failures(tmp_path):
    suite = {
        "name": "between",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "n", "min_value": 0, "max_value": 9},
            }
        ],
        "meta": {"frame_sql": "SELECT 1 AS n"},
    }
    (tmp_path / "between.json").write_text(json.dumps(suite), encoding="utf-8")
    validator = Validator(tmp_path)
    frame = pa.table({"n": pa.array([3, 12, None, -1, 9], pa.int32())})
    (failure,) = validator.validate("between", frame)
    assert failure.unexpected_count == 2
    assert sorted(row["n"] for row in failure.sample) == [-1, 12]
    assert validator.validate("between", pa.table({"n": pa.array([0, 9, None], pa.int32())})) == []


_SPAN = pa.struct([("r", pa.int64()), ("a", pa.int64()), ("e", pa.int64()), ("t", pa.string())])


@pytest.mark.parametrize(
    ("text", "spans", "bad"),
    [
        ("Kratom is safe.", [(1, 0, 6, "Kratom"), (2, 10, 15, "safe.")], []),
        ("Kratom is safe.", [(1, 0, 6, "Kratom"), (2, 10, 14, "safe.")], [2]),  # one character short
        ("“Non-addictive” – it isn’t.", [(1, 18, 27, "it isn’t.")], []),  # code points, not UTF-8 bytes
        ("“Non-addictive” – it isn’t.", [(1, 24, 33, "it isn’t.")], [1]),  # the same span at its byte offsets
        ("naïve", [(1, 2, 2, "")], []),  # an empty span
        ("abc", [(1, -1, 2, "ab")], [1]),  # substring() would wrap a negative start
        ("abc", [(1, 1, 9, "bc")], [1]),  # and truncate past the end
        ("abc", [(1, None, 2, "ab"), (2, 0, None, "ab"), (3, 0, 2, None)], [1, 2, 3]),
        (None, [(7, 0, 1, "a"), (8, 1, 2, "b")], [7, 8]),  # no document text: every span fails
        ("abc", [], []),
    ],
)
def test_span_mismatches(text, spans, bad):
    arr = pa.array([[dict(zip("raet", s, strict=True)) for s in spans]], type=pa.list_(_SPAN))
    assert span_mismatches(pa.array([text], type=pa.string()), arr).to_pylist() == [bad]


def test_span_mismatches_keeps_each_document_to_its_own_spans():
    spans = pa.chunked_array(
        [
            [
                [{"r": 1, "a": 0, "e": 1, "t": "a"}],
                [{"r": 2, "a": 0, "e": 1, "t": "a"}, {"r": 3, "a": 1, "e": 2, "t": "y"}],
            ]
        ],
        type=pa.list_(_SPAN),
    )
    assert span_mismatches(pa.chunked_array([["ab", "xy"]]), spans).to_pylist() == [[], [2]]
    # a slice of each: the list offsets then point past the start of the child array
    assert span_mismatches(pa.array(["xy"]), spans.chunk(0).slice(1)).to_pylist() == [[2]]
    assert span_mismatches(pa.array(["ab"]), spans.chunk(0).slice(0, 1)).to_pylist() == [[]]


@pytest.fixture(scope="module")
def seed_tables():
    from datetime import UTC, datetime

    from tests.conftest import SEEDS
    from transforms.batch import RawInput, process_inputs

    raw = [RawInput(p.name, p.read_bytes()) for p in sorted(SEEDS.glob("*.txt"))]
    return process_inputs(raw, ingested_at=datetime(2026, 1, 1, tzinfo=UTC), pipeline_version="t").tables


@pytest.mark.parametrize(("suite", "key"), [("sentences", "sentence_id"), ("claims", "claim_id")])
def test_the_text_check_flags_exactly_the_rows_whose_offsets_miss_their_text(seed_tables, suite, key):
    """`_text_ok` in the sentences and claims frames against Python's own slicing, on the seeds with three kinds
    of damage: a shifted end, a changed text, and a document that is gone."""
    import duckdb
    import pyarrow.compute as pc

    tables = dict(seed_tables)
    docs = tables["documents"]
    assert not all(t.isascii() for t in docs["text"].to_pylist())  # byte offsets would fail every later row
    rows = tables[suite]
    ids = rows[key].to_pylist()
    # the last document goes; the shifted and the changed row come from the others, so each damage counts alone
    gone = docs["document_id"][-1].as_py()
    kept = [i for i, d in zip(ids, rows["document_id"].to_pylist(), strict=True) if d != gone]
    shifted, retexted = kept[3], kept[len(kept) // 2]
    ends = [e + 1 if i == shifted else e for i, e in zip(ids, rows["char_end"].to_pylist(), strict=True)]
    texts = [t + "!" if i == retexted else t for i, t in zip(ids, rows["text"].to_pylist(), strict=True)]
    rows = rows.set_column(
        rows.schema.get_field_index("char_end"), "char_end", pa.array(ends, rows["char_end"].type)
    )
    tables[suite] = rows.set_column(rows.schema.get_field_index("text"), "text", pa.array(texts))
    tables["documents"] = docs.filter(pc.not_equal(docs["document_id"], gone))

    con = duckdb.connect()
    try:
        for name in ("documents", "sections", "sentences", "claims"):
            con.register(name, tables[name])
        frame = Validator().frame(con, suite)
    finally:
        con.close()
    text_of = dict(zip(docs["document_id"].to_pylist(), docs["text"].to_pylist(), strict=True))
    expected = {
        r[key]: r["document_id"] != gone
        and text_of[r["document_id"]][r["char_start"] : r["char_end"]] == r["text"]
        for r in tables[suite].select([key, "document_id", "char_start", "char_end", "text"]).to_pylist()
    }
    got = dict(zip(frame[key].to_pylist(), frame["_text_ok"].to_pylist(), strict=True))
    assert frame.num_rows == tables[suite].num_rows
    assert got == expected
    missing = {i for i, d in zip(ids, tables[suite]["document_id"].to_pylist(), strict=True) if d == gone}
    assert missing and {i for i, ok in got.items() if not ok} == missing | {shifted, retexted}
