"""Score the extractor on the embedded gold set: `claimscope eval` / `make eval`, and the build's accuracy gate."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import yaml

from flows.settings import PROJECT_ROOT
from transforms.document import SourceInfo, process_document
from transforms.errors import ClaimscopeError
from transforms.evaluate import (
    PredHeading,
    PredSentence,
    Report,
    check_thresholds,
    format_report,
    load_gold,
    score,
)
from transforms.formats import parse_file

GOLD_DIR = PROJECT_ROOT / "eval" / "seeds_gold"
SEEDS_DIR = PROJECT_ROOT / "seeds"
THRESHOLDS = PROJECT_ROOT / "eval" / "thresholds.yaml"


class EvalError(ClaimscopeError):
    hint = "run from a full clone: eval/seeds_gold and seeds/ must both be present"


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, float]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise EvalError(f"cannot read thresholds {path}: {exc}") from exc
    return {str(k): float(v) for k, v in data.items()}


def predict(seeds_dir: Path, names: list[str]) -> tuple[list[PredHeading], list[PredSentence]]:
    """Run parse -> sections -> sentences -> claims on each named file (no Prefect, nothing written)."""
    headings: list[PredHeading] = []
    sentences: list[PredSentence] = []
    now = datetime.now(UTC)
    for name in names:
        path = seeds_dir / name
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise EvalError(f"gold document {path} is missing: {exc.strerror}") from exc
        parsed = parse_file(raw, name).docs[0]
        rows = process_document(
            parsed,
            SourceInfo(name, name, hashlib.sha256(raw).hexdigest(), len(raw)),
            ingested_at=now,
            pipeline_version="eval",
        )
        headings += [
            PredHeading(name, s["heading"], s["level"])
            for s in rows.sections
            if s["heading"] and s["kind"] != "title"
        ]
        for (s0, s1), lab in zip(rows.sentence_spans, rows.labels, strict=True):
            sentences.append(PredSentence(name, s0, s1, lab))
    return headings, sentences


def evaluate(gold_dir: Path = GOLD_DIR, seeds_dir: Path = SEEDS_DIR) -> Report:
    if not (gold_dir / "sentences.jsonl").exists():
        raise EvalError(f"no gold set at {gold_dir}")
    gold_sections, gold_sentences = load_gold(gold_dir)
    names = sorted({g["doc"] for g in gold_sections} | {g["doc"] for g in gold_sentences})
    headings, sentences = predict(seeds_dir, names)
    return score(gold_sections, gold_sentences, headings, sentences)


def run_eval(gold_dir: Path = GOLD_DIR, seeds_dir: Path = SEEDS_DIR) -> tuple[str, list[str]]:
    thresholds = load_thresholds()
    report = evaluate(gold_dir, seeds_dir)
    return format_report(report, thresholds), check_thresholds(report, thresholds)
