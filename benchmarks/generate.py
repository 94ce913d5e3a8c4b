"""Deterministic benchmark corpus: N articles in the seeds' layout, recombined from seed sentences and headings.

Each article takes a "theme" seed and draws most sentences from it (so discovered topics have structure to
find) and the rest from the other seeds. Articles average ~7.7 KB (10k ≈ 77 MB, 100k ≈ 770 MB).

The sentence and heading pools are frozen in `seed_pools.json` (cut from seeds/ by the pipeline's own
sectioner and splitter once), so the corpus does not change when transforms/ is optimised: runs before and
after a change measure the same bytes. `--refresh-pools` re-cuts them from seeds/.

`--messy` mixes in what real crawls contain: CRLF, cp1252, BOMs, Markdown, HTML, JSON lines, hard-wrapped
text, empty files, binary junk and exact duplicates.

    python -m benchmarks.generate OUT_DIR --n 10000 [--messy] [--seed 0]
    python -m benchmarks.generate --refresh-pools
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "seeds"
POOLS_FILE = HERE / "seed_pools.json"
FILES_PER_FOLDER = 1000


@dataclass
class Pool:
    summary: list[str]
    intro: list[str]
    body: list[str]
    conclusion: list[str]
    headings: list[str]


def _cut_pools() -> list[Pool]:
    """Cut seeds/ into pools with the pipeline's sectioner and splitter (only for --refresh-pools)."""
    from transforms.sections import segment_sections
    from transforms.sentences import split_sentences

    pools = []
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        pool = Pool([], [], [], [], [])
        for sec in segment_sections(text):
            sentences = [text[s:e] for p0, p1 in sec.paragraphs for s, e in split_sentences(text, p0, p1)]
            if sec.kind == "summary":
                pool.summary += sentences
            elif sec.kind == "introduction":
                pool.intro += [s.strip('“”"') for s in sentences]
            elif sec.kind == "conclusion":
                pool.conclusion += sentences
            elif sec.kind == "body":
                pool.body += sentences
                if sec.heading:
                    pool.headings.append(sec.heading)
        pools.append(pool)
    return pools


def _pools() -> list[Pool]:
    return [Pool(**p) for p in json.loads(POOLS_FILE.read_text(encoding="utf-8"))]


def refresh_pools() -> None:
    POOLS_FILE.write_text(
        json.dumps([asdict(p) for p in _cut_pools()], ensure_ascii=False, indent=1), encoding="utf-8"
    )


def fingerprint(n: int, *, messy: bool, seed: int) -> str:
    """Identity of a corpus: same fingerprint, same bytes (the generator's code and pools, and its arguments)."""
    h = hashlib.sha256(f"{n}|{messy}|{seed}\n".encode())
    h.update(Path(__file__).read_bytes())
    h.update(POOLS_FILE.read_bytes())
    return h.hexdigest()[:16]


def _pick(rng: random.Random, theme: Pool, others: list[Pool], attr: str, k: int) -> list[str]:
    out = []
    for _ in range(k):
        src = theme if rng.random() < 0.7 else rng.choice(others)
        items = getattr(src, attr) or getattr(theme, attr)
        out.append(rng.choice(items))
    return out


def article(i: int, pools: list[Pool], seed: int = 0) -> tuple[str, list[str]]:
    """Article text (seeds' layout) and its headings."""
    rng = random.Random(seed * 1_000_003 + i)
    t = rng.randrange(len(pools))
    theme, others = pools[t], pools[:t] + pools[t + 1 :]
    headings = list(dict.fromkeys(_pick(rng, theme, others, "headings", rng.randint(3, 4))))
    lines = [
        " ".join(_pick(rng, theme, others, "summary", 3)),
        " ".join(_pick(rng, theme, others, "intro", 4)),
    ]
    lines += [f"- {h}" for h in headings]
    for h in headings:
        lines.append(h)
        for _ in range(2):
            lines.append(" ".join(_pick(rng, theme, others, "body", rng.randint(5, 7))))
    lines.append(" ".join(_pick(rng, theme, others, "conclusion", rng.randint(5, 6))))
    return "\n".join(lines), headings


def _messy_variant(i: int, text: str, headings: list[str], rng: random.Random) -> tuple[str, bytes]:
    """(file extension, bytes) for a messy rendering of the article."""
    r = rng.random()
    if r < 0.10:
        return ".txt", text.replace("\n", "\r\n").encode("utf-8")
    if r < 0.15:
        return ".txt", text.replace("’", "'").replace("“", '"').replace("”", '"').encode("cp1252", "replace")
    if r < 0.20:
        return ".txt", b"\xef\xbb\xbf" + text.encode("utf-8")
    if r < 0.30:
        md = []
        for line in text.split("\n"):
            if line in headings:
                md.append(f"## {line}")
            elif not line.startswith("- "):
                md.append(line)
            md.append("")
        return ".md", (f"---\ntitle: Generated article {i}\n---\n\n" + "\n".join(md)).encode("utf-8")
    if r < 0.38:
        body = []
        for line in text.split("\n"):
            esc = line.replace("&", "&amp;").replace("<", "&lt;")
            body.append(
                f"<h2>{esc}</h2>" if line in headings else ("" if line.startswith("- ") else f"<p>{esc}</p>")
            )
        html = (
            f"<!doctype html><html><head><title>Article {i}</title></head><body>"
            "<nav><a href='/'>Home</a> | <a href='/shop'>Shop</a></nav><article>"
            + "".join(body)
            + "</article><footer>Copyright. Cookie settings.</footer></body></html>"
        )
        return ".html", html.encode("utf-8")
    if r < 0.43:
        wrapped = []
        for line in text.split("\n"):
            words, cur = line.split(" "), ""
            for w in words:
                if len(cur) + len(w) + 1 > 72:
                    wrapped.append(cur)
                    cur = w
                else:
                    cur = f"{cur} {w}".strip()
            wrapped.append(cur)
            wrapped.append("")
        return ".txt", "\n".join(wrapped).encode("utf-8")
    return ".txt", text.encode("utf-8")


def generate(out: Path, n: int, *, messy: bool = False, seed: int = 0) -> dict[str, int]:
    """Write the corpus; returns counts by kind. Deterministic for (n, messy, seed)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    pools = _pools()
    rng = random.Random(seed)
    stats = {"articles": 0, "bytes": 0, "junk": 0, "duplicates": 0, "jsonl_records": 0}
    jsonl: list[str] = []
    for i in range(n):
        folder = out / f"{i // FILES_PER_FOLDER:04d}"
        folder.mkdir(exist_ok=True)
        text, headings = article(i, pools, seed)
        ext, data = (".txt", text.encode("utf-8"))
        if messy:
            if rng.random() < 0.05:
                jsonl.append(
                    json.dumps(
                        {
                            "id": f"rec{i}",
                            "url": f"https://example.org/a/{i}",
                            "title": headings[0],
                            "text": text,
                        }
                    )
                )
                stats["jsonl_records"] += 1
                continue
            ext, data = _messy_variant(i, text, headings, rng)
        (folder / f"article_{i:07d}{ext}").write_bytes(data)
        stats["articles"] += 1
        stats["bytes"] += len(data)
    if messy:
        junk = out / "junk"
        junk.mkdir()
        for j in range(max(1, n // 200)):
            (junk / f"empty_{j}.txt").write_bytes(b"")
            (junk / f"blob_{j}.bin").write_bytes(
                b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(512))
            )
            src = out / "0000" / "article_0000000.txt"
            if src.exists():
                shutil.copy(src, junk / f"copy_{j}.txt")
                stats["duplicates"] += 1
            stats["junk"] += 2
        if jsonl:
            jsonl.insert(len(jsonl) // 2, "{not valid json")
            (out / "export.jsonl").write_text("\n".join(jsonl) + "\n", encoding="utf-8")
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, nargs="?")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--messy", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--refresh-pools", action="store_true", help=f"re-cut {POOLS_FILE.name} from seeds/ and exit"
    )
    a = ap.parse_args()
    if a.refresh_pools:
        refresh_pools()
        print(f"wrote {POOLS_FILE}")
        return
    if a.out is None:
        ap.error("OUT_DIR is required")
    print(json.dumps(generate(a.out, a.n, messy=a.messy, seed=a.seed)))


if __name__ == "__main__":
    main()
