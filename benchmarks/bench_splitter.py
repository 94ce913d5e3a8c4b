"""Throughput of `transforms.sentences.split_sentences` on realistic prose.

Builds a ~20 MB text (MB = 10^6 bytes of UTF-8) by repeating the paragraphs of seeds/*.txt (one paragraph
per line, headings and "- " list lines included, as the files have them), then times two ways of calling
the splitter:

* per paragraph: `split_sentences(text, start, end)` for every line, as the pipeline calls it;
* whole text: one `split_sentences(text)` call over everything.

Usage: .venv/bin/python -m benchmarks.bench_splitter [--mb 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow `python benchmarks/bench_splitter.py` as well as `-m`
    sys.path.insert(0, str(ROOT))

from transforms.sentences import split_sentences  # noqa: E402


def build_corpus(target_mb: float) -> tuple[str, list[tuple[int, int]]]:
    """Repeat the seed paragraphs until the text reaches `target_mb`; return it with the paragraph spans."""
    paragraphs = [
        line
        for path in sorted((ROOT / "seeds").glob("*.txt"))
        for line in path.read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]
    if not paragraphs:
        raise SystemExit("no seed paragraphs found in seeds/*.txt")
    seed_bytes = sum(len(p.encode("utf-8")) + 1 for p in paragraphs)
    copies = max(1, round(target_mb * 1e6 / seed_bytes))
    text = "\n".join(paragraphs * copies) + "\n"
    spans: list[tuple[int, int]] = []
    pos = 0
    for _ in range(copies):
        for p in paragraphs:
            spans.append((pos, pos + len(p)))
            pos += len(p) + 1
    return text, spans


def _best_of(runs: int, fn: Callable[[], int]) -> tuple[float, int]:
    """Fastest wall time of `runs` calls (GC off while timing) and the sentence count of the last call."""
    best, count = float("inf"), 0
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            count = fn()
            best = min(best, time.perf_counter() - t0)
        finally:
            gc.enable()
    return best, count


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20.0, help="corpus size in MB (10^6 UTF-8 bytes)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per mode; the best is reported")
    args = ap.parse_args(argv)

    text, paragraphs = build_corpus(args.mb)
    mb = len(text.encode("utf-8")) / 1e6
    print(f"corpus: {mb:.1f} MB, {len(text):,} chars, {len(paragraphs):,} paragraphs")

    def per_paragraph() -> int:
        return sum(len(split_sentences(text, s, e)) for s, e in paragraphs)

    def whole_text() -> int:
        return len(split_sentences(text))

    for name, fn in (("per paragraph", per_paragraph), ("whole text", whole_text)):
        secs, n = _best_of(args.runs, fn)
        print(
            f"{name:>13}: {mb / secs:6.1f} MB/s  {n / secs:10,.0f} sentences/s  "
            f"({n:,} sentences in {secs:.2f} s, best of {args.runs})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
