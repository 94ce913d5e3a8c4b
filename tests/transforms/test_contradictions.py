"""Contradiction pairs on synthetic claims, against the definition written out in Python.

The seeds have few families that span articles; these cases put a handful of claims of two or three families
into one to three articles, so the example pair often has to step past the first claim's article.
"""

from __future__ import annotations

import random
from itertools import product

import duckdb
import pyarrow as pa
import pytest

from transforms.contradictions import contradiction_pairs

FAMILIES = ["f1", "f2", None]


def synthetic(seed: int) -> list[tuple[str, str, str, str | None]]:
    """(claim_id, document_id, side, family_id): side 'a' denies dependence, 'b' states it as a risk."""
    rng = random.Random(seed)
    n_docs = rng.randint(1, 3)
    return [
        (f"c{i:02d}", f"d{rng.randrange(n_docs)}", rng.choice("ab"), rng.choice(FAMILIES))
        for i in range(rng.randint(1, 14))
    ]


def connection(claims: list[tuple[str, str, str, str | None]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ids = [c for c, _, _, _ in claims]
    con.register(
        "claims",
        pa.table(
            {
                "claim_id": ids,
                "document_id": [d for _, d, _, _ in claims],
                "subject": ["kratom"] * len(ids),
                "types": [["safety"]] * len(ids),
                "stance": ["risk" if s == "b" else "reassurance" for _, _, s, _ in claims],
            }
        ),
    )
    con.register(
        "claim_entities",
        pa.table(
            {
                "claim_id": ids,
                "entity": ["dependence"] * len(ids),
                "entity_type": ["harm"] * len(ids),
                "polarity": ["negated" if s == "a" else "affirmed" for _, _, s, _ in claims],
                "direction": pa.nulls(len(ids), pa.string()),
            }
        ),
    )
    members = [(c, f) for c, _, _, f in claims if f is not None]
    con.register(
        "claim_family_members",
        pa.table(
            {"claim_id": [c for c, _ in members], "family_id": [f for _, f in members]},
            schema=pa.schema([("claim_id", pa.string()), ("family_id", pa.string())]),
        ),
    )
    return con


def family_pair(claims, fa: str | None, fb: str | None) -> tuple[list[str], list[str]]:
    """The a-side claims of family fa and the b-side claims of family fb, in claim order."""
    xs = sorted(c for c, _, s, f in claims if s == "a" and f == fa)
    ys = sorted(c for c, _, s, f in claims if s == "b" and f == fb)
    return xs, ys


def expected(claims: list[tuple[str, str, str, str | None]]) -> tuple[set, set]:
    """Same-article pairs claim by claim; across articles one row per family pair with counts and an example:
    a's first claim with b's first claim in another article, else b's first claim with a's first claim in
    another article."""
    doc = {c: d for c, d, _, _ in claims}
    same = {
        (a, b, doc[a])
        for (a, da, sa, _), (b, db, sb, _) in product(claims, claims)
        if sa == "a" and sb == "b" and da == db
    }
    cross = set()
    for fa, fb in product(FAMILIES, FAMILIES):
        xs, ys = family_pair(claims, fa, fb)
        n = sum(doc[x] != doc[y] for x, y in product(xs, ys))
        if not n:
            continue
        a, b = xs[0], min((y for y in ys if doc[y] != doc[xs[0]]), default=None)
        if b is None:
            b = ys[0]
            a = min(x for x in xs if doc[x] != doc[b])
        cross.add((fa, fb, a, b, doc[a], doc[b], n, len({doc[c] for c in xs + ys})))
    return same, cross


@pytest.mark.parametrize("seed", range(80))
def test_pairs_match_the_definition(seed):
    claims = synthetic(seed)
    con = connection(claims)
    got = contradiction_pairs(con).to_pylist()
    con.close()
    same = {(r["claim_id_a"], r["claim_id_b"], r["document_id"]) for r in got if r["scope"] == "same_article"}
    cross = {
        (
            r["family_id_a"],
            r["family_id_b"],
            r["claim_id_a"],
            r["claim_id_b"],
            r["document_id_a"],
            r["document_id_b"],
            r["n_claim_pairs"],
            r["n_articles"],
        )
        for r in got
        if r["scope"] == "cross_article"
    }
    want_same, want_cross = expected(claims)
    assert len(got) == len(want_same) + len(want_cross)  # no duplicate rows hiding behind the sets
    assert same == want_same
    assert cross == want_cross


def test_the_cases_reach_the_fallbacks():
    """The cases must include family pairs whose example is not simply the two first claims."""
    stepped = fallback = 0
    for seed in range(80):
        claims = synthetic(seed)
        doc = {c: d for c, d, _, _ in claims}
        for fa, fb in product(FAMILIES, FAMILIES):
            xs, ys = family_pair(claims, fa, fb)
            if xs and ys and doc[xs[0]] == doc[ys[0]]:
                others = [y for y in ys if doc[y] != doc[xs[0]]]
                stepped += bool(others)
                fallback += not others and any(doc[x] != doc[ys[0]] for x in xs)
    assert stepped >= 10 and fallback >= 5, (stepped, fallback)
