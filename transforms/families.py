"""Claim families: near-duplicate and paraphrased claims grouped across articles.

Claims are normalised (case, quotes, punctuation, white space); identical normalised texts are one node. Nodes
whose TF-IDF vectors (scikit-learn, word 1-2 grams) have cosine similarity >= the threshold in
lexicons/analytics.yaml are linked, and each connected component is a family. The family id hashes the
family's representative text (its most repeated normalised text), so it is stable across runs while the family
keeps its representative.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
import pyarrow as pa

from transforms.lexicon import load_yaml

FAMILY_MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("claim_id", pa.string(), nullable=False),
        pa.field("family_id", pa.string(), nullable=False),
        pa.field("normalised_text", pa.string(), nullable=False),
        pa.field("similarity", pa.float64(), nullable=False),  # cosine to the family's representative
        pa.field("is_representative", pa.bool_(), nullable=False),
    ]
)

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": " ", "–": " "})
_NON_WORD = re.compile(r"[^\w\s'-]+")
_SPACE = re.compile(r"\s+")
_CHUNK = 2048


def normalise_claim(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    t = _NON_WORD.sub(" ", t)
    return _SPACE.sub(" ", t).strip(" '-")


def claim_families(claims: pa.Table, threshold: float | None = None) -> pa.Table:
    """`claims` needs claim_id and text (and `negated`, when present); one FAMILY_MEMBERS_SCHEMA row per claim."""
    settings = load_yaml("analytics.yaml")["families"]
    threshold = float(settings["similarity_threshold"] if threshold is None else threshold)
    ids = claims["claim_id"].to_pylist()
    norms = [normalise_claim(t) for t in claims["text"].to_pylist()]
    if not ids:
        return FAMILY_MEMBERS_SCHEMA.empty_table()
    negated = claims["negated"].to_pylist() if "negated" in claims.column_names else [False] * len(ids)

    # Nodes are distinct (normalised text, negated) pairs: a claim and its denial are never one family.
    count: dict[tuple[str, bool], int] = {}
    for key in zip(norms, negated, strict=True):
        count[key] = count.get(key, 0) + 1
    nodes = sorted(count, key=lambda k: (k[0], k[1]))
    center, sim = _star_clusters(nodes, count, threshold, float(settings.get("max_df", 0.9)))
    fam_id = {c: "f" + hashlib.sha256(f"{nodes[c][0]}|{nodes[c][1]}".encode()).hexdigest()[:12] for c in set(center)}
    index = {k: i for i, k in enumerate(nodes)}
    rows: dict[str, list] = {"claim_id": ids, "family_id": [], "normalised_text": norms, "similarity": [], "is_representative": []}
    seen: set[int] = set()
    for key in zip(norms, negated, strict=True):
        i = index[key]
        rows["family_id"].append(fam_id[center[i]])
        rows["similarity"].append(sim[i])
        rows["is_representative"].append(center[i] == i and i not in seen)
        seen.add(i)
    return pa.table(rows, schema=FAMILY_MEMBERS_SCHEMA)


def _star_clusters(
    nodes: list[tuple[str, bool]], count: dict[tuple[str, bool], int], threshold: float, max_df: float
) -> tuple[list[int], list[float]]:
    """Star clustering over the graph of TF-IDF cosine >= threshold.

    The node with the most neighbours (then the most repeated, then the first alphabetically) becomes a
    centre and takes its unassigned neighbours; repeat. Every member is similar to its centre itself, so
    families never chain through intermediate claims. Edges come from chunked sparse products.
    """
    n = len(nodes)
    center = list(range(n))
    sim = [1.0] * n
    if n < 2 or threshold >= 1.0:
        return center, sim
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        vec = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, stop_words="english", max_df=max_df if n > 20 else 1.0
        )
        x = vec.fit_transform([t for t, _ in nodes]).tocsr()  # L2-normalised rows: dot product = cosine
    except ValueError:  # nothing but stop words
        return center, sim
    neg = np.array([b for _, b in nodes])
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for lo in range(0, n, _CHUNK):
        prod = (x[lo : lo + _CHUNK] @ x.T).tocoo()
        rows, cols = prod.row + lo, prod.col
        keep = (prod.data >= threshold) & (rows != cols) & (neg[rows] == neg[cols])
        for i, j, v in zip(rows[keep].tolist(), cols[keep].tolist(), prod.data[keep].tolist(), strict=True):
            nbrs[i][j] = v
    order = sorted(range(n), key=lambda i: (-len(nbrs[i]), -count[nodes[i]], nodes[i][0]))
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
