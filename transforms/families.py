"""Claim families: near-duplicate and paraphrased claims grouped across articles.

1. Each claim carries its *proposition* (`claims.proposition`, computed by the extractor): the opening
   connective, evidence frames ("studies suggest"), hedges ("may", "potentially") and stop words removed, the
   rest stemmed (Snowball). "Modern research suggests that kratom may help reduce withdrawal symptoms" and
   "Kratom helps reduce withdrawal symptoms" have the same proposition.
2. Claims that assert the opposite never share a family: each claim has a *signature* (`claims.signature`:
   negated or not, and the direction it gives any target, "prolactin:decrease"); only equal signatures compare.
3. Only the distinct (proposition, signature) *nodes* go through Python: the corpus repeats its claims, so a
   million claims are far fewer nodes. Nodes are compared by TF-IDF cosine (scikit-learn); star clustering
   around the most connected node forms the families, so every member is similar to the family's
   representative itself (no chaining). The threshold is in lexicons/analytics.yaml.
4. Members are joined back to the claims in SQL and written straight to Parquet, never held whole in memory.

The family id hashes the representative node, so it is stable across runs while the family keeps it.
"""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa

from transforms.lexicon import load_yaml

FAMILY_MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("claim_id", pa.string(), nullable=False),
        pa.field("family_id", pa.string(), nullable=False),
        pa.field("signature", pa.string(), nullable=False),  # shared by every member (validation checks it)
        pa.field("similarity", pa.float64(), nullable=False),  # cosine to the family's representative
        pa.field("is_representative", pa.bool_(), nullable=False),
    ]
)

FAMILY_NODES_SCHEMA = pa.schema(
    [
        pa.field("proposition", pa.string(), nullable=False),
        pa.field("signature", pa.string(), nullable=False),
        pa.field("family_id", pa.string(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),
        pa.field("representative_claim", pa.string()),  # set on the family's centre node only
    ]
)

_NODES_SQL = """
SELECT proposition, signature, count(*) AS n, min(claim_id) AS first_claim
FROM claims GROUP BY proposition, signature ORDER BY proposition, signature
"""

# Members, from the `claims` view and the `_family_nodes` table; streamed by the caller (COPY ... TO).
MEMBERS_SQL = """
SELECT c.claim_id, f.family_id, f.signature, f.similarity,
       coalesce(c.claim_id = f.representative_claim, false) AS is_representative
FROM claims c JOIN _family_nodes f USING (proposition, signature)
ORDER BY c.claim_id
"""

_CHUNK = 2048


def family_nodes(con: duckdb.DuckDBPyConnection, threshold: float | None = None) -> pa.Table:
    """Family of every distinct (proposition, signature) of the `claims` view of `con`."""
    settings = load_yaml("analytics.yaml")["families"]
    threshold = float(settings["similarity_threshold"] if threshold is None else threshold)
    nodes = con.sql(_NODES_SQL).to_arrow_table()
    if nodes.num_rows == 0:
        return FAMILY_NODES_SCHEMA.empty_table()
    props = nodes["proposition"].to_pylist()
    sigs = nodes["signature"].to_pylist()
    counts = nodes["n"].to_pylist()
    first = nodes["first_claim"].to_pylist()
    center, sim = _star_clusters(props, sigs, counts, threshold, float(settings.get("max_df", 0.9)))
    fam_id = {c: "f" + hashlib.sha256(f"{props[c]}|{sigs[c]}".encode()).hexdigest()[:12] for c in set(center)}
    return pa.table(
        {
            "proposition": props,
            "signature": sigs,
            "family_id": [fam_id[c] for c in center],
            "similarity": sim,
            "representative_claim": [first[i] if center[i] == i else None for i in range(len(props))],
        },
        schema=FAMILY_NODES_SCHEMA,
    )


def claim_families(con: duckdb.DuckDBPyConnection, threshold: float | None = None) -> pa.Table:
    """Every claim with its family, in memory (tests and small corpora; the flow streams MEMBERS_SQL)."""
    con.register("_family_nodes", family_nodes(con, threshold))
    try:
        return con.sql(MEMBERS_SQL).to_arrow_table().cast(FAMILY_MEMBERS_SCHEMA)
    finally:
        con.unregister("_family_nodes")


def _star_clusters(
    props: list[str], sigs: list[str], counts: list[int], threshold: float, max_df: float
) -> tuple[list[int], list[float]]:
    """Star clustering over the graph of TF-IDF cosine >= threshold between nodes of equal signature.

    The node with the most neighbours (then the most repeated, then the first in sort order) becomes a centre
    and takes its unassigned neighbours; repeat. Edges come from chunked sparse products.
    """
    n = len(props)
    center = list(range(n))
    sim = [1.0] * n
    if n < 2 or threshold >= 1.0:
        return center, sim
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        vec = TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+", max_df=max_df if n > 20 else 1.0)
        x = vec.fit_transform(props).tocsr()  # L2-normalised rows: dot product = cosine
    except ValueError:  # every proposition empty
        return center, sim
    sig_ids = {s: k for k, s in enumerate(sorted(set(sigs)))}
    sig = np.array([sig_ids[s] for s in sigs])
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for lo in range(0, n, _CHUNK):
        prod = (x[lo : lo + _CHUNK] @ x.T).tocoo()
        rows, cols = prod.row + lo, prod.col
        keep = (prod.data >= threshold) & (rows != cols) & (sig[rows] == sig[cols])
        for i, j, v in zip(rows[keep].tolist(), cols[keep].tolist(), prod.data[keep].tolist(), strict=True):
            nbrs[i][j] = v
    order = sorted(range(n), key=lambda i: (-len(nbrs[i]), -counts[i], props[i], sigs[i]))
    assigned = [False] * n
    for c in order:
        if assigned[c]:
            continue
        assigned[c] = True
        for j, v in nbrs[c].items():
            if not assigned[j]:
                assigned[j] = True
                center[j], sim[j] = c, round(v, 4)
    return center, sim
