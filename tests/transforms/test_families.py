"""Star clustering with prefix-filtered candidate pairs finds exactly the neighbours of comparing every pair."""

from __future__ import annotations

import numpy as np
import pytest

from transforms.families import _prefixes, _star_clusters


def _every_pair(props, sigs, counts, threshold, max_df):
    """The clustering as it was before prefix filtering: each block of nodes against every node."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(props)
    center, sim = list(range(n)), [1.0] * n
    x = TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+", max_df=max_df if n > 20 else 1.0)
    x = x.fit_transform(props).tocsr()
    sig_ids = {s: k for k, s in enumerate(sorted(set(sigs)))}
    sig = np.array([sig_ids[s] for s in sigs])
    nbrs: list[dict[int, float]] = [{} for _ in range(n)]
    prod = (x @ x.T).tocoo()
    keep = (prod.data >= threshold) & (prod.row != prod.col) & (sig[prod.row] == sig[prod.col])
    for i, j, v in zip(
        prod.row[keep].tolist(), prod.col[keep].tolist(), prod.data[keep].tolist(), strict=True
    ):
        nbrs[i][j] = v
    assigned = [False] * n
    for c in sorted(range(n), key=lambda i: (-len(nbrs[i]), -counts[i], props[i], sigs[i])):
        if not assigned[c]:
            assigned[c] = True
            for j, v in nbrs[c].items():
                if not assigned[j]:
                    assigned[j], center[j], sim[j] = True, c, round(v, 4)
    return center, sim


def _propositions(seed: int, n: int, vocab: int, repeat: float):
    """Zipf-distributed words, as crawled propositions are, with repeats: exact, or with one word changed."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()
    props: list[str] = []
    for _ in range(n):
        if props and rng.random() < repeat:
            words = props[rng.integers(len(props))].split()
            if rng.random() < 0.5:  # else an exact repeat (in another signature, or another node's count)
                words[rng.integers(len(words))] = f"w{rng.integers(vocab)}"
        else:
            words = [f"w{j}" for j in rng.choice(vocab, size=rng.integers(2, 12), p=p)]
        props.append(" ".join(words))
    sigs = [str(s) for s in rng.choice(["affirmed", "negated", "pain:decrease"], size=n, p=[0.7, 0.2, 0.1])]
    counts = [int(c) for c in rng.integers(1, 4, size=n)]
    return props, sigs, counts


@pytest.mark.parametrize("threshold", [0.3, 0.6, 0.8, 0.95])
@pytest.mark.parametrize(
    ("seed", "n", "vocab", "repeat"), [(0, 400, 300, 0.3), (1, 3000, 2000, 0.2), (2, 60, 40, 0.5)]
)
def test_prefix_filtered_clusters_equal_comparing_every_pair(threshold, seed, n, vocab, repeat):
    props, sigs, counts = _propositions(seed, n, vocab, repeat)
    got = _star_clusters(props, sigs, counts, threshold, 0.9)
    want = _every_pair(props, sigs, counts, threshold, 0.9)
    assert got == want
    assert len(set(want[0])) < n  # some nodes did join a family: the comparison is not vacuous


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8, 0.99])
def test_every_pair_at_the_threshold_shares_a_prefix_term(threshold):
    from sklearn.feature_extraction.text import TfidfVectorizer

    props, _, _ = _propositions(3, 800, 500, 0.3)
    x = TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+").fit_transform(props).tocsr()
    prefixes = _prefixes(x, threshold)
    assert prefixes.nnz < x.nnz  # the prefixes leave terms out, or they would filter nothing
    assert (prefixes.multiply(x) != 0).sum() == prefixes.nnz  # a prefix holds only the row's own terms
    cos = (x @ x.T).toarray()
    shared = (prefixes @ prefixes.T).toarray() > 0
    near = cos >= threshold
    np.fill_diagonal(near, False)
    assert near.any() and not (near & ~shared).any()
