"""The data dictionary documents every column of every published table (it cannot silently drift)."""

import re
from pathlib import Path

import pytest

from flows.runs import RUNS_SCHEMA
from transforms.batch import BATCH_TABLES
from transforms.contradictions import CONTRADICTION_SCHEMA
from transforms.evaluate import ACCURACY_SCHEMA
from transforms.families import FAMILY_MEMBERS_SCHEMA
from transforms.topics import DOCUMENT_KEYWORDS_SCHEMA, TOPICS_SCHEMA

DICT = (Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md").read_text()
SCHEMAS = {
    **BATCH_TABLES,
    "topics": TOPICS_SCHEMA,
    "document_keywords": DOCUMENT_KEYWORDS_SCHEMA,
    "claim_family_members": FAMILY_MEMBERS_SCHEMA,
    "contradiction_pairs": CONTRADICTION_SCHEMA,
    "extractor_accuracy": ACCURACY_SCHEMA,
    "runs": RUNS_SCHEMA,
}


def documented(table: str) -> set[str]:
    m = re.search(rf"^## {table} .*?\n(.*?)(?=^## |\Z)", DICT, re.S | re.M)
    assert m, f"no section for {table}"
    return set(re.findall(r"^\| (\w+) \|", m.group(1), re.M)) - {"column"}


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_every_column_is_documented(table):
    assert set(SCHEMAS[table].names) == documented(table)


def test_every_suite_has_a_documented_table():
    suites = {p.stem for p in (Path(__file__).resolve().parents[1] / "expectations").glob("*.json")}
    assert suites == set(SCHEMAS) - {"runs"}
