"""Score predicted sections and sentences against a hand-labelled gold set (eval/seeds_gold).

Matching follows eval/seeds_gold/README.md: each gold sentence is matched to the predicted sentence of the same
document that overlaps it most; predicted sentences that overlap no gold sentence count against precision.

* role: precision/recall/F1 per role over every gold sentence, and their macro average;
* claim_type, certainty, negated: over gold claims (a gold claim predicted as advice or meta has no value);
* evidence, stance: over every gold sentence (the gold set gives them for advice and meta too);
* headings: (document, heading text, level) triples, exact;
* offsets: the share of gold sentences whose offsets a predicted sentence reproduces exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from transforms.claims import EVIDENCE, ROLES, STANCES, TYPE_ORDER, SentenceLabels

ACCURACY_SCHEMA = pa.schema(
    [
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("threshold", pa.float64()),
        pa.field("passed", pa.bool_()),
        pa.field("support", pa.int64(), nullable=False),
    ]
)


@dataclass(frozen=True, slots=True)
class PredSentence:
    """A predicted sentence: where it is, and the extractor's labels (read through: `p.role`, `p.cues`)."""

    doc: str
    char_start: int
    char_end: int
    labels: SentenceLabels

    def __getattr__(self, name: str) -> object:
        return getattr(self.labels, name)


@dataclass(frozen=True, slots=True)
class PredHeading:
    doc: str
    heading: str
    level: int


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    metrics: dict[str, tuple[float, int]] = field(default_factory=dict)  # name -> (value, support)
    per_class: dict[str, dict[str, Score]] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)

    def value(self, name: str) -> float:
        return self.metrics[name][0]


def load_gold(gold_dir: Path) -> tuple[list[dict], list[dict]]:
    def read(name: str) -> list[dict]:
        with (gold_dir / name).open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    return read("sections.jsonl"), read("sentences.jsonl")


def prf(tp: int, fp: int, fn: int) -> Score:
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    rec = tp / (tp + fn) if tp + fn else (1.0 if fp == 0 else 0.0)
    f = 2 * p * rec / (p + rec) if p + rec else 0.0
    return Score(p, rec, f, tp + fn)


def per_class(pairs: Sequence[tuple[object, object]], classes: Iterable[object]) -> dict[str, Score]:
    out = {}
    for c in classes:
        tp = sum(1 for g, p in pairs if g == c and p == c)
        fp = sum(1 for g, p in pairs if g != c and p == c)
        fn = sum(1 for g, p in pairs if g == c and p != c)
        out[str(c)] = prf(tp, fp, fn)
    return out


def macro_f1(scores: dict[str, Score]) -> float:
    """Mean F1 over the classes that occur in the gold labels or the predictions (as scikit-learn does)."""
    present = [s.f1 for s in scores.values() if s.support > 0 or s.precision < 1.0]
    return sum(present) / len(present) if present else 0.0


def _match(
    gold: list[dict], pred: list[PredSentence]
) -> tuple[list[PredSentence | None], list[PredSentence]]:
    """Best-overlap predicted sentence per gold sentence, and the predicted sentences matching no gold one."""
    by_doc: dict[str, list[PredSentence]] = {}
    for p in pred:
        by_doc.setdefault(p.doc, []).append(p)
    matched: list[PredSentence | None] = []
    used: set[int] = set()
    for g in gold:
        best, best_ov = None, 0
        for p in by_doc.get(g["doc"], []):
            ov = min(g["char_end"], p.char_end) - max(g["char_start"], p.char_start)
            if ov > best_ov:
                best, best_ov = p, ov
        matched.append(best)
        if best is not None:
            used.add(id(best))
    gold_docs = {g["doc"] for g in gold}
    unmatched = [p for p in pred if p.doc in gold_docs and id(p) not in used]
    return matched, unmatched


def score(
    gold_sections: list[dict],
    gold_sentences: list[dict],
    pred_headings: list[PredHeading],
    pred: list[PredSentence],
) -> Report:
    rep = Report()

    gold_h = {(s["doc"], s["heading"], s["level"]) for s in gold_sections if s.get("heading")}
    docs = {s["doc"] for s in gold_sections}
    pred_h = {(h.doc, h.heading, h.level) for h in pred_headings if h.doc in docs}
    h = prf(len(gold_h & pred_h), len(pred_h - gold_h), len(gold_h - pred_h))
    rep.metrics["headings_f1"] = (h.f1, len(gold_h))
    rep.errors += [{"kind": "heading_missed", "item": list(x)} for x in sorted(gold_h - pred_h)]
    rep.errors += [{"kind": "heading_extra", "item": list(x)} for x in sorted(pred_h - gold_h)]

    matched, unmatched = _match(gold_sentences, pred)
    exact = sum(
        1
        for g, p in zip(gold_sentences, matched, strict=True)
        if p and (p.char_start, p.char_end) == (g["char_start"], g["char_end"])
    )
    rep.metrics["sentence_offsets_exact"] = (
        exact / len(gold_sentences) if gold_sentences else 1.0,
        len(gold_sentences),
    )

    role_pairs = [(g["role"], p.role if p else "none") for g, p in zip(gold_sentences, matched, strict=True)]
    role_pairs += [("none", p.role) for p in unmatched]
    rep.per_class["role"] = per_class(role_pairs, ROLES)
    rep.metrics["role_claim_f1"] = (rep.per_class["role"]["claim"].f1, rep.per_class["role"]["claim"].support)
    rep.metrics["role_macro_f1"] = (macro_f1(rep.per_class["role"]), len(gold_sentences))

    claims = [(g, p) for g, p in zip(gold_sentences, matched, strict=True) if g["role"] == "claim"]

    def claim_attr(name: str) -> list[tuple[object, object]]:
        return [(g[name], getattr(p, name) if p and p.role == "claim" else None) for g, p in claims]

    rep.per_class["claim_type"] = per_class(claim_attr("claim_type"), TYPE_ORDER)
    rep.metrics["claim_type_macro_f1"] = (macro_f1(rep.per_class["claim_type"]), len(claims))
    rep.per_class["certainty"] = per_class(claim_attr("certainty"), ("hedged", "asserted"))
    rep.metrics["certainty_hedged_f1"] = (
        rep.per_class["certainty"]["hedged"].f1,
        rep.per_class["certainty"]["hedged"].support,
    )
    neg = per_class([(bool(g), bool(p)) for g, p in claim_attr("negated")], (True, False))
    rep.per_class["negated"] = neg
    rep.metrics["negated_f1"] = (neg["True"].f1, neg["True"].support)

    # Multi-label types: micro-averaged over (sentence, type) pairs.
    tp = fp = fn = 0
    for g, p in claims:
        gt = set(g["types"])
        pt = set(p.types) if p and p.role == "claim" else set()
        tp, fp, fn = tp + len(gt & pt), fp + len(pt - gt), fn + len(gt - pt)
    rep.metrics["types_micro_f1"] = (prf(tp, fp, fn).f1, sum(len(g["types"]) for g, _ in claims))

    ev_pairs = [
        (g["evidence"], p.evidence if p else "none") for g, p in zip(gold_sentences, matched, strict=True)
    ]
    rep.per_class["evidence"] = per_class(ev_pairs, EVIDENCE)
    rep.metrics["evidence_accuracy"] = (
        sum(1 for g, p in ev_pairs if g == p) / len(ev_pairs) if ev_pairs else 1.0,
        len(ev_pairs),
    )

    st_pairs = [
        (g["stance"], p.stance if p else "none") for g, p in zip(gold_sentences, matched, strict=True)
    ]
    rep.per_class["stance"] = per_class(st_pairs, STANCES)
    rep.metrics["stance_macro_f1"] = (macro_f1(rep.per_class["stance"]), len(st_pairs))

    subj = [(g["subject"], p.subject if p else None) for g, p in claims]
    rep.metrics["subject_accuracy"] = (
        sum(1 for g, p in subj if g == p) / len(subj) if subj else 1.0,
        len(subj),
    )

    # Cues: does the prediction name the words the annotator named (a gold cue counts when a predicted cue
    # contains it or is contained in it: "may" vs "may help")?
    found = total = 0
    for g, p in claims:
        pc = [c.lower() for c in (p.cues if p else ())]
        for c in g.get("cues") or []:
            total += 1
            found += any(c.lower() in x or x in c.lower() for x in pc)
    rep.metrics["cue_recall"] = (found / total if total else 1.0, total)

    for g, p in zip(gold_sentences, matched, strict=True):
        diffs = {}
        if p is None:
            diffs["matched"] = ("sentence", None)
        else:
            for name in ("role", "evidence", "stance"):
                if g[name] != getattr(p, name):
                    diffs[name] = (g[name], getattr(p, name))
            if g["role"] == "claim" and p.role == "claim":
                for name in ("claim_type", "certainty", "negated", "subject"):
                    if g[name] != getattr(p, name):
                        diffs[name] = (g[name], getattr(p, name))
        if diffs:
            rep.errors.append(
                {
                    "kind": "sentence",
                    "doc": g["doc"],
                    "start": g["char_start"],
                    "text": g["text"],
                    "diffs": diffs,
                    "cues": list(p.cues) if p else [],
                }
            )
    return rep


def check_thresholds(rep: Report, thresholds: dict[str, float]) -> list[str]:
    """Metrics below their threshold, as 'name value < threshold'."""
    out = []
    for name, minimum in thresholds.items():
        value = rep.metrics.get(name, (float("nan"), 0))[0]
        if not value >= minimum:
            out.append(f"{name} {value:.3f} < {minimum:.2f}")
    return out


def accuracy_table(rep: Report, thresholds: dict[str, float]) -> pa.Table:
    rows = [
        {
            "metric": name,
            "value": round(float(value), 4),
            "threshold": thresholds.get(name),
            "passed": None if name not in thresholds else bool(value >= thresholds[name]),
            "support": support,
        }
        for name, (value, support) in rep.metrics.items()
    ]
    return pa.Table.from_pylist(rows, schema=ACCURACY_SCHEMA)


def format_report(rep: Report, thresholds: dict[str, float]) -> str:
    lines = [f"{'metric':<26}{'value':>8}{'target':>9}  {'n':>5}"]
    for name, (value, support) in rep.metrics.items():
        target = thresholds.get(name)
        mark = "" if target is None else ("  ok" if value >= target else "  BELOW")
        lines.append(
            f"{name:<26}{value:>8.3f}{'' if target is None else f'{target:>9.2f}':>9}  {support:>5}{mark}"
        )
    for attr, scores in rep.per_class.items():
        lines.append("")
        lines.append(f"{attr:<26}{'P':>8}{'R':>8}{'F1':>8}  {'n':>5}")
        for cls, sc in scores.items():
            lines.append(f"  {cls:<24}{sc.precision:>8.3f}{sc.recall:>8.3f}{sc.f1:>8.3f}  {sc.support:>5}")
    return "\n".join(lines)
