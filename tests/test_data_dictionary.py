"""The README's data dictionary documents every column of every published table and derived view."""

import re
from pathlib import Path

import duckdb
import pytest

from flows.runs import RUNS_SCHEMA
from transforms.batch import BATCH_TABLES
from transforms.contradictions import CONTRADICTION_SCHEMA
from transforms.evaluate import ACCURACY_SCHEMA
from transforms.families import FAMILY_MEMBERS_SCHEMA
from transforms.topics import DOCUMENT_KEYWORDS_SCHEMA, TOPICS_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DICT = README[README.index("## Data dictionary") :]
SCHEMAS = {
    **BATCH_TABLES,
    "topics": TOPICS_SCHEMA,
    "document_keywords": DOCUMENT_KEYWORDS_SCHEMA,
    "claim_family_members": FAMILY_MEMBERS_SCHEMA,
    "contradiction_pairs": CONTRADICTION_SCHEMA,
    "extractor_accuracy": ACCURACY_SCHEMA,
    "runs": RUNS_SCHEMA,
}


def section(name: str) -> str:
    m = re.search(rf"^### {name} .*?\n(.*?)(?=^### |\Z)", DICT, re.S | re.M)
    assert m, f"no section for {name}"
    return m.group(1)


def documented(name: str) -> set[str]:
    return set(re.findall(r"^\| (\w+) \|", section(name), re.M)) - {"column"}


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_every_column_is_documented(table):
    assert set(SCHEMAS[table].names) == documented(table)


def test_every_suite_has_a_documented_table():
    suites = {p.stem for p in (ROOT / "expectations").glob("*.json")}
    assert suites == set(SCHEMAS) - {"runs"}


@pytest.mark.parametrize("view", ["claim_families", "article_scorecards"])
def test_derived_view_columns_are_documented(view):
    """Create the derived views over empty tables of the declared schemas and compare their columns."""
    from flows.views import derived_views

    con = duckdb.connect()
    for name, schema in SCHEMAS.items():
        con.register(f"_{name}", schema.empty_table())
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}")
    for _, sql in derived_views():
        con.execute(sql)
    columns = {r[0] for r in con.sql(f"DESCRIBE {view}").fetchall()}
    assert columns == documented(view)
