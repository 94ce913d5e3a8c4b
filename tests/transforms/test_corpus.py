"""Corpus-level analytics on the seeds: claim families and contradictions; and whole-document properties."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SEEDS
from transforms.batch import RawInput, process_inputs
from transforms.claims import proposition
from transforms.contradictions import contradiction_pairs
from transforms.families import claim_families


@pytest.fixture(scope="module")
def seeds_db():
    """The seeds through the pure per-document pipeline, plus families, in an in-memory DuckDB."""
    raw = [RawInput(p.name, p.read_bytes()) for p in sorted(SEEDS.glob("*.txt"))]
    tables = process_inputs(raw, ingested_at=datetime(2026, 1, 1, tzinfo=UTC), pipeline_version="test").tables
    con = duckdb.connect()
    for name in ("documents", "claims", "claim_entities", "sentences"):
        con.register(name, tables[name])
    con.register("claim_family_members", claim_families(con))
    pairs = contradiction_pairs(con)
    con.register("contradiction_pairs", pairs)
    yield con
    con.close()


def rows(con, sql):
    return con.sql(sql).fetchall()


# ---------------------------------------------------------------------------------------------- families


def test_the_seeds_repeated_claim_is_one_family_across_articles(seeds_db):
    ((n, n_docs),) = rows(
        seeds_db,
        """SELECT count(*), count(DISTINCT c.document_id) FROM claim_family_members f JOIN claims c USING (claim_id)
           WHERE family_id = (SELECT family_id FROM claim_family_members f JOIN claims c USING (claim_id)
                              WHERE c.text LIKE 'Kratom, derived from the tropical plant Mitragyna speciosa, has gained attention as a potential%'
                              LIMIT 1)""",
    )
    assert n >= 6 and n_docs >= 3


def test_families_group_repeats(seeds_db):
    ((multi, in_multi),) = rows(
        seeds_db,
        "SELECT count(*), sum(n) FROM (SELECT family_id, count(*) AS n FROM claim_family_members GROUP BY 1 HAVING n > 1)",
    )
    assert multi >= 8 and in_multi >= 25


def test_opposite_claims_never_share_a_family(seeds_db):
    assert rows(
        seeds_db,
        """SELECT count(*) FROM (SELECT family_id FROM claim_family_members JOIN claims USING (claim_id)
           GROUP BY 1 HAVING count(DISTINCT claims.signature) > 1)""",
    ) == [(0,)]
    reduce_, elevated = (
        rows(
            seeds_db,
            f"SELECT f.family_id FROM claim_family_members f JOIN claims c USING (claim_id) WHERE c.text LIKE '{t}%'",
        )[0][0]
        for t in ("Studies show it reduces prolactin", "Elevated prolactin levels are linked")
    )
    assert reduce_ != elevated


@pytest.mark.parametrize(
    "a, b",
    [
        (
            "Modern research suggests that kratom may help reduce withdrawal symptoms.",
            "Kratom helps reduce withdrawal symptoms.",
        ),
        ("However, studies show kratom eases cravings.", "Kratom eases cravings."),
    ],
)
def test_proposition_drops_frames_hedges_and_connectives(a, b):
    assert proposition(a) == proposition(b)


def test_proposition_keeps_content():
    assert proposition("Kratom reduces withdrawal symptoms.") != proposition(
        "Kratom causes withdrawal symptoms."
    )


# ----------------------------------------------------------------------------------------- contradictions


def pair_texts(con, kind, entity, scope=None):
    where = f"AND p.scope = '{scope}'" if scope else ""
    return rows(
        con,
        f"""SELECT a.text, b.text, p.scope FROM contradiction_pairs p
            JOIN claims a ON a.claim_id = p.claim_id_a JOIN claims b ON b.claim_id = p.claim_id_b
            WHERE p.kind = '{kind}' AND p.entity = '{entity}' {where}""",
    )


def test_non_addictive_meets_risk_of_dependency(seeds_db):
    found = pair_texts(seeds_db, "polarity", "dependence")
    denials = ("non-addictive", "without the addictive properties")
    assertions = ("risk of misuse and dependency", "could lead to dependence")
    assert any(any(d in a for d in denials) and any(x in b for x in assertions) for a, b, _ in found), found
    assert {scope for _, _, scope in found} == {"same_article", "cross_article"}


def test_not_associated_with_hyperpigmentation_meets_its_side_effects_in_the_same_article(seeds_db):
    found = pair_texts(seeds_db, "polarity", "hyperpigmentation", "same_article")
    assert any(
        "not associated with hyperpigmentation" in a and "hyperpigmentation" in b for a, b, _ in found
    ), found
    # "may even aid skin conditions like hyperpigmentation" treats it; it is not a harm claim
    assert not any("aid skin conditions" in b for _, b, _ in found)


def test_prolactin_reduced_and_elevated(seeds_db):
    found = pair_texts(seeds_db, "direction", "prolactin")
    assert any("elevated prolactin" in a and "reduce" in b for a, b, _ in found), found


def test_claims_about_other_subjects_are_not_paired(seeds_db):
    # "Elevated prolactin levels are linked to cravings" is about prolactin, not kratom: no contradiction with
    # "kratom reduces prolactin"
    assert not [
        t for t in pair_texts(seeds_db, "direction", "prolactin") if t[0].startswith("Elevated prolactin")
    ]


def test_pairs_reference_real_claims_and_consistent_scopes(seeds_db):
    bad = rows(
        seeds_db,
        """SELECT count(*) FROM contradiction_pairs p
           LEFT JOIN claims a ON a.claim_id = p.claim_id_a LEFT JOIN claims b ON b.claim_id = p.claim_id_b
           WHERE a.claim_id IS NULL OR b.claim_id IS NULL
              OR (p.scope = 'same_article') <> (a.document_id = b.document_id)""",
    )
    assert bad == [(0,)]


# ---------------------------------------------------------------------------------- whole-document property

# Arbitrary Unicode, and article-like text built from pieces that exercise headings, lists, cues and quotes.
_PIECES = [
    *list("abcdefgh ABCDE.,;:!?'\"()-–—\n\t#*•123é\u200b“”"),
    "\n\n",
    "kratom",
    " may ",
    " not ",
    "non-addictive",
    " studies show ",
    "While ",
    "- ",
    "– ",
    "1. ",
    "?\n",
    "[1]",
]
prose = st.one_of(st.text(max_size=300), st.lists(st.sampled_from(_PIECES), max_size=120).map("".join))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prose)
def test_any_text_is_processed_or_rejected_never_raises_and_offsets_are_exact(text):
    result = process_inputs(
        [RawInput("x.txt", text.encode("utf-8"))],
        ingested_at=datetime(2026, 1, 1, tzinfo=UTC),
        pipeline_version="t",
    )
    t = result.tables
    assert t["inputs"].num_rows == 1
    assert t["documents"].num_rows + t["rejected_inputs"].num_rows >= 1
    assert "error" not in t["rejected_inputs"]["reason"].to_pylist()  # a reason, never a crash
    if t["documents"].num_rows:
        doc = t["documents"]["text"][0].as_py()
        for s, e, txt in zip(
            *(t["sentences"][c].to_pylist() for c in ("char_start", "char_end", "text")), strict=True
        ):
            assert doc[s:e] == txt and txt.strip() == txt and txt
        for s, e in zip(
            t["sections"]["char_start"].to_pylist(), t["sections"]["char_end"].to_pylist(), strict=True
        ):
            assert 0 <= s <= e <= len(doc)
        for s, e in zip(
            t["claim_entities"]["char_start"].to_pylist(),
            t["claim_entities"]["char_end"].to_pylist(),
            strict=True,
        ):
            assert 0 <= s < e <= len(doc)
