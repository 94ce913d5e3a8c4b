"""Claim families: near-duplicate and paraphrased claims grouped across articles.

1. Each claim is reduced to its *proposition*: the opening connective, evidence frames ("studies suggest"),
   hedges ("may", "potentially") and stop words are removed and the rest is stemmed (Snowball). "Modern
   research suggests that kratom may help reduce withdrawal symptoms" and "Kratom reduces withdrawal symptoms"
   become the same words.
2. Claims that assert the opposite never share a family: each claim has a *signature* (negated or not, and the
   direction it gives any target, "prolactin:decrease"), and only claims with equal signatures are compared.
3. Propositions are compared by TF-IDF cosine (scikit-learn); star clustering around the most connected
   proposition forms the families, so every member is similar to the family's representative itself (no
   chaining through intermediate claims). The threshold is in lexicons/analytics.yaml.

The family id hashes the representative's proposition and signature, so it is stable across runs while the
family keeps its representative.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache

import numpy as np
import pyarrow as pa

from transforms.claims import rules
from transforms.lexicon import load_yaml

FAMILY_MEMBERS_SCHEMA = pa.schema(
    [
        pa.field("claim_id", pa.string(), nullable=False),
        pa.field("family_id", pa.string(), nullable=False),
        pa.field("proposition", pa.string(), nullable=False),  # the normalised, stemmed content words
        pa.field("signature", pa.string(), nullable=False),  # negation and directions the family shares
        pa.field("similarity", pa.float64(), nullable=False),  # cosine to the family's representative
        pa.field("is_representative", pa.bool_(), nullable=False),
    ]
)

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": " ", "–": " "})
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_CHUNK = 2048


@cache
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@cache
def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def proposition(text: str) -> str:
    """What a claim says, without how it says it: no connective, evidence frame, hedge or stop word; stemmed."""
    r = rules()
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    m = r.connective.match(t)
    if m is not None:
        t = t[m.end() :]
    for pat in (r.vague, r.anecdotal, r.named, r.hedge):
        t = pat.sub(" ", t)
    stop = _stop_words()
    words = [w for w in _WORD.findall(t.casefold()) if w not in stop and len(w) > 1]
    return " ".join(_stemmer().stemWords(words))


def claim_families(claims: pa.Table, threshold: float | None = None) -> pa.Table:
    """`claims` needs claim_id, text and signature; one FAMILY_MEMBERS_SCHEMA row per claim."""
    settings = load_yaml("analytics.yaml")["families"]
    threshold = float(settings["similarity_threshold"] if threshold is None else threshold)
    ids = claims["claim_id"].to_pylist()
    if not ids:
        return FAMILY_MEMBERS_SCHEMA.empty_table()
    props = [proposition(t) for t in claims["text"].to_pylist()]
    sigs = claims["signature"].to_pylist()

    # Nodes are distinct (proposition, signature) pairs; repeats of one claim are one node.
    count: dict[tuple[str, str], int] = {}
    for key in zip(props, sigs, strict=True):
        count[key] = count.get(key, 0) + 1
    nodes = sorted(count)
    center, sim = _star_clusters(nodes, count, threshold, float(settings.get("max_df", 0.9)))
    fam_id = {c: "f" + hashlib.sha256(f"{nodes[c][0]}|{nodes[c][1]}".encode()).hexdigest()[:12] for c in set(center)}
    index = {k: i for i, k in enumerate(nodes)}
    family, similarity, representative = [], [], []
    seen: set[int] = set()
    for key in zip(props, sigs, strict=True):
        i = index[key]
        family.append(fam_id[center[i]])
        similarity.append(sim[i])
        representative.append(center[i] == i and i not in seen)
        seen.add(i)
    return pa.table(
        {
            "claim_id": ids,
            "family_id": family,
            "proposition": props,
            "signature": sigs,
            "similarity": similarity,
            "is_representative": representative,
        },
        schema=FAMILY_MEMBERS_SCHEMA,
    )


def _star_clusters(
    nodes: list[tuple[str, str]], count: dict[tuple[str, str], int], threshold: float, max_df: float
) -> tuple[list[int], list[float]]:
    """Star clustering over the graph of TF-IDF cosine >= threshold between nodes of equal signature.

    The node with the most neighbours (then the most repeated, then the first alphabetically) becomes a
    centre and takes its unassigned neighbours; repeat. Edges come from chunked sparse products.
    """
    n = len(nodes)
    center = list(range(n))
    sim = [1.0] * n
    if n < 2 or threshold >= 1.0:
        return center, sim
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        vec = TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+", max_df=max_df if n > 20 else 1.0)
        x = vec.fit_transform([p for p, _ in nodes]).tocsr()  # L2-normalised rows: dot product = cosine
    except ValueError:  # every proposition empty
        return center, sim
    sig_ids = {s: k for k, s in enumerate(sorted({s for _, s in nodes}))}
    sig = np.array([sig_ids[s] for _, s in nodes])
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    for lo in range(0, n, _CHUNK):
        prod = (x[lo : lo + _CHUNK] @ x.T).tocoo()
        rows, cols = prod.row + lo, prod.col
        keep = (prod.data >= threshold) & (rows != cols) & (sig[rows] == sig[cols])
        for i, j, v in zip(rows[keep].tolist(), cols[keep].tolist(), prod.data[keep].tolist(), strict=True):
            nbrs[i][j] = v
    order = sorted(range(n), key=lambda i: (-len(nbrs[i]), -count[nodes[i]], nodes[i]))
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
