"""flows.validation: the frame escaping that keeps article-derived strings from reaching Data Docs raw."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flows.validation import escape_strings


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
