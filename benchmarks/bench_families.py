"""Claim families on N distinct propositions: the case the generated corpus never reaches.

The generated corpus recombines about 170 seed sentences, so a 100k build has 128 families of near-identical
claims. A real crawl repeats far less: most claims are their own (proposition, signature) node, and the
families step compares nodes. This times `transforms.families._star_clusters` on N distinct propositions of
Zipf-distributed words (with some exact and one-word-changed repeats) and prints time and peak RSS per size,
each size in a fresh process.

    .venv/bin/python -m benchmarks.bench_families [--sizes 10000 40000 160000 640000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def propositions(n: int, vocab: int = 20000, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()
    props: list[str] = []
    for _ in range(n):
        if props and rng.random() < 0.1:
            words = props[rng.integers(len(props))].split()
            words[rng.integers(len(words))] = f"w{rng.integers(vocab)}"
        else:
            words = [f"w{j}" for j in rng.choice(vocab, size=rng.integers(5, 13), p=p)]
        props.append(" ".join(words))
    sigs = [str(s) for s in rng.choice(["affirmed", "negated", "pain:decrease"], size=n, p=[0.7, 0.2, 0.1])]
    return props, sigs


def one(n: int) -> dict:
    from transforms.families import _star_clusters
    from transforms.lexicon import load_yaml

    settings = load_yaml("analytics.yaml")["families"]
    props, sigs = propositions(n)
    import sklearn.feature_extraction.text  # noqa: F401  (imported outside the timing)

    t0 = time.perf_counter()
    center, _ = _star_clusters(props, sigs, [1] * n, float(settings["similarity_threshold"]), 0.9)
    seconds = time.perf_counter() - t0
    return {
        "nodes": n,
        "seconds": round(seconds, 2),
        "families": len(set(center)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000, 40000, 160000, 640000])
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_families", "--one", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['nodes']:>9,} nodes  {r['seconds']:8.2f} s  {r['families']:>9,} families  "
            f"peak RSS {r['peak_rss_mb']:,} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
