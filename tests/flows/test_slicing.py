"""Corpus suites on frames larger than SLICE_ROWS run in slices of rows (flows/validation.py): the outcome must be
the one the whole frame gets, failure by failure."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from flows.validation import Validator, load_suite_specs, slice_plan


def _spec(*expectations: tuple[str, dict], scope: str = "corpus") -> dict:
    return {
        "name": "s",
        "expectations": [{"type": t, "kwargs": kw, "meta": {}} for t, kw in expectations],
        "meta": {"scope": scope, "frame_sql": "SELECT * FROM t"},
    }


_NOT_NULL = ("expect_column_values_to_not_be_null", {"column": "id"})
_UNIQUE = ("expect_column_values_to_be_unique", {"column": "id"})
_PAIR_UNIQUE = ("expect_compound_columns_to_be_unique", {"column_list": ["g", "k"]})
_BETWEEN = ("expect_column_values_to_be_between", {"column": "v", "min_value": 0, "max_value": 10})
_IN_SET = ("expect_column_values_to_be_in_set", {"column": "cat", "value_set": ["a", "b"]})
_COUNT_EQ = ("expect_table_row_count_to_equal", {"value": {"$PARAMETER": "n_expected"}})
_COUNT_MIN = ("expect_table_row_count_to_be_between", {"min_value": {"$PARAMETER": "n_min"}})
_COUNT_MAX = ("expect_table_row_count_to_be_between", {"max_value": {"$PARAMETER": "n_max"}})


@pytest.mark.parametrize(
    ("expectations", "keys", "counts"),
    [
        ([_NOT_NULL, _BETWEEN, _IN_SET], (), ()),
        ([_UNIQUE, _PAIR_UNIQUE, _UNIQUE], (("id",), ("g", "k")), ()),
        ([_COUNT_EQ, _COUNT_MIN], (), (("value", "n_expected"), ("min_value", "n_min"))),
    ],
)
def test_a_slice_plan_keeps_the_keys_and_parameter_counts(expectations, keys, counts):
    plan = slice_plan(_spec(*expectations))
    assert plan is not None and plan.unique_keys == keys and plan.counts == counts


@pytest.mark.parametrize(
    "spec",
    [
        _spec(_NOT_NULL, scope="chunked"),  # per-part suites are chunked by document instead
        _spec(("expect_column_values_to_not_be_null", {"column": "id", "mostly": 0.9})),  # a share of rows
        _spec(("expect_table_row_count_to_equal", {"value": 50})),  # a literal count cannot be shared out
        _spec(("expect_column_distinct_values_to_contain_set", {"column": "cat", "value_set": ["a"]})),
        _spec(("expect_column_mean_to_be_between", {"column": "v", "min_value": 0})),
        # a count parameter that another expectation also reads
        _spec(
            _COUNT_EQ,
            (
                "expect_column_values_to_be_between",
                {"column": "v", "max_value": {"$PARAMETER": "n_expected"}},
            ),
        ),
        _spec(_COUNT_MIN, ("expect_table_row_count_to_equal", {"value": {"$PARAMETER": "n_min"}})),
    ],
)
def test_a_suite_that_cannot_be_split_is_validated_whole(spec):
    assert slice_plan(spec) is None


def test_the_corpus_suites_that_grow_with_the_corpus_have_a_plan():
    plans = {name: slice_plan(spec) for name, spec in load_suite_specs().items()}
    for name in (
        "documents",
        "inputs",
        "rejected_inputs",
        "document_topics",
        "document_keywords",
        "claim_family_members",
        "contradiction_pairs",
    ):
        assert plans[name] is not None, name


def _rows(n: int) -> list[dict]:
    rows = [{"id": f"i{i}", "g": f"g{i % 7}", "k": i, "v": i % 10, "cat": "ab"[i % 2]} for i in range(n)]
    rows[47]["id"] = rows[2]["id"]  # a duplicate id, far from its twin
    rows[48]["id"] = rows[2]["id"]
    rows[10]["id"] = None
    rows[11]["id"] = None  # two nulls: not duplicates of each other
    rows[30]["g"], rows[30]["k"] = rows[5]["g"], rows[5]["k"]  # a duplicated pair
    rows[20]["v"] = 11
    rows[40]["cat"] = "z"
    return rows


@pytest.fixture(scope="module")
def validator(tmp_path_factory) -> Validator:
    spec = _spec(_NOT_NULL, _UNIQUE, _PAIR_UNIQUE, _BETWEEN, _IN_SET, _COUNT_EQ, _COUNT_MIN, _COUNT_MAX)
    folder = tmp_path_factory.mktemp("suite")
    (folder / "s.json").write_text(json.dumps(spec), encoding="utf-8")
    return Validator(folder)


def _outcome(failures) -> list[tuple]:
    return sorted(
        (
            f.expectation,
            f.column,
            f.unexpected_count,
            json.dumps(f.sample if f.unexpected_count is None else None),
        )
        for f in failures
    )


@pytest.mark.parametrize("slice_rows", [1, 3, 7, 49, 50])
@pytest.mark.parametrize(("n_expected", "n_min", "n_max"), [(50, 1, 50), (52, 60, 49), (48, 50, 50)])
def test_slices_fail_exactly_where_the_whole_frame_fails(validator, slice_rows, n_expected, n_min, n_max):
    validator.take_results()
    table = pa.Table.from_pylist(_rows(50))
    params = {"n_expected": n_expected, "n_min": n_min, "n_max": n_max}
    whole = validator.validate("s", table, params)
    validator.take_results()
    con = duckdb.connect()
    try:
        con.register("t", table)
        sliced = validator.validate_table(con, "s", params, slice_rows=slice_rows)
        assert con.sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]
    finally:
        con.close()
    runs = validator.take_results()
    assert _outcome(sliced) == _outcome(whole)
    assert {f.expectation for f in whole} >= {
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
    }
    assert any(f.expectation.startswith("expect_table_row_count") for f in whole) == (
        (n_expected, n_min, n_max) != (50, 1, 50)
    )
    # One run per slice of `slice_rows` rows that keeps a row, plus one of the rows whose key occurs twice: ids 2,
    # 47 and 48, the pair of rows 5 and 30, and the two null ids (nulls group together there; GX skips them).
    dups = {2, 47, 48, 5, 30, 10, 11}
    ranges = {i // slice_rows for i in range(50) if i not in dups}
    assert len(runs) == (1 if slice_rows >= 50 else 1 + len(ranges))


@pytest.fixture(scope="module")
def seeds_version(tmp_path_factory, prefect_harness):
    from flows.build import build_flow
    from flows.storage import Layout
    from tests.conftest import SEEDS

    out = tmp_path_factory.mktemp("sliced") / "data"
    assert build_flow(str(SEEDS), str(out)).status == "success"
    return Layout.at(out).published_version()


@pytest.mark.parametrize("damaged", [False, True])
def test_every_corpus_suite_in_slices_reports_what_it_reports_whole(seeds_version, damaged):
    """The suites in expectations/ on the seeds' published tables, in slices of three rows and whole: clean, and with
    a document, a topic assignment and a contradiction pair repeated and an input row gone."""
    from flows.build import _corpus_params, _process_validator, _staged_views

    validator = _process_validator()  # the build's own, already built in this process
    con = duckdb.connect()
    try:
        _staged_views(con, seeds_version)
        n_discovered = con.sql("SELECT count(*) FROM inputs").fetchall()[0][0]
        if damaged:
            for name, change in (
                ("documents", "UNION ALL (SELECT * FROM _d LIMIT 1)"),
                ("document_topics", "UNION ALL (SELECT * FROM _d ORDER BY document_id DESC LIMIT 1)"),
                ("contradiction_pairs", "UNION ALL (SELECT * FROM _d LIMIT 1)"),
                ("inputs", "LIMIT (SELECT count(*) - 1 FROM _d)"),
            ):
                con.execute(f"CREATE TABLE _{name} AS SELECT * FROM {name}")
                body = change.replace("_d", f"_{name}")
                con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _{name} {body}")
        params = _corpus_params(con, n_discovered)
        failed = set()
        for name, plan in validator.slice_plans.items():
            if plan is None:
                continue
            whole = validator.validate(name, validator.frame(con, name), params)
            sliced = validator.validate_table(con, name, params, slice_rows=3)
            assert _outcome(sliced) == _outcome(whole), name
            failed |= {(name, f.expectation) for f in whole}
        validator.take_results()
    finally:
        con.close()
    assert failed == (
        {
            ("documents", "expect_column_values_to_be_unique"),
            ("document_topics", "expect_compound_columns_to_be_unique"),
            ("contradiction_pairs", "expect_column_values_to_be_unique"),
            ("inputs", "expect_table_row_count_to_equal"),
            # what those damages also break: the repeated document's keyword row is repeated with it, and its
            # file's input row no longer counts the documents found
            ("document_keywords", "expect_column_values_to_be_unique"),
            ("inputs", "expect_column_pair_values_to_be_equal"),
        }
        if damaged
        else set()
    )
