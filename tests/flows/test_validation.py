"""flows.validation: the frame escaping that keeps article-derived strings from reaching Data Docs raw."""

from __future__ import annotations

import html
import json

import pyarrow as pa
import pytest

from flows.validation import Validator, escape_strings


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


def test_the_gx_run_skips_the_frame_fingerprint_and_still_reports_failures(tmp_path):
    """GX's per-frame md5 fingerprint is switched off (flows/validation.py): a GX upgrade that renames the
    knob makes this fail instead of silently costing about 0.3 s per validation chunk again."""
    suite = {
        "name": "tiny",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "meta": {}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}, "meta": {}},
        ],
        "meta": {"frame_sql": "SELECT 1 AS id"},
    }
    (tmp_path / "tiny.json").write_text(json.dumps(suite), encoding="utf-8")
    validator = Validator(tmp_path)
    failures = validator.validate("tiny", pa.table({"id": pa.array(["a", "b", "b", None])}))
    assert sorted(f.expectation for f in failures) == [
        "expect_column_values_to_be_unique",
        "expect_column_values_to_not_be_null",
    ]
    results = [result for _, result in validator.take_results()]
    assert results, "GX stored no validation result"
    for result in results:
        assert "pandas_data_fingerprint" not in json.dumps(result.to_json_dict())
