"""The claim extractor on sentences it has not seen: `label_sentences` with the sentence cache off.

The generated corpus recombines about 170 distinct seed sentences, so in a build the per-sentence cache answers
almost every sentence; this times the analysis itself, as on a crawl of new text. It generates N articles
(`benchmarks.generate.article`, in memory), segments and splits them as the pipeline does, then labels every
document's sentences, best of `--rounds`, in thread CPU time.

Usage: .venv/bin/python -m benchmarks.bench_extractor [--n 400] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python benchmarks/bench_extractor.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

os.environ["CLAIMSCOPE_SENTENCE_CACHE"] = "0"  # read when transforms.claims is imported

from benchmarks.generate import _pools, article  # noqa: E402
from transforms.claims import SentenceInput, label_sentences, rules  # noqa: E402
from transforms.document import PROSE_KINDS  # noqa: E402
from transforms.formats import parse_file  # noqa: E402
from transforms.sections import segment_sections  # noqa: E402
from transforms.sentences import split_sentences  # noqa: E402


def documents(n: int) -> list[tuple[str, list[SentenceInput]]]:
    pools = _pools()
    out = []
    for i in range(n):
        text, _ = article(i, pools)
        for doc in parse_file(text.encode("utf-8"), f"a{i:06d}.txt").docs:
            sections = segment_sections(doc.text, doc.headings, doc.skip)
            inputs = [
                SentenceInput(s0, s1, sec.kind, sec.heading)
                for sec in sections
                if sec.kind in PROSE_KINDS
                for p0, p1 in sec.paragraphs
                for s0, s1 in split_sentences(doc.text, p0, p1)
            ]
            out.append((doc.text, inputs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400, help="generated articles")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    rules()  # compile the lexicons outside the timing
    docs = documents(args.n)
    n_sentences = sum(len(inputs) for _, inputs in docs)
    n_chars = sum(i.end - i.start for _, inputs in docs for i in inputs)
    best = float("inf")
    for _ in range(args.rounds):
        t0 = time.thread_time()
        for text, inputs in docs:
            label_sentences(text, inputs)
        best = min(best, time.thread_time() - t0)
    print(
        f"{len(docs)} articles, {n_sentences:,} sentences ({n_chars / 1e6:.2f} MB): {best:.2f} s CPU, "
        f"{best / n_sentences * 1e6:.1f} us a sentence, {best / len(docs) * 1e3:.2f} ms an article, "
        f"{n_chars / 1e6 / best:.3f} MB/s (sentence cache off, best of {args.rounds})"
    )


if __name__ == "__main__":
    main()
