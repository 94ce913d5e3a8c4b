"""Rule-based claim extraction: role, types, certainty, negation, evidence, stance, subject and entities.

Driven by two analyst-editable files: `lexicons/claims.yaml` (cues) and `lexicons/entities.yaml` (entities).
The rules are about English, not about any one article:

* **Clauses.** A sentence opening with a concessive ("While X, Y") asserts Y; X is conceded. A hedge in X does
  not qualify the claim unless Y asserts nothing about the substance (Y is advice, or only says more research
  is needed), in which case X *is* the assertion.
* **Scope.** Words inside an inquiry ("research is needed to understand its safety"), a reason ("due to a lack
  of data"), or a beneficiary phrase ("for individuals concerned about potential side effects") are the topic
  of something else: they add no claim type, no negation and (beneficiary) no hedge. A positioning frame
  ("gained attention as a potential aid for managing withdrawal") says how the substance is regarded: usage,
  not efficacy.
* **Negation.** Denials of a risk attribute ("non-addictive", "without the addictive properties", "not
  associated with", "less risk of") count anywhere; ordinary negation counts in the main clause only; litotes
  ("not without risks") and comparisons ("might not work as well") are not negations.
* **"can"** hedges when it means possibility ("can cause seizures"), not ability ("can be monitored", "we can").
* **Evidence.** named (an organisation, journal, year, citation mark) > vague ("studies show") > anecdotal
  ("many users report") > none.
* **Role.** meta (the text talks about itself) and advice (directives) are not claims, unless the advice
  sentence also concedes a claim ("While X, be careful"), names a specific harm, or gives a reason with content.

Speed: each cue family is one compiled regex scanned once per sentence (through its case-sensitive twin on the
lower-cased sentence where it has one: `_scan`); the per-sentence Python work is a handful of list operations
over the (few) matches.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from transforms.errors import LexiconError
from transforms.lexicon import lexicon_cache, load_lines, load_yaml
from transforms.regexset import MultiScan, alternation, factored_alternation, lower_for_twins, take, twin

TYPE_ORDER = ("safety", "efficacy", "mechanism", "regulatory", "research", "usage", "origin")
ROLES = ("claim", "advice", "meta")
CERTAINTIES = ("hedged", "asserted")
EVIDENCE = ("none", "vague", "named", "anecdotal")
STANCES = ("benefit", "risk", "neutral")
ENTITY_TYPES = ("substance", "compound", "product", "condition", "symptom", "harm", "target", "organisation")
# Harms too generic to turn advice into a claim ("help manage potential side effects" is still advice).
_GENERIC_HARMS = frozenset({"side effects"})
# ---------------------------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class SentenceInput:
    start: int
    end: int
    section_kind: str
    heading: str | None = None


@dataclass(frozen=True, slots=True)
class EntityMention:
    entity: str
    entity_type: str
    start: int  # offsets into the document text
    end: int
    polarity: str  # affirmed | negated | uncertain (the topic of an inquiry)
    direction: str | None  # increase | decrease | None


@dataclass(frozen=True, slots=True)
class SentenceLabels:
    role: str
    claim_type: str | None
    types: tuple[str, ...]
    certainty: str | None
    negated: bool
    evidence: str
    stance: str
    subject: str | None
    cues: tuple[str, ...]
    entities: tuple[EntityMention, ...] = ()
    proposition: str = ""  # what the claim says, without how it says it (families.py)
    signature: str = ""  # negation and directions: claims with different signatures never share a family


@dataclass(frozen=True, slots=True)
class Entity:
    name: str
    type: str
    parent: str | None
    directional: bool


@dataclass(frozen=True, slots=True)
class Rules:
    """The compiled contents of claims.yaml and entities.yaml."""

    connective: re.Pattern[str]
    concessive: re.Pattern[str]
    continuers: re.Pattern[str]
    breakers: re.Pattern[str]
    contrast: re.Pattern[str]
    research_need: re.Pattern[str]
    scopes: dict[str, re.Pattern[str]]
    hedge: re.Pattern[str]
    can_ability: re.Pattern[str]
    denial: re.Pattern[str]
    negation: re.Pattern[str]
    not_negation: re.Pattern[str]
    named: re.Pattern[str]
    citation: re.Pattern[str]
    vague: re.Pattern[str]
    anecdotal: re.Pattern[str]
    meta: re.Pattern[str]
    meta_title: re.Pattern[str]
    meta_framing: re.Pattern[str]
    advice_start: re.Pattern[str]
    advice: re.Pattern[str]
    research_subject: re.Pattern[str]
    types: dict[str, re.Pattern[str]]
    risk: re.Pattern[str]
    benefit: re.Pattern[str]
    uncertain_safety: re.Pattern[str]
    relief: re.Pattern[str]
    precaution: re.Pattern[str]
    reducers: re.Pattern[str]
    entity_re: re.Pattern[str]
    entity_groups: dict[str, Entity]
    # Spans of entity_re's matches, faster (see _entity_matches): None where no twin; entity_absent, when set,
    # must find nothing in a sentence for the twin to scan it (the synonyms the twin leaves out).
    entity_twin: re.Pattern[str] | None
    entity_absent: re.Pattern[str] | None
    entities: dict[str, Entity]
    increase_before: re.Pattern[str]
    increase_after: re.Pattern[str]
    decrease_before: re.Pattern[str]
    decrease_after: re.Pattern[str]


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LexiconError(f"{where}: expected a list of strings (quote YAML words such as 'no' and 'on')")
    return value


def _alt(patterns: Iterable[str]) -> str:
    return "(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"


def _words(patterns: Iterable[str], where: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """Whole-word alternation (a word continues through hyphens: "non-addictive"); an entry may end in a space."""
    patterns = list(patterns)
    try:
        source, _ = alternation([(p, None) for p in patterns], flags)
        pat = re.compile(_WORD_START + source + _WORD_END, flags)
        lower_twin = twin(_WORD_START + _alt(patterns) + _WORD_END, flags)
        if lower_twin is not None:
            _TWINS[id(pat)] = (pat, lower_twin)
            _WORD_LISTS.append((pat, patterns))
        elif not flags & re.IGNORECASE:  # case matters: the same pattern, its branches by first character
            fast, left_out = factored_alternation(patterns, _MOVED_GUARD, _WORD_END, lower=False)
            if fast is not None and not left_out:
                _FAST[id(pat)] = (pat, fast)
        return pat
    except re.error as exc:
        raise LexiconError(f"{where}: invalid regular expression: {exc}") from exc


_WORD_GUARD = r"[\w-]"  # a word continues through hyphens
_WORD_START = rf"(?<!{_WORD_GUARD})"
_MOVED_GUARD = rf"(?<!{_WORD_GUARD}.)"  # the same test, one character on (after a branch's first character)
# An entity starts a word, or follows "non-" ("non-opioid" names opioids), and ends one.
_ENTITY_GUARD = r"(?:(?<![\w-])|(?<=non-))"
_ENTITY_GUARD_MOVED = r"(?:(?<![\w-].)|(?<=non-.))"
_ENTITY_TAIL = r"(?!\w)"
_WORD_END = r"(?:(?<=\s)|(?!\w))"
# Case-insensitive cue lists -> case-sensitive twins that scan lower-cased text (regexset.twin).
# These scans are most of the extractor's time on text it has not seen before; the twins do them 2-3x faster.
# Keyed by id(): hashing a compiled pattern hashes its whole program, at every lookup (7 us for a cue list).
# The value keeps the pattern alive, so its id is not reused.
_TWINS: dict[int, tuple[re.Pattern[str], re.Pattern[str]]] = {}
# The twinned word lists, in the order _words made them; the ones _SCANNER takes scan together (its slot by id).
_WORD_LISTS: list[tuple[re.Pattern[str], list[str]]] = []
# Case-sensitive word lists (evidence.named) -> the same pattern with each branch's first character in front, so
# that sre skips in C to where one can start (regexset.factored_alternation): kept alive like _TWINS.
_FAST: dict[int, tuple[re.Pattern[str], re.Pattern[str]]] = {}
_SLOTS: dict[int, int] = {}
_SCANNER: MultiScan | None = None


@functools.lru_cache(maxsize=8)
def _lower(s: str) -> str | None:
    return lower_for_twins(s)


@functools.lru_cache(maxsize=8)
def _all_spans(low: str) -> list[list[tuple[int, int]]]:
    """Every scanner list's matches in one sentence: one pass for all of them (regexset.MultiScan)."""
    return _SCANNER.spans(low) if _SCANNER is not None else []


def _scan(pat: re.Pattern[str], s: str, lo: int = 0, together: bool = True) -> list[tuple[int, int]]:
    """The spans of `pat.finditer(s, lo)`: from the one-pass scan of the lower-cased sentence, or the pattern's
    twin, where the pattern has them. `together=False` for text that only this list scans (one pass of
    every list would be wasted on it)."""
    fast = _FAST.get(id(pat))
    if fast is not None:
        return [m.span() for m in fast[1].finditer(s, lo)]
    pair = _TWINS.get(id(pat))
    if pair is not None:
        low = _lower(s)
        if low is not None:
            slot = _SLOTS.get(id(pat)) if together else None
            if slot is not None:
                return take(_all_spans(low)[slot], lo)
            return [m.span() for m in pair[1].finditer(low, lo)]
    return [m.span() for m in pat.finditer(s, lo)]


def _found(pat: re.Pattern[str], s: str, pos: int = 0) -> bool:
    """`pat.search(s, pos) is not None`, from the one-pass scan where the pattern is in it (its matches at every
    position are there, in order)."""
    pair = _TWINS.get(id(pat))
    if pair is not None:
        low = _lower(s)
        if low is not None:
            slot = _SLOTS.get(id(pat))
            if slot is not None:
                spans = _all_spans(low)[slot]
                return bool(spans) and spans[-1][0] >= pos
            return pair[1].search(low, pos) is not None
    return pat.search(s, pos) is not None


def _index_word_lists() -> None:
    global _SCANNER
    scanner = MultiScan([branches for _, branches in _WORD_LISTS], _WORD_GUARD, _WORD_END)
    _SLOTS.clear()
    _SLOTS.update(
        {id(pat): k for (pat, _), k in zip(_WORD_LISTS, scanner.slot, strict=True) if k is not None}
    )
    _SCANNER = scanner
    _all_spans.cache_clear()


@lexicon_cache
def rules() -> Rules:
    cfg = load_yaml("claims.yaml")
    ents = load_yaml("entities.yaml")
    try:
        return _compile(cfg, ents)
    except (KeyError, TypeError) as exc:
        raise LexiconError(f"lexicons/claims.yaml or entities.yaml is missing a section: {exc!r}") from exc


def _compile(cfg: dict, ents: dict) -> Rules:
    _TWINS.clear()
    _FAST.clear()
    _WORD_LISTS.clear()
    _SLOTS.clear()
    cl = cfg["clauses"]
    hedges = cfg["hedges"]
    cfg["negation"]
    ev = cfg["evidence"]
    role = cfg["role"]
    st = cfg["stance"]

    def w(path: str) -> re.Pattern[str]:
        node: object = cfg
        for key in path.split("."):
            node = node[key]  # type: ignore[index]
        return _words(_strings(node, f"claims.yaml {path}"), f"claims.yaml {path}")

    hedge_words = [
        p
        for k in ("modal", "adverbs", "adjectives", "verbs", "phrases")
        for p in _strings(hedges[k], f"hedges.{k}")
    ]
    entities: dict[str, Entity] = {}
    by_key: dict[str, Entity] = {}
    alternatives: list[tuple[int, str, str]] = []
    for i, e in enumerate(ents["entities"]):
        ent = Entity(str(e["name"]), str(e["type"]), e.get("parent"), bool(e.get("direction", False)))
        if ent.type not in ENTITY_TYPES:
            raise LexiconError(
                f"entities.yaml: {ent.name}: unknown type {ent.type!r} (one of {', '.join(ENTITY_TYPES)})"
            )
        entities[ent.name] = ent
        by_key[f"e{i}"] = ent
        for syn in _strings(e["synonyms"], f"entities.yaml {ent.name}"):
            alternatives.append((len(syn), f"e{i}", syn))
    # Longest synonyms first: "opioid withdrawal" before "opioids", "opioid receptors" before "opioid".
    alternatives.sort(key=lambda x: -x[0])
    try:  # no plain twin: its branches are named groups (regexset.twin)
        source, names = alternation([(syn, key) for _, key, syn in alternatives], re.IGNORECASE)
        entity_re = re.compile(_ENTITY_GUARD + source + _ENTITY_TAIL, re.IGNORECASE)
        entity_twin, left_out = factored_alternation(
            [syn for _, _, syn in alternatives], _ENTITY_GUARD_MOVED, _ENTITY_TAIL, leave_out=True
        )
        entity_absent = _absent(left_out)
    except re.error as exc:
        raise LexiconError(f"entities.yaml: invalid regular expression: {exc}") from exc
    groups = {g: by_key[key] for g, key in names.items()}
    d = ents["directions"]

    def anchored(p: str, at_end: bool) -> re.Pattern[str]:
        if at_end:  # the direction word, then at most three words, then the entity
            return re.compile(r"(?<![\w-])" + p + r"(?:\s+[\w’'-]+){0,3}?\s*$", re.IGNORECASE)
        return re.compile(r"\s*" + p + r"(?![\w-])", re.IGNORECASE)

    compiled = Rules(
        connective=re.compile(r"\s*" + _alt(_strings(cl["connectives"], "connectives")) + r"\b,?\s*", re.I),
        concessive=re.compile(r"\s*" + _alt(_strings(cl["concessive"], "concessive")) + r"\b\s*", re.I),
        continuers=re.compile(r"\s*" + _alt(_strings(cl["continuers"], "continuers")) + r"\b", re.I),
        breakers=re.compile(r"\s*" + _alt(_strings(cl["clause_breakers"], "clause_breakers")) + r"\b", re.I),
        contrast=re.compile(_alt(_strings(cl["contrast"], "contrast")) + r"\s+", re.I),
        research_need=w("clauses.research_need"),
        scopes={k: _words(_strings(v, f"scopes.{k}"), f"scopes.{k}") for k, v in cfg["scopes"].items()},
        hedge=_words(hedge_words, "hedges"),
        can_ability=w("hedges.can_is_ability"),
        denial=w("negation.denial"),
        negation=w("negation.general"),
        not_negation=w("negation.not_a_negation"),
        named=_words(_strings(ev["named"], "evidence.named"), "evidence.named", flags=0),  # case matters
        citation=re.compile(ev["citation_marks"]),
        vague=w("evidence.vague"),
        anecdotal=w("evidence.anecdotal"),
        meta=w("role.meta"),
        meta_title=re.compile(r"\s*" + role["meta_quoted_title"], re.I),
        meta_framing=re.compile(r"\s*" + _alt(_strings(role["meta_framing"], "meta_framing")), re.I),
        advice_start=re.compile(r"\s*" + _strings(role["advice"], "advice")[0].lstrip("^"), re.I),
        advice=_words(_strings(role["advice"], "advice")[1:], "role.advice"),
        research_subject=_words([role["research_subject"]], "role.research_subject"),
        types={t: _words(_strings(cfg["types"][t], f"types.{t}"), f"types.{t}") for t in TYPE_ORDER},
        risk=w("stance.risk"),
        benefit=w("stance.benefit"),
        uncertain_safety=w("stance.uncertain_safety"),
        relief=w("stance.relief"),
        precaution=w("stance.precaution"),
        reducers=re.compile(r"(?<![\w-])" + st["reducers"] + r"(?:\s+[\w’'-]+){0,3}?\s*$", re.I),
        entity_re=entity_re,
        entity_groups=groups,
        entity_twin=entity_twin,
        entity_absent=entity_absent,
        entities=entities,
        increase_before=anchored(d["increase"]["before"], True),
        increase_after=anchored(d["increase"]["after"], False),
        decrease_before=anchored(d["decrease"]["before"], True),
        decrease_after=anchored(d["decrease"]["after"], False),
    )
    _index_word_lists()
    return compiled


def _absent(left_out: list[str]) -> re.Pattern[str] | None:
    """A scan that finds something wherever one of the synonyms the entity twin leaves out could match. Those are
    case-sensitive acronyms (`(?-i:MAT)`), so their letters, case and all, anywhere, are enough (and fast to look
    for); any other kind is looked for exactly."""
    if not left_out:
        return None
    acronyms = [m.group(1) for b in left_out if (m := re.fullmatch(r"\(\?-i:([^()\\\[]*)\)", b))]
    if len(acronyms) == len(left_out):
        return re.compile("|".join(f"(?:{a})" for a in acronyms))
    return re.compile(
        _ENTITY_GUARD + "(?:" + "|".join(f"(?:{b})" for b in left_out) + ")" + _ENTITY_TAIL, re.IGNORECASE
    )


def root_of(name: str | None) -> str | None:
    """The substance an entity belongs to (K shots -> kratom); itself when it has no parent."""
    ents = rules().entities
    seen = set()
    while name is not None and name in ents and ents[name].parent and name not in seen:
        seen.add(name)
        name = ents[name].parent
    return name


# -------------------------------------------------------------------------------------------- structure


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    kind: str

    def has(self, a: int, b: int | None = None) -> bool:
        return self.start <= a < self.end and (b is None or b <= self.end)


@dataclass(slots=True)
class _Sentence:
    """Structure of one sentence (local offsets)."""

    s: str
    lead: int  # after the opening connectives
    concession: tuple[int, int] | None  # "While X," ... the conceded clause
    main: int  # start of the main clause
    contrast: int | None  # start of the clause after a final "but"/"however"
    scopes: list[_Span] = field(default_factory=list)
    open_question: bool = False  # the sentence says something is not yet known

    def in_scope(self, pos: int, *kinds: str) -> bool:
        return any(sp.kind in kinds and sp.start <= pos < sp.end for sp in self.scopes)

    def in_concession(self, pos: int) -> bool:
        return self.concession is not None and self.concession[0] <= pos < self.concession[1]


def _clause_end(s: str, pos: int, r: Rules) -> int:
    """End of the clause that contains `pos`: a ; : dash or parenthesis, or a comma before a new clause."""
    n = len(s)
    i = pos
    while i < n:
        ch = s[i]
        if ch in ";:()[]" or ch in "—" or (ch == "–" and i > 0 and s[i - 1] == " "):
            return i
        if ch == ",":
            if r.continuers.match(s, i + 1):
                i += 1
                continue
            if r.breakers.match(s, i + 1):
                return i
        i += 1
    return n


def _dash_pairs(s: str, lo: int) -> list[tuple[int, int]]:
    dashes = [i for i in range(lo, len(s)) if s[i] == "—" or (s[i] == "–" and s[i - 1 : i] == " ")]
    return list(zip(dashes[0::2], dashes[1::2], strict=False))


def _concession_end(s: str, start: int, r: Rules) -> int | None:
    """Where "While X, Y" switches from X to Y: the first comma (or closing dash) not continuing X."""
    depth = 0
    pairs = _dash_pairs(s, start)
    i = start
    n = len(s)
    while i < n:
        ch = s[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in "—–":
            pair = next((p for p in pairs if p[0] == i), None)
            if pair is not None:  # a dash pair is a parenthetical: look after its closing dash
                i = pair[1]
                if not r.continuers.match(s, i + 1):
                    return i + 1
        elif depth == 0 and ch == "," and not r.continuers.match(s, i + 1):
            return i + 1
        i += 1
    return None


def _structure(s: str, r: Rules) -> _Sentence:
    lead = 0
    while True:
        m = r.connective.match(s, lead)
        if m is None or m.end() == lead:
            break
        lead = m.end()
    concession = None
    main = lead
    m = r.concessive.match(s, lead)
    if m is not None:
        end = _concession_end(s, m.end(), r)
        if end is not None:
            concession = (lead, end)
            main = end
    contrast = None
    for c in r.contrast.finditer(s, main):
        contrast = c.end()
    sent = _Sentence(s, lead, concession, main, contrast)
    for kind, pat in r.scopes.items():
        for a, b in _scan(pat, s):
            if kind == "inquiry_back":  # "X remains unclear": X is the topic, back to the clause start
                sent.scopes.append(_Span(_clause_start(s, a, main), a, "inquiry"))
                sent.open_question = True
            elif kind == "inquiry":  # an inquiry's object never runs into the sentence's own verb
                aux = _AUXILIARY.search(s, b)
                end = _clause_end(s, b, r)
                sent.scopes.append(_Span(a, min(end, aux.start()) if aux else end, kind))
            else:  # inquiry_clause counts as an inquiry
                sent.scopes.append(_Span(a, _clause_end(s, b, r), kind.removesuffix("_clause")))
    return sent


_AUXILIARY = re.compile(
    r"(?<![\w-])(?:is|are|was|were|has|have|had|can|could|may|might|will|would|should|must|do|does|did|"
    r"remains?)(?![\w-])",
    re.IGNORECASE,
)
_CLAUSE_OPENER = re.compile(
    r"(?:[;:]|,\s+(?:and|but|though|although|while|whereas|yet|so)\b|\b(?:that|which)\b)\s*", re.I
)


def _clause_start(s: str, pos: int, floor: int) -> int:
    start = floor
    for m in _CLAUSE_OPENER.finditer(s, floor, pos):
        start = m.end()
    return start


# ------------------------------------------------------------------------------------------------ cues


def _blank(pat: re.Pattern[str], s: str) -> str:
    """`pat.sub(" ", s)` (sub replaces exactly the matches finditer yields), by the twin where there is one."""
    out = []
    prev = 0
    for a, b in _scan(pat, s, together=False):  # a claim's text, cut down: no other list reads it
        out += (s[prev:a], " ")
        prev = b
    if not out:
        return s
    out.append(s[prev:])
    return "".join(out)


def _hits(pat: re.Pattern[str], s: str, lo: int = 0) -> list[tuple[int, int, str]]:
    return [(a, b, s[a:b]) for a, b in _scan(pat, s, lo)]


def _overlaps(a: int, b: int, spans: Sequence[tuple[int, int, str]]) -> bool:
    return any(x < b and a < y for x, y, _ in spans)


def _direction(s: str, a: int, b: int, r: Rules) -> str | None:
    before = s[max(0, a - 60) : a]
    if r.decrease_before.search(before) or r.decrease_after.match(s, b):
        return "decrease"
    if r.increase_before.search(before) or r.increase_after.match(s, b):
        return "increase"
    return None


# ------------------------------------------------------------------------------------------- subject NP

# Ends the subject noun phrase: an auxiliary, a modal or a verb claims are made with.
_VERB = re.compile(
    r"(?<![\w-])(?:is|are|was|were|has|have|had|can|could|may|might|will|would|should|must|does|do|did|"
    r"(?:interact|bind|contain|offer|provide|reduce|increase|help|act|work|play|cause|lead|stimulate|mimic|"
    r"modulate|affect|produce|remain|emerge|arise|appear|seem|show|suggest|include|involve|require|enable|"
    r"allow|make|become|lie|enhance|support|aid|ease|relieve|alleviate|present|represent|serve|carry|pose|"
    r"trigger|regulate|influence|lower|raise|block|activate|inhibit|deliver|give|gain|garner|attract|"
    r"operate|function|vary|varies|lies|lay|explore|delve|discuss|examine|cover|highlight|reveal|indicate|"
    r"find|report|demonstrate|note)(?:s|es|ed|d)?)(?![\w-])",
    re.IGNORECASE,
)
_DEMONSTRATIVE = re.compile(r"(?:this|these|that|those|such)\b", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:its|their)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"(?:it|they|it['’]s)\b", re.IGNORECASE)
_THE_NOUN = re.compile(
    r"the (?:\w+ )?(?:plant|herb|tree|substance|compound|leaf|leaves|botanical|alkaloids?)\b", re.I
)
# Nouns that name the plant itself ("this herb", "the plant") rather than a product or a compound of it.
_PLANT_NOUNS = frozenset(
    ["plant", "herb", "tree", "leaf", "leaves", "botanical", "substance", "remedy", "supplement"]
)
_COMPOUND_NOUNS = frozenset(["compound", "alkaloid", "constituent", "molecule"])
_INTRO_ADJUNCT = re.compile(
    r"(?:(?:during|in|by|when|with|as|for|after|before|since|if|through|unlike|compared|upon|among|on|at|"
    r"following|once|because|given|to|often|commonly|also|originally|derived|known|referred|used|taken|sold|"
    r"marketed|found|grown|harvested)\b[^,;]{0,120}|\w+ly),\s*",
    re.IGNORECASE,
)
_EVIDENCE_FRAME = re.compile(
    r"(?:[\w ]{0,40}?(?:studies|research|evidence|findings|advocates|proponents|experts|many|some|users|data)"
    r"(?: \w+){0,2} (?:shows?|suggests?|indicates?|find|finds|found|argue|argues|claim|claims|report|reports|"
    r"reveals?|reported|indicated|shown)(?: that)?|it is (?:\w+ )?(?:thought|believed|known|understood|"
    r"important to note|worth noting) that|it['’]s (?:\w+ )?(?:important to note|understood|worth noting) that)\s+",
    re.IGNORECASE,
)
_ASSURANCES = frozenset({"safe", "safer", "safely"})  # "safety concerns" is not one
_SUBJECT_TYPES = frozenset({"substance", "product", "compound", "target", "condition"})


@dataclass(slots=True)
class _NounPhrase:
    start: int
    end: int
    kind: str  # demonstrative | possessive | pronoun | plain
    head: str  # first content words after a demonstrative (lower case)


def _subject_np(st: _Sentence) -> _NounPhrase:
    s = st.s
    start = st.main
    for _ in range(2):  # "During recovery, ..." / "Often referred to as X, this substance ..."
        adj = _INTRO_ADJUNCT.match(s, start)
        if adj is None or adj.end() >= len(s):
            break
        start = adj.end()
    frame = _EVIDENCE_FRAME.match(s, start)
    if frame is not None:
        start = frame.end()
    v = _VERB.search(s, start)
    end = v.start() if v else min(len(s), start + 80)
    kind = "plain"
    if _DEMONSTRATIVE.match(s, start):
        kind = "demonstrative"
    elif _THE_NOUN.match(s, start):
        kind = "definite"
    elif _POSSESSIVE.match(s, start):
        kind = "possessive"
    elif _PRONOUN.match(s, start):
        kind = "pronoun"
    head = " ".join(re.findall(r"[a-z]+", s[start:end].lower())[1:4])
    return _NounPhrase(start, end, kind, head)


def _subject(np: _NounPhrase, mentions: Sequence[EntityMention], ctx: _Context) -> str | None:
    prev = ctx.prev_subject or ctx.focus
    in_np = [m for m in mentions if np.start <= m.start < np.end and m.entity_type in _SUBJECT_TYPES]
    words = set(np.head.split())
    if np.kind == "plain":
        return in_np[0].entity if in_np else prev
    if np.kind == "pronoun":
        return prev
    if np.kind == "definite" and in_np:
        return in_np[0].entity
    if np.kind == "possessive":
        # "Its main compound, mitragynine, ..." names its own subject; "Its effects" are the plant's.
        if len(in_np) == 1 and in_np[0].entity_type == "compound":
            return in_np[0].entity
        return root_of(prev) or prev
    # demonstrative: "this herb" is the plant, "this compound" the compound just named, "this interaction"
    # whatever the text was about.
    if words & _PLANT_NOUNS:
        return root_of(prev) or prev
    singular_compound = words & _COMPOUND_NOUNS and not any(w.endswith("s") for w in words & _COMPOUND_NOUNS)
    if singular_compound and len(ctx.prev_compounds) == 1:
        return ctx.prev_compounds[0]
    return prev


# ------------------------------------------------------------------------------------------------ label


@dataclass(slots=True)
class _Context:
    focus: str | None
    prev_subject: str | None
    prev_compounds: list[str]


def label_sentences(text: str, sentences: Sequence[SentenceInput]) -> list[SentenceLabels]:
    """Label every body sentence of one document, in order (the subject of "It ..." is the running topic)."""
    analyses = [_analyse(text[inp.start : inp.end]) for inp in sentences]
    focus = document_focus(e for a in analyses for e in a.mentions)
    ctx = _Context(focus, focus, [])
    out = []
    for inp, a in zip(sentences, analyses, strict=True):
        subject = _subject(a.np, a.mentions, ctx)
        ctx.prev_subject = subject or ctx.prev_subject
        ctx.prev_compounds = [m.entity for m in a.mentions if m.entity_type == "compound"]
        entities = tuple(
            EntityMention(
                m.entity, m.entity_type, inp.start + m.start, inp.start + m.end, m.polarity, m.direction
            )
            for m in a.mentions
        )
        out.append(
            SentenceLabels(
                a.role,
                a.claim_type,
                a.types,
                a.certainty,
                a.negated,
                a.evidence,
                a.stance,
                subject,
                a.cues,
                entities,
                a.proposition,
                a.signature,
            )
        )
    return out


def document_focus(mentions: Iterable[EntityMention]) -> str | None:
    """The substance or product the document mentions most (by its root: K shots count for kratom)."""
    counts: Counter[str] = Counter(
        root_of(m.entity) or m.entity
        for m in mentions
        if m.entity_type in ("substance", "product", "compound")
    )
    if not counts:
        return None
    return min(counts, key=lambda k: (-counts[k], k))


Hit = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class _Analysis:
    """Everything about a sentence that depends on its words alone (offsets local to the sentence)."""

    role: str
    claim_type: str | None
    types: tuple[str, ...]
    certainty: str | None
    negated: bool
    evidence: str
    stance: str
    cues: tuple[str, ...]
    mentions: tuple[EntityMention, ...]
    np: _NounPhrase
    proposition: str
    signature: str


def sentence_cache_size() -> int:
    """Entries of the per-sentence memo (CLAIMSCOPE_SENTENCE_CACHE; 0 turns it off)."""
    try:
        return max(0, int(os.environ.get("CLAIMSCOPE_SENTENCE_CACHE", "100000")))
    except ValueError:
        return 100_000


def _entity_matches(s: str, r: Rules) -> list[tuple[int, int, Entity]]:
    """`r.entity_re.finditer(s)` as (start, end, entity). The twin finds the spans (its branches open with their
    first character, so sre skips in C to where one can start: about half the bucketed pattern's time); which
    synonym matched is then read from entity_re itself, anchored at each span's start, where it makes the
    same match (the same branches, in the same order, at the same position)."""
    low = _lower(s) if r.entity_twin is not None else None
    if low is not None and (r.entity_absent is None or r.entity_absent.search(s) is None):
        out = []
        for t in r.entity_twin.finditer(low):  # type: ignore[union-attr]
            m = r.entity_re.match(s, t.start())
            if m is None or m.end() != t.end() or not m.lastgroup:  # pragma: no cover - a twin that disagrees
                break
            out.append((t.start(), t.end(), r.entity_groups[m.lastgroup]))
        else:
            return out
    return [
        (m.start(), m.end(), r.entity_groups[m.lastgroup]) for m in r.entity_re.finditer(s) if m.lastgroup
    ]


# Crawls repeat sentences (boilerplate, syndicated and templated copy): the analysis is a pure function of the
# sentence, so it is memoised per process. CLAIMSCOPE_SENTENCE_CACHE=0 turns it off (benchmarks report both).
@lexicon_cache(maxsize=sentence_cache_size())
def _analyse(s: str) -> _Analysis:
    r = rules()
    st = _structure(s, r)
    np = _subject_np(st)
    sources = _hits(r.named, s)
    mentions = [
        (a, b, e)
        for a, b, e in _entity_matches(s, r)
        if e.type == "organisation" or not _overlaps(a, b, sources)
    ]
    advice = _advice_hits(st, r, st.lead)
    main_directive = any(a >= st.main for a, _, _ in advice)
    main_is_assertion = not (main_directive or _found(r.research_need, s, st.main))

    # ---- hedges: a hedge in a conceded clause qualifies nothing when the main clause asserts something
    hedges: list[Hit] = []
    for a, b, word in _hits(r.hedge, s):
        if st.in_scope(a, "beneficiary") or (st.in_concession(a) and main_is_assertion):
            continue
        if word.lower() == "can" and _can_is_ability(s, a, b, r):
            continue
        hedges.append((a, b, word))

    # ---- negation: denials anywhere, ordinary negation in the main clause, never litotes or comparisons
    exempt = _hits(r.not_negation, s)
    negs: list[Hit] = []
    for a, b, word in _hits(r.denial, s):
        if not st.in_scope(a, "inquiry", "beneficiary") and not _overlaps(a, b, exempt):
            negs.append((a, b, word))
    for a, b, word in _hits(r.negation, s, st.main):
        if (
            _overlaps(a, b, exempt)
            or _overlaps(a, b, negs)
            or st.in_scope(a, "inquiry", "reason", "beneficiary")
        ):
            continue
        negs.append((a, b, word))

    # ---- types: cues outside inquiries, beneficiaries and the anaphoric subject ("This mechanism ...")
    type_hits: dict[str, list[Hit]] = {}
    for t in TYPE_ORDER:
        hits = []
        for a, b, word in _hits(r.types[t], s):
            if t != "research" and st.in_scope(a, "inquiry", "beneficiary"):
                continue
            if t == "efficacy" and st.in_scope(a, "positioning"):
                continue
            if np.kind == "demonstrative" and np.start <= a < np.end:
                continue
            hits.append((a, b, word))
        type_hits[t] = hits

    # ---- entity polarity: denied, a topic of inquiry, treated (the object of relief), or affirmed
    neg_scopes = [(a, _clause_end(s, b, r)) for a, b, _ in negs]
    relief = [(a, _clause_end(s, b, r)) for a, b, _ in _hits(r.relief, s)]
    ment: list[tuple[int, int, Entity, str]] = []
    for a, b, ent in mentions:
        if any(x <= a < y for x, y in neg_scopes):
            pol = "negated"
        elif st.in_scope(a, "inquiry"):
            pol = "uncertain"
        elif ent.type in ("harm", "symptom", "condition") and any(x < a < y for x, y in relief):
            pol = "treated"
        else:
            pol = "affirmed"
        ment.append((a, b, ent, pol))
        if st.in_scope(a, "beneficiary") or pol in ("uncertain", "treated"):
            continue
        if ent.type == "harm":
            type_hits["safety"].append((a, b, s[a:b]))
        elif ent.type == "compound":
            type_hits["origin"].append((a, b, s[a:b]))
        elif ent.type == "organisation" and ent.name in ("fda", "dea"):
            type_hits["regulatory"].append((a, b, s[a:b]))

    role = _role(st, r, type_hits, ment, hedges, advice)
    evidence, ev_cues = _evidence(s, r, ment, sources)
    types: tuple[str, ...] = ()
    claim_type = certainty = None
    stance = _stance(st, r, type_hits, ment, role, main_directive)
    if role == "claim":
        types = tuple(t for t in TYPE_ORDER if type_hits[t]) or (_fallback_type(ment, stance),)
        claim_type = types[0]
        certainty = "hedged" if hedges else "asserted"
    cues = [w.lower() for _, _, w in hedges + negs] if role == "claim" else []
    entities = tuple(
        EntityMention(ent.name, ent.type, a, b, pol, _direction(s, a, b, r) if ent.directional else None)
        for a, b, ent, pol in ment
    )
    negated = role == "claim" and bool(negs)
    directions = sorted({f"{m.entity}:{m.direction}" for m in entities if m.direction})
    signature = ";".join(["negated" if negated else "affirmed", *directions])
    return _Analysis(
        role,
        claim_type,
        types,
        certainty,
        negated,
        evidence,
        stance,
        tuple(dict.fromkeys(cues + ev_cues)),
        entities,
        np,
        proposition(s, r) if role == "claim" else "",
        signature,
    )


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": " ", "–": " "})
_PROP_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def proposition(text: str, r: Rules | None = None) -> str:
    """What a claim says, without how it says it: no connective, evidence frame, hedge or stop word; stemmed.

    "Modern research suggests that kratom may help reduce withdrawal symptoms" and "Kratom helps reduce
    withdrawal symptoms" have the same proposition.
    """
    r = r or rules()
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    m = r.connective.match(t)
    if m is not None:
        t = t[m.end() :]
    for pat in (r.vague, r.anecdotal, r.named, r.hedge):
        t = _blank(pat, t)
    stop = _stop_words()
    return " ".join(_stem(w) for w in _PROP_WORD.findall(t.casefold()) if w not in stop and len(w) > 1)


@lexicon_cache
def _stop_words() -> frozenset[str]:
    """lexicons/stopwords.txt (the list topics use; importing scikit-learn's would cost a second per process)."""
    return frozenset(w.lower() for line in load_lines("stopwords.txt") for w in line.split())


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


_local = threading.local()


def _stemmer():
    """One stemmer per thread: a Snowball stemmer keeps its cursor in the object (not thread-safe)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


def _can_is_ability(s: str, a: int, b: int, r: Rules) -> bool:
    return any(
        m.start() <= a < m.end() for m in r.can_ability.finditer(s, max(0, a - 40), min(len(s), b + 60))
    )


def _advice_hits(st: _Sentence, r: Rules, lo: int) -> list[Hit]:
    s = st.s
    hits = []
    m = r.advice_start.match(s, lo)
    if m is not None:
        hits.append((m.start(), m.end(), m.group(0).strip()))
    research = _hits(r.research_subject, s, lo)
    for a, b, word in _hits(r.advice, s, lo):
        if not _overlaps(a, b, research) and not st.in_scope(a, "inquiry"):
            hits.append((a, b, word))
    return hits


def _role(
    st: _Sentence,
    r: Rules,
    type_hits: dict[str, list[Hit]],
    ment: list[tuple[int, int, Entity, str]],
    hedges: list[Hit],
    advice: list[Hit],
) -> str:
    s = st.s
    if _found(r.meta, s) or r.meta_title.match(s, st.lead):
        return "meta"
    adj = _INTRO_ADJUNCT.match(s, st.main)
    framing = r.meta_framing.match(s, st.main) or (adj and r.meta_framing.match(s, adj.end()))
    if framing:
        # "Understanding X is crucial" frames the text, unless something before it asserts a fact.
        before = any(
            a < framing.start() for t, hits in type_hits.items() if t != "research" for a, _, _ in hits
        )
        return "claim" if before else "meta"
    if not advice:
        return "claim"
    # Advice that also carries a checkable fact is a claim (spec/claims.md): a conceded claim ("While X, be
    # careful"), a specific harm, or a reason with content ("requires caution due to ...").
    if st.concession is not None:
        c0, c1 = st.concession
        if any(c0 <= a < c1 for hits in [*type_hits.values(), hedges] for a, _, _ in hits):
            return "claim"
    if any(
        e.type == "harm" and e.name not in _GENERIC_HARMS and p in ("affirmed", "negated")
        for _, _, e, p in ment
    ):
        return "claim"
    for sp in st.scopes:
        if sp.kind == "reason" and any(
            sp.start <= a < sp.end for hits in type_hits.values() for a, _, _ in hits
        ):
            return "claim"
    return "advice"


def _evidence(
    s: str, r: Rules, ment: list[tuple[int, int, Entity, str]], sources: list[Hit]
) -> tuple[str, list[str]]:
    """`sources`: the sentence's `r.named` hits, already found for the entity mentions."""
    named = [w for _, _, w in sources] + [m.group(0) for m in r.citation.finditer(s)]
    named += [s[a:b] for a, b, e, _ in ment if e.type == "organisation"]
    if named:
        return "named", [n.lower() for n in named]
    for kind, pat in (("vague", r.vague), ("anecdotal", r.anecdotal)):
        found = [w.lower() for _, _, w in _hits(pat, s)]
        if found:
            return kind, found
    return "none", []


def _fallback_type(ment: list[tuple[int, int, Entity, str]], stance: str) -> str:
    """No type cue fired: judge by what the sentence is about and how it leans."""
    kinds = {e.type for _, _, e, _ in ment}
    if "harm" in kinds:
        return "safety"
    if "target" in kinds:
        return "mechanism"
    if kinds & {"condition", "symptom"} and stance != "neutral":
        return "safety" if stance == "risk" else "efficacy"
    return "usage"


def _count(spans: Iterable[tuple[int, int]], lo: int) -> int:
    """Distinct phrases among cue spans at or after `lo`: overlapping or touching cues count once."""
    n, end = 0, -2
    for a, b in sorted(x for x in spans if x[0] >= lo):
        if a > end + 1:
            n += 1
        end = max(end, b)
    return n


def _stance(
    st: _Sentence,
    r: Rules,
    type_hits: dict[str, list[Hit]],
    ment: list[tuple[int, int, Entity, str]],
    role: str,
    main_directive: bool,
) -> str:
    s = st.s

    def free(
        a: int,
    ) -> bool:  # stance words inside an inquiry or about a beneficiary are not the text's stance
        return not st.in_scope(a, "inquiry", "beneficiary")

    def reduced(a: int) -> bool:  # "mitigating the risks", "less risk of"
        return r.reducers.search(s, max(0, a - 40), a) is not None

    # A recommendation of caution decides: advice to consult or be careful, or a claim whose main clause is
    # such a directive ("While it shows promise, it should be approached with caution").
    if role == "advice" and _found(r.precaution, s):
        return "risk"
    if st.concession is not None and main_directive and _found(r.precaution, s, st.main):
        return "risk"
    harms = [(a, b) for a, b, e, p in ment if e.type == "harm" and p == "affirmed" and free(a)]
    risk = [(a, b) for a, b, _ in _hits(r.risk, s) if free(a)]
    risk += [(a, b) for a, b in harms if not reduced(a)]
    if st.open_question or _found(r.research_need, s):
        risk += [(a, b) for a, b, _ in _hits(r.uncertain_safety, s) if st.in_scope(a, "inquiry")]
    assurances = _hits(r.benefit, s)
    benefit = [(a, b) for a, b, _ in assurances if free(a)]
    benefit += [(a, b) for a, b in harms if reduced(a)]
    benefit += [(a, b) for a, b, e, p in ment if e.type == "harm" and p in ("negated", "treated")]
    benefit += [(a, b) for a, b, _ in type_hits["efficacy"]]
    benefit += [(sp.start, sp.end) for sp in st.scopes if sp.kind == "positioning"]
    harm_spans = [(a, b, "") for a, b in harms]
    for a, b, w in type_hits["safety"]:
        if _overlaps(a, b, harm_spans) or not free(a):
            continue
        good = (
            w.lower().split()[0] in _ASSURANCES
            or w.lower().startswith("non-")
            or reduced(a)
            or _overlaps(a, b, assurances)
        )
        (benefit if good else risk).append((a, b))

    def score(lo: int) -> str:
        nr, nb = _count(risk, lo), _count(benefit, lo)
        if nr == nb:
            return "neutral" if nr == 0 else ("risk" if role == "advice" else "benefit")
        return "risk" if nr > nb else "benefit"

    # The final contrast ("..., but safety concerns remain") speaks loudest, then the main clause, then all.
    for lo in (st.contrast, st.main if st.concession else None, 0):
        if lo is not None and (stance := score(lo)) != "neutral":
            return stance
    return "neutral"
