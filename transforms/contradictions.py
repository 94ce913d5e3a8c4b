"""Contradictions: pairs of claims about the same subject and attribute that disagree.

Two kinds, from the entity mentions the extractor records (`claim_entities`):

* `polarity`: one safety claim denies a harm ("non-addictive", "not associated with hyperpigmentation") and
  another asserts it as a risk ("could lead to dependence", "side effects can include hyperpigmentation").
* `direction`: one claim says the substance raises a target ("elevated prolactin") and another that it lowers
  it ("reduces prolactin").

Claims are compared by the *root* of their subject (lexicons/entities.yaml `parent`): a claim about K shots or
mitragynine bears on kratom. Pairs inside one article are listed claim by claim. Across articles, claims are
paired family by family (transforms/families.py), so a corpus that repeats one denial a thousand times yields
one row per pair of families with counts, not a million rows.

Runs as SQL on a DuckDB connection that has `claims`, `claim_entities` and `claim_family_members` views, so it
streams over Parquet parts instead of holding the corpus in memory.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from transforms.claims import root_of, rules

CONTRADICTION_SCHEMA = pa.schema(
    [
        pa.field("pair_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # polarity | direction
        pa.field("scope", pa.string(), nullable=False),  # same_article | cross_article
        pa.field("subject", pa.string(), nullable=False),  # root subject both claims are about
        pa.field("entity", pa.string(), nullable=False),  # the attribute they disagree on
        pa.field("claim_id_a", pa.string(), nullable=False),  # the denial / the "increase" claim
        pa.field("claim_id_b", pa.string(), nullable=False),  # the assertion / the "decrease" claim
        pa.field("document_id_a", pa.string(), nullable=False),
        pa.field("document_id_b", pa.string(), nullable=False),
        pa.field("document_id", pa.string()),  # the article, for same_article pairs
        pa.field("family_id_a", pa.string()),
        pa.field("family_id_b", pa.string()),
        pa.field("n_claim_pairs", pa.int64(), nullable=False),  # claim pairs this row stands for
        pa.field("n_articles", pa.int64(), nullable=False),  # distinct articles involved
    ]
)


def entity_roots() -> pa.Table:
    """Every lexicon entity with the root its claims are compared under."""
    names = sorted(rules().entities)
    return pa.table({"entity": names, "root": [root_of(n) or n for n in names]})


# Built step by step into temp tables, each its own query: as one query, the join of the picked claims with
# every claim's family and the self-joins of `m` ran at once and outgrew DuckDB's 512 MB at 300k articles (12M
# claims, 35M mentions); a temp table spills to disk like any other block, so each step gets the whole budget.
_STAGES = (
    # The mentions a contradiction can rest on, picked before any join: claim_entities is the largest table
    # (11.6M rows at 100k articles) and most of it is other mentions.
    """CREATE OR REPLACE TEMP TABLE _contra_e AS
    SELECT claim_id, entity, entity_type, polarity, direction FROM claim_entities
    WHERE (entity_type = 'harm' AND entity <> 'side effects') OR (direction IS NOT NULL AND polarity = 'affirmed')""",
    """CREATE OR REPLACE TEMP TABLE _contra_c AS
    SELECT c.claim_id, c.document_id, coalesce(r.root, c.subject) AS subject,
           list_contains(c.types, 'safety') AS safety, c.stance
    FROM (SELECT claim_id, document_id, subject, types, stance FROM claims SEMI JOIN _contra_e USING (claim_id)
          WHERE subject IS NOT NULL) c
    LEFT JOIN _entity_roots r ON r.entity = c.subject""",
    # Only the picked claims' families: joining every claim to its family was most of this step's memory.
    """CREATE OR REPLACE TEMP TABLE _contra_f AS
    SELECT claim_id, family_id FROM claim_family_members SEMI JOIN _contra_c USING (claim_id)""",
    """CREATE OR REPLACE TEMP TABLE _contra_m AS  -- one row per (claim, attribute, side)
    SELECT DISTINCT c.claim_id, c.document_id, c.subject, f.family_id, e.entity,
           CASE WHEN e.entity_type = 'harm' THEN 'polarity' ELSE 'direction' END AS kind,
           CASE WHEN e.entity_type = 'harm' AND e.polarity = 'negated' THEN 'a'
                WHEN e.entity_type = 'harm' AND e.polarity = 'affirmed' AND c.stance = 'risk' THEN 'b'
                WHEN e.entity_type <> 'harm' AND e.direction = 'increase' THEN 'a'
                WHEN e.entity_type <> 'harm' AND e.direction = 'decrease' THEN 'b' END AS side
    FROM _contra_c c JOIN _contra_e e USING (claim_id) LEFT JOIN _contra_f f USING (claim_id)
    WHERE e.entity <> c.subject
      AND ((e.entity_type = 'harm' AND c.safety AND e.entity <> 'side effects')
           OR (e.direction IS NOT NULL AND e.polarity = 'affirmed'))""",
)
_TEMP_TABLES = tuple(re.search(r"TEMP TABLE (\w+)", stage).group(1) for stage in _STAGES)  # type: ignore[union-attr]

_SQL = """
WITH m AS (SELECT * FROM _contra_m),
a AS (SELECT * FROM m WHERE side = 'a'),
b AS (SELECT * FROM m WHERE side = 'b'),
-- Inside one article: every claim pair (bounded by the article's length).
same AS (
    SELECT a.kind, a.subject, a.entity, a.claim_id AS claim_id_a, b.claim_id AS claim_id_b,
           a.document_id, a.family_id AS family_id_a, b.family_id AS family_id_b
    FROM a JOIN b ON a.kind = b.kind AND a.subject = b.subject AND a.entity = b.entity
                 AND a.document_id = b.document_id AND a.claim_id <> b.claim_id
),
-- Across articles: families are paired, never claims (a million repeats of one denial make one row). A
-- family pair stands for |a| x |b| claim pairs minus those inside one article.
fam1 AS (
    SELECT side, kind, subject, entity, family_id, count(*) AS n, count(DISTINCT document_id) AS n_docs,
           min(claim_id) AS first_claim, arg_min(document_id, claim_id) AS first_doc
    FROM m GROUP BY side, kind, subject, entity, family_id
),
-- The example pair shown for a family pair needs "the family's first claim in an article other than D". That
-- is the first claim when its article is not D, else the first claim outside the first claim's article: two
-- claims per family answer it for every D. (A subquery per family pair over the family's claims joined each
-- pair with every claim of the family and ran out of memory at 300k articles.)
second AS (
    SELECT f.side, f.kind, f.subject, f.entity, f.family_id, min(m.claim_id) AS second_claim,
           arg_min(m.document_id, m.claim_id) AS second_doc
    FROM m JOIN fam1 f ON m.side = f.side AND m.kind = f.kind AND m.subject = f.subject AND m.entity = f.entity
                       AND m.family_id IS NOT DISTINCT FROM f.family_id AND m.document_id <> f.first_doc
    GROUP BY ALL
),
fam AS (
    SELECT f.*, s.second_claim, s.second_doc FROM fam1 f
    LEFT JOIN second s ON s.side = f.side AND s.kind = f.kind AND s.subject = f.subject AND s.entity = f.entity
                      AND s.family_id IS NOT DISTINCT FROM f.family_id
),
overlap AS (
    SELECT kind, subject, entity, family_id_a, family_id_b, count(*) AS same_pairs,
           count(DISTINCT document_id) AS shared_docs
    FROM same GROUP BY ALL
),
crossed AS (
    SELECT fa.kind, fa.subject, fa.entity, fa.family_id AS family_id_a, fb.family_id AS family_id_b,
           fa.n * fb.n - coalesce(o.same_pairs, 0) AS n_claim_pairs,
           fa.n_docs + fb.n_docs - coalesce(o.shared_docs, 0) AS n_articles,
           fa.first_claim AS a1, fa.first_doc AS a1_doc, fa.second_claim AS a2, fa.second_doc AS a2_doc,
           fb.first_claim AS b1, fb.first_doc AS b1_doc, fb.second_claim AS b2, fb.second_doc AS b2_doc
    FROM fam fa
    JOIN fam fb ON fa.side = 'a' AND fb.side = 'b' AND fa.kind = fb.kind AND fa.subject = fb.subject
               AND fa.entity = fb.entity
    LEFT JOIN overlap o ON o.kind = fa.kind AND o.subject = fa.subject AND o.entity = fa.entity
                       AND o.family_id_a IS NOT DISTINCT FROM fa.family_id AND o.family_id_b IS NOT DISTINCT FROM fb.family_id
    WHERE fa.n * fb.n - coalesce(o.same_pairs, 0) > 0
),
-- The example: a's first claim and b's first claim in another article (b_pick); when all of b sits in a's
-- first article, b's first claim and a's first claim in another article, which is then a2 (a1 shares b1's
-- article). None when both families sit in one article.
first_try AS (
    SELECT *, CASE WHEN b1_doc <> a1_doc THEN b1 ELSE b2 END AS b_pick,
           CASE WHEN b1_doc <> a1_doc THEN b1_doc ELSE b2_doc END AS b_pick_doc
    FROM crossed
),
crossed_shown AS (
    SELECT kind, subject, entity, family_id_a, family_id_b, n_claim_pairs, n_articles,
           CASE WHEN b_pick IS NULL THEN a2 ELSE a1 END AS claim_id_a,
           CASE WHEN b_pick IS NULL THEN a2_doc ELSE a1_doc END AS document_id_a,
           coalesce(b_pick, b1) AS claim_id_b, coalesce(b_pick_doc, b1_doc) AS document_id_b
    FROM first_try
),
pairs AS (
    SELECT kind, 'same_article' AS scope, subject, entity, claim_id_a, claim_id_b, document_id AS document_id_a,
           document_id AS document_id_b, document_id, family_id_a, family_id_b, 1::BIGINT AS n_claim_pairs,
           1::BIGINT AS n_articles
    FROM same
    UNION ALL
    SELECT kind, 'cross_article', subject, entity, claim_id_a, claim_id_b, document_id_a, document_id_b, NULL,
           family_id_a, family_id_b, n_claim_pairs, n_articles
    FROM crossed_shown WHERE claim_id_a IS NOT NULL
)
SELECT sha256(concat_ws('|', kind, scope, claim_id_a, claim_id_b, family_id_a, family_id_b))[1:16] AS pair_id, *
FROM pairs
ORDER BY scope DESC, subject, entity, kind, claim_id_a, claim_id_b
"""


def contradiction_pairs(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Contradiction pairs from the `claims`, `claim_entities` and `claim_family_members` views of `con`."""
    con.register("_entity_roots", entity_roots())
    try:
        for stage in _STAGES:
            con.execute(stage)
        table = con.sql(_SQL).to_arrow_table()
    finally:
        con.execute("; ".join(f"DROP TABLE IF EXISTS {t}" for t in _TEMP_TABLES))
        con.unregister("_entity_roots")
    return table.select(CONTRADICTION_SCHEMA.names).cast(CONTRADICTION_SCHEMA)
