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


def _prefixes(x, threshold: float):
    """Each row's prefix terms, as a 0/1 matrix, for prefix filtering (Bayardo, Ma and Srikant, "Scaling up all
    pairs similarity search", WWW 2007).

    Terms are ranked once for all rows, the rarest (fewest rows) first. A row's prefix is its rarest terms, up to
    where its remaining terms weigh less than the threshold (their L2 norm). If two L2-normalised rows with
    non-negative weights share no prefix term, every term they share lies outside the prefix of the one whose
    prefix ends earlier in the ranking, so their cosine is below that row's remaining norm times 1, below the
    threshold. So a pair at or above the threshold always shares a prefix term.
    """
    from scipy import sparse

    x = x.tocsr()
    lengths = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), lengths)
    df = np.bincount(x.indices, minlength=x.shape[1])
    rank = np.empty_like(df)
    rank[np.argsort(df, kind="stable")] = np.arange(df.size)
    # Within each row the most common terms first: a running sum of squared weights from the row's start is then
    # the squared norm of the terms it has covered, which stay outside the prefix while it is under the bound.
    order = np.lexsort((-rank[x.indices], rows))
    covered = np.cumsum(x.data[order] ** 2)
    start = np.concatenate(([0.0], covered))[x.indptr[:-1]]
    covered -= np.repeat(start, lengths)
    # A margin below the threshold: rounding in the sums can only add a term to a prefix, never drop one.
    prefix = covered >= (threshold - 1e-6) ** 2
    kept = order[prefix]
    return sparse.csr_matrix(
        (np.ones(kept.size, dtype=np.int32), (rows[kept], x.indices[kept])), shape=x.shape
    )


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
    x.sort_indices()
    prefixes = _prefixes(x, threshold)
    for lo in range(0, n, _CHUNK):
        # The pairs that share a prefix term: every pair at or above the threshold is among them, and on crawled
        # text they are a small share of all pairs (40k generated propositions: 545k of 1.6 billion). Comparing a
        # block with every node instead made a product as dense as the common words are (40k: 28 s, 2.5 GB).
        # Only the nodes from the block on: each unordered pair once (the cosine is symmetric).
        pairs = (prefixes[lo : lo + _CHUNK] @ prefixes[lo:].T).tocoo()
        rows, cols = pairs.row + lo, pairs.col + lo
        keep = (rows < cols) & (sig[rows] == sig[cols])
        rows, cols = rows[keep], cols[keep]
        if rows.size == 0:
            continue
        # Each pair's cosine: its rows' products summed in term order (a product of the whole block gives the
        # same sums up to the last bit of rounding).
        cos = np.asarray(x[rows].multiply(x[cols]).sum(axis=1)).ravel()
        near = cos >= threshold
        for i, j, v in zip(rows[near].tolist(), cols[near].tolist(), cos[near].tolist(), strict=True):
            nbrs[i][j] = nbrs[j][i] = v
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
