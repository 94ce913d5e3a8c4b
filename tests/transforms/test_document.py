"""One document's rows: the tuple tables (sentences, claims, entities) line up with their schemas."""

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from tests.conftest import SEEDS
from transforms.claims import ENTITY_TYPES, EVIDENCE, ROLES, STANCES
from transforms.document import (
    CLAIM_ENTITIES_SCHEMA,
    CLAIMS_SCHEMA,
    PROSE_KINDS,
    SENTENCES_SCHEMA,
    SourceInfo,
    process_document,
    tuples_to_table,
)
from transforms.formats import parse_file

SCHEMA = pa.schema(
    [pa.field("id", pa.string()), pa.field("n", pa.int32()), pa.field("tags", pa.list_(pa.string()))]
)


def test_tuples_become_columns_in_schema_order():
    table = tuples_to_table([("a", 1, ["x"]), ("b", None, [])], SCHEMA)
    assert table.schema == SCHEMA
    assert table.to_pylist() == [{"id": "a", "n": 1, "tags": ["x"]}, {"id": "b", "n": None, "tags": []}]


def test_no_rows_is_an_empty_table_of_the_schema():
    table = tuples_to_table([], SCHEMA)
    assert table.num_rows == 0 and table.schema == SCHEMA


@pytest.mark.parametrize("row", [("a", 1), ("a", 1, ["x"], "extra")])
def test_a_row_of_the_wrong_width_is_an_error(row):
    with pytest.raises(ValueError):
        tuples_to_table([row], SCHEMA)


def test_a_seed_documents_tuples_match_their_schemas():
    path = sorted(SEEDS.glob("*.txt"))[0]
    raw = path.read_bytes()
    parsed = parse_file(raw, path.name).docs[0]
    rows = process_document(
        parsed,
        SourceInfo(path.name, path.name, "0" * 64, len(raw)),
        ingested_at=datetime.now(UTC),
        pipeline_version="t",
    )
    sentences = tuples_to_table(rows.sentences, SENTENCES_SCHEMA)
    claims = tuples_to_table(rows.claims, CLAIMS_SCHEMA)
    entities = tuples_to_table(rows.entities, CLAIM_ENTITIES_SCHEMA)
    assert claims.num_rows and entities.num_rows
    text = parsed.text
    # Each column holds what its name says: offsets slice the text, ids nest, flags are booleans.
    for s in sentences.to_pylist():
        assert text[s["char_start"] : s["char_end"]] == s["text"]
        assert s["sentence_id"].startswith(s["section_id"].rsplit("-", 1)[0])
        assert s["role"] in ROLES and s["section_kind"] in PROSE_KINDS
        assert s["evidence"] in EVIDENCE and s["stance"] in STANCES
    sentence_ids = set(sentences["sentence_id"].to_pylist())
    for c in claims.to_pylist():
        assert c["sentence_id"] in sentence_ids and c["claim_type"] in c["types"]
        assert isinstance(c["negated"], bool) and c["certainty"] in ("hedged", "asserted")
        assert c["evidence"] in EVIDENCE and c["stance"] in STANCES and c["section_kind"] in PROSE_KINDS
    claim_ids = set(claims["claim_id"].to_pylist())
    for e in entities.to_pylist():
        assert e["claim_id"] in claim_ids and text[e["char_start"] : e["char_end"]] == e["surface"]
        assert e["entity_type"] in ENTITY_TYPES and e["direction"] in ("increase", "decrease", None)
