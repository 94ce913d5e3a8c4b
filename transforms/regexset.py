"""Large alternations of regular expressions that stay fast in Python's `re`.

`re` tries every branch of `(?:a|b|c|...)` at every position; with hundreds of cue or synonym patterns that is
most of the extractor's time. `alternation()` buckets the branches by the characters they can start with (read
from `re`'s own parser) and puts a one-character lookahead in front of each bucket, so at a given position only
the branches that can start there are tried. Branch order inside a bucket is kept, so "longest first" and
"first listed wins" behave exactly as in the plain alternation.
"""

from __future__ import annotations

import re
import re._constants as C
import re._parser as P
from collections.abc import Callable, Iterable, Iterator, Sequence
from re import _casefix

_MAX_RANGE = 256  # a character range wider than this is treated as "any character"


def first_chars(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Characters a match of `pattern` can start with (letters in both cases), or None when it can start
    with anything or match the empty string."""
    try:
        chars, nullable = _seq(P.parse(pattern, flags))
    except Exception:  # an exotic construct: no dispatch, the branch is tried everywhere
        return None
    if chars is None or nullable:
        return None
    return frozenset(c for ch in chars for c in {ch, ch.lower(), ch.upper()} if len(c) == 1)


def _seq(items) -> tuple[set[str] | None, bool]:
    out: set[str] = set()
    for op, av in items:
        chars, nullable = _item(op, av)
        if chars is None:
            return None, False
        out |= chars
        if not nullable:
            return out, False
    return out, True


def _item(op, av) -> tuple[set[str] | None, bool]:
    if op is C.LITERAL:
        return {chr(av)}, False
    if op is C.IN:
        chars: set[str] = set()
        for sub_op, sub_av in av:
            if sub_op is C.LITERAL:
                chars.add(chr(sub_av))
            elif sub_op is C.RANGE and sub_av[1] - sub_av[0] <= _MAX_RANGE:
                chars.update(chr(c) for c in range(sub_av[0], sub_av[1] + 1))
            else:  # NEGATE, CATEGORY (\w, \d), wide ranges
                return None, False
        return chars, False
    if op is C.BRANCH:
        out: set[str] = set()
        nullable = False
        for alt in av[1]:
            chars, n = _seq(alt)
            if chars is None:
                return None, False
            out |= chars
            nullable = nullable or n
        return out, nullable
    if op is C.SUBPATTERN:
        return _seq(av[3])
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
        chars, n = _seq(av[2])
        return chars, n or av[0] == 0
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return set(), True  # zero-width: the next item decides
    return None, False


def alternation(branches: Sequence[tuple[str, str | None]], flags: int = 0) -> tuple[str, dict[str, str]]:
    """`(?:b1|b2|...)` bucketed by first character.

    `branches` are (pattern, group name or None); a named branch is wrapped in `(?P<name_k>...)`, and since a
    branch may sit in several buckets each copy gets its own name. Returns the regex source and a map from
    every generated group name to the name given.
    """
    starts = [first_chars(p, flags) for p, _ in branches]
    buckets: dict[str, list[int]] = {}
    anywhere: list[int] = []
    for i, chars in enumerate(starts):
        if chars is None:
            anywhere.append(i)
        else:
            for ch in chars:
                buckets.setdefault(ch.lower(), []).append(i)
    names: dict[str, str] = {}
    counter = 0

    def branch(i: int) -> str:
        nonlocal counter
        pattern, name = branches[i]
        if name is None:
            return f"(?:{pattern})"
        counter += 1
        generated = f"{name}_{counter}"
        names[generated] = name
        return f"(?P<{generated}>{pattern})"

    parts = []
    for ch in sorted(buckets):
        members = sorted(set(buckets[ch]) | set(anywhere))
        cls = "".join(sorted({re.escape(c) for c in (ch, ch.upper()) if len(c) == 1}))
        parts.append(f"(?=[{cls}])(?:" + "|".join(branch(i) for i in members) + ")")
    if anywhere:
        parts.append("(?:" + "|".join(branch(i) for i in anywhere) + ")")
    return "(?:" + "|".join(parts) + ")" if parts else "(?!)", names


# ------------------------------------------------------------------------- case-insensitive scans, faster

# `re.IGNORECASE` also equates some characters of different lower case ("ſ" with "s", "ς" with "σ", ...;
# re/_casefix.py). Text holding one (other than "i" and "s") is scanned with the original pattern, so a twin
# only has to avoid the two whose equivalent is ASCII: "ı" (i) and "ſ" (s).
_EXTRA = _casefix._EXTRA_CASES
_EXTRA_CASES = frozenset(chr(c) for k, v in _EXTRA.items() for c in (k, *v)) - frozenset("is")
_ASCII_EQUIVALENT = frozenset(chr(k) for k, v in _EXTRA.items() if k > 127 and any(c < 128 for c in v))
_SPECIAL_RE = re.compile("[" + re.escape("".join(sorted(_EXTRA_CASES))) + "]")


def lowered_source(source: str) -> str | None:
    """`source` with its literal letters in lower case, for a case-sensitive twin of a `re.IGNORECASE`
    pattern that scans lower-cased text; None where that is not certain to match the same spans.

    Why: under IGNORECASE, `re` compiles every letter to a case-folding opcode, and an alternation's branches
    can no longer be skipped on their first character (sre's fast path only reads case-sensitive literals and
    sets); on lower-cased text the twin does the same work 2-3x faster. Escapes (\\S, \\W, \\B ...) and group
    names are copied as they are; a set with an upper-case letter, inline flags, a character given by its code,
    "ı" or "ſ" make it give up.
    """
    out: list[str] = []
    i, n = 0, len(source)
    set_start = -1  # where the character set being read opened, -1 outside one
    while i < n:
        c = source[i]
        if c == "\\":
            if source[i + 1 : i + 2] in ("N", "x", "u", "U", "0"):  # a character by its code: give up
                return None
            out.append(source[i : i + 2])
            i += 2
            continue
        if set_start >= 0:
            first = set_start + (2 if source.startswith("[^", set_start) else 1)
            if c == "]" and i > first:  # a "]" right after "[" or "[^" is a literal
                set_start = -1
            elif c != c.lower() or c in _ASCII_EQUIVALENT:
                return None
            out.append(c)
            i += 1
            continue
        if c == "[":
            set_start = i
            out.append(c)
            i += 1
            continue
        if source.startswith("(?", i):
            nxt = source[i + 2 : i + 3]
            if nxt == "P":  # (?P<name>...) or (?P=name): the name as it is
                end = source.find(">" if source[i + 3 : i + 4] == "<" else ")", i)
                if end < 0:
                    return None
                out.append(source[i : end + 1])
                i = end + 1
                continue
            if nxt not in (":", "=", "!", "<"):  # inline flags (?i) (?-i:...) (?a) ...: give up
                return None
            if nxt == "<" and source[i + 3 : i + 4] not in ("=", "!"):  # (?<name>...)
                return None
            out.append(source[i : i + 3])
            i += 3
            continue
        low = c.lower()
        if len(low) != 1 or low in _ASCII_EQUIVALENT:
            return None
        out.append(low)
        i += 1
    return "".join(out)


def lower_for_twins(s: str) -> str | None:
    """`s` in lower case with every offset kept, or None when a twin cannot scan it (a character whose lower
    case is longer, such as "İ", or one with extra case equivalents)."""
    low = s.lower()
    if len(low) != len(s) or (not low.isascii() and _SPECIAL_RE.search(low)):
        return None
    return low


def twin(source: str, flags: int) -> re.Pattern[str] | None:
    """The case-sensitive twin of the IGNORECASE pattern `source`, for `lower_for_twins` text; None if it has
    none. Give it a plain alternation, not `alternation()`'s buckets: their sets hold capitals, and sre skips a
    case-sensitive branch on its first character by itself. Unnamed branches only: a branch that opens with a
    group is never skipped that way (the entity lexicon's twin measured 10x slower than its bucketed original)."""
    if not flags & re.IGNORECASE:
        return None
    lowered = lowered_source(source)
    return None if lowered is None else re.compile(lowered, flags & ~re.IGNORECASE)


# ------------------------------------------------------------------- all cue lists of a sentence at once

# Each cue list's twin opens with its word-start guard `(?<![\w-])`, a zero-width test that sre runs at every
# position (~25 ns a character whatever the list's size), so two dozen lists cost two dozen passes over every
# sentence. `MultiScan` makes one pass for all of them: at each word start a lookahead of every list's branches
# (grouped by their first character, so sre skips a group on that character) says whether any list matches
# there; only then does each list whose branches can start with that character capture its own match, in a
# lookahead, so the lists' matches may overlap. A list's `finditer` is then its captured matches taken left to
# right without overlap: the same spans, because at a position a list's capture is the match its own pattern
# makes there, its branches tried in their listed order.
_MAX_EXPANSION = 4  # a list may expand to at most this many times its branches (plus 64) before we give up
_QUANTIFIERS = ("?", "*", "+", "{")


def _syntax(p: str, i: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth) of every character of `p` from `i` that is neither escaped nor in a set
    ("(" counted before it, ")" after it)."""
    depth, set_start, n = 0, -1, len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if set_start >= 0:
            first = set_start + (2 if p.startswith("[^", set_start) else 1)
            if c == "]" and i > first:
                set_start = -1
        elif c == "[":
            set_start = i
        else:
            depth += c == "("
            depth -= c == ")"
            yield i, c, depth
        i += 1


def _group_end(p: str, i: int) -> int | None:
    """Index of the ")" closing the group that opens at p[i]."""
    return next((k for k, c, depth in _syntax(p, i) if c == ")" and depth == 0), None)


def _top_level(p: str) -> list[str]:
    """`p` split at its top-level "|"."""
    cuts = [k for k, c, depth in _syntax(p) if c == "|" and depth == 0]
    return [p[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(p)], strict=True)]


def _first_and_rest(p: str, depth: int = 0) -> list[tuple[str, str]] | None:
    """`p` (no top-level "|") as (first literal character, rest) pairs whose alternation, in this order, matches
    what `p` matches, trying the same choices in the same order; None when its start is not plain enough."""
    if not p or depth > 6:
        return None  # an empty branch (it matches anywhere) or a deep nest
    if p.startswith("\\b"):
        # a word boundary before the first character: the character before it is not a word character when
        # that one is, and is one when it is not (tested one character on)
        sub = _first_and_rest(p[2:], depth + 1)
        if sub is None:
            return None
        return [(ch, ("(?<!\\w.)" if _is_word(ch) else "(?<=\\w.)") + rest) for ch, rest in sub]
    if p.startswith(("(?<!", "(?<=")):
        # a lookbehind before the first character: the same test one character on, that character included
        end = _group_end(p, 0)
        sub = None if end is None else _first_and_rest(p[end + 1 :], depth + 1)
        if sub is None:
            return None
        return [(ch, f"{p[:4]}(?:{p[4:end]}){re.escape(ch)}){rest}") for ch, rest in sub]
    if p.startswith("(?i:"):  # in a case-sensitive pattern: the first character in every case it matches
        end = _group_end(p, 0)
        if end is None or p[end + 1 : end + 2] in _QUANTIFIERS:
            return None
        out_i: list[tuple[str, str]] = []
        for a in _top_level(p[4:end]):
            sub = _first_and_rest(a, depth + 1)
            if sub is None:
                return None
            for ch, rest in sub:
                variants = _case_variants(ch)
                if variants is None:
                    return None
                out_i += [(v, f"(?i:{rest}){p[end + 1 :]}") for v in variants]
        return out_i
    if p[0] == "(":
        if not p.startswith("(?:"):
            return None  # a capturing group, a lookahead or inline flags
        end = _group_end(p, 0)
        if end is None:
            return None
        inner, after = p[3:end], p[end + 1 :]
        alts = _top_level(inner)
        if after[:1] == "?":  # greedy: with the group first, then without
            if after[1:2] in ("?", "+"):
                return None
            after = after[1:]
            alts.append("")
        elif after[:1] in _QUANTIFIERS:
            return None
        out: list[tuple[str, str]] = []
        for a in alts:
            sub = _first_and_rest(a + after, depth + 1)
            if sub is None:
                return None
            out += sub
        return out
    atom = _atom(p)
    if atom is None:
        return None
    chars, rest = atom  # two characters never match at one position, so their order does not matter
    if rest[:1] == "?":  # greedy: with the character first, then without
        if rest[1:2] in ("?", "+"):
            return None
        without = _first_and_rest(rest[1:], depth + 1)
        return None if without is None else [(ch, rest[1:]) for ch in chars] + without
    if rest[:1] in _QUANTIFIERS:
        return None
    return [(ch, rest) for ch in chars]


def _case_variants(ch: str) -> list[str] | None:
    """The first characters a `(?i:ch...)` branch gets, for an ASCII `ch` (None otherwise): its two cases, as
    `first_chars` gives `alternation()`'s buckets. Not "İ", "ı", "ſ" or the Kelvin sign, which IGNORECASE also
    equates with i, s and k: the bucketed pattern this copies never tries its branches there."""
    return list(dict.fromkeys([ch, ch.lower(), ch.upper()])) if ch.isascii() else None


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"  # re's \w on str patterns


def _atom(p: str) -> tuple[list[str], str] | None:
    """The characters the first atom of `p` matches, when it is a literal or a set of literals, and the rest."""
    c = p[0]
    if c == "\\":
        e = p[1:2]
        if not e or e.isalnum() or e == "\n":  # \w \d \b \1 ...: a class, an assertion or a reference
            return None
        return [e], p[2:]
    if c == "[":
        end = p.find("]", 2)
        body = p[1:end] if end > 0 else ""
        if not body or body[0] == "^" or "\\" in body or "[" in body or "\n" in body:
            return None  # a negated set, an escape
        chars: list[str] = []
        i = 0
        while i < len(body):
            if body[i + 1 : i + 2] == "-" and i + 2 < len(body):  # a range
                lo, hi = ord(body[i]), ord(body[i + 2])
                if not 0 <= hi - lo <= 64:
                    return None
                chars += [chr(k) for k in range(lo, hi + 1)]
                i += 3
            else:
                chars.append(body[i])
                i += 1
        return list(dict.fromkeys(chars)), p[end + 1 :]
    if c in ".^$|()*+?{\n":
        return None
    return [c], p[1:]


def first_and_rest(branches: Sequence[str]) -> list[tuple[str, str]] | None:
    """The alternation of `branches` as (first literal character, rest) pairs, in an order that tries the same
    choices in the same order at any position; None when a branch does not start with a literal, a set of letters
    or a non-capturing group of those, or when it expands too far."""
    pairs: list[tuple[str, str]] = []
    for b in branches:
        for alt in _top_level(b):
            sub = _first_and_rest(alt)
            if sub is None:
                return None
            pairs += sub
    return None if len(pairs) > _MAX_EXPANSION * len(branches) + 64 else pairs


def factored_alternation(
    branches: Sequence[str],
    moved_guard: str = "",
    tail: str = "",
    leave_out: bool = False,
    lower: bool = True,
) -> tuple[re.Pattern[str] | None, list[str]]:
    """The case-sensitive twin of the IGNORECASE `{guard}(?:b1|b2|...){tail}` for `lower_for_twins` text, each
    branch as its first character, `moved_guard` (the guard one character on, as MultiScan writes it), then its
    rest, so that sre skips to the positions where a branch can start. Returns (twin, branches left out); the
    twin is None when `first_and_rest` cannot take a branch. With `leave_out`, such a branch is left out instead,
    and the twin finds what the pattern finds in a text where none of the left-out branches matches: a branch
    that matches nowhere changes nothing.
    `lower=False` for a case-sensitive pattern: the same form, for the text itself (no twin)."""
    lowered: Callable[[str], str | None] = lowered_source if lower else str
    tail_low = lowered(tail)
    pairs: list[tuple[str, str]] = []
    left_out: list[str] = []
    for b in branches:
        sub = _branch_pairs(b, lowered) if tail_low is not None else None
        if sub is None:
            if not leave_out:
                return None, list(branches)
            left_out.append(b)
            continue
        pairs += sub
    if not pairs:
        return None, left_out
    return re.compile(_factored(_group_by_first(pairs), moved_guard) + (tail_low or "")), left_out


def _branch_pairs(b: str, lowered: Callable[[str], str | None]) -> list[tuple[str, str]] | None:
    low = lowered(b)
    return None if low is None else first_and_rest([low])


def _group_by_first(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for first, rest in pairs:
        groups.setdefault(first, []).append(rest)
    return groups


def _either(patterns: Iterable[str]) -> str:
    return "(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"


def _factored(groups: dict[str, list[str]], moved_guard: str = "") -> str:
    """`(?:c1{moved_guard}(?:rests)|c2...)`: each first character, then what may follow it, in listed order. The
    alternatives are not wrapped in groups: sre finds its charset prefix only where each opens with a literal."""
    return (
        "(?:" + "|".join(f"{re.escape(c)}{moved_guard}{_either(rests)}" for c, rests in groups.items()) + ")"
    )


class MultiScan:
    """The case-sensitive twins of several IGNORECASE word lists `(?<!{guard})(?:b1|b2|...){tail}`, scanned in
    one pass of `lower_for_twins` text (see above). A list it cannot take (`first_and_rest` is None) gets no
    index in `slot`; its twin scans on its own."""

    def __init__(self, lists: Sequence[Sequence[str]], guard: str, tail: str) -> None:
        tail_low = lowered_source(tail)
        self.slot: list[int | None] = []
        by_list: list[dict[str, list[str]]] = []
        for branches in lists:
            subs = [_branch_pairs(b, lowered_source) for b in branches]
            pairs = None if tail_low is None or None in subs else [x for sub in subs for x in sub]  # type: ignore[union-attr]
            self.slot.append(None if pairs is None else len(by_list))
            if pairs is not None:
                by_list.append(_group_by_first(pairs))
        self.n_lists = len(by_list)
        self.pattern: re.Pattern[str] | None = None
        if not by_list:
            return
        everything = _group_by_first([(c, r) for g in by_list for c, rests in g.items() for r in rests])
        # group numbers: for each first character, one capture per list with branches starting with it
        self.ranges: dict[str, tuple[int, int]] = {}
        owner = [-1]
        parts = []
        for c in everything:
            first = len(owner)
            captures = []
            for k, g in enumerate(by_list):
                if c in g:
                    captures.append(f"(?:(?=({_either(g[c])}{tail_low}))|)")
                    owner.append(k)
            self.ranges[c] = (first, len(owner))
            parts.append(re.escape(c) + "".join(captures))
        self.owner = tuple(owner)
        source = f"(?<!{guard})(?={_factored(everything)}{tail_low})(?:" + "|".join(parts) + ")"
        try:
            self.pattern = re.compile(source)
        except re.error:  # pragma: no cover - every branch compiled on its own first
            self.slot = [None] * len(lists)
            self.n_lists = 0

    def spans(self, low: str) -> list[list[tuple[int, int]]]:
        """Every list's matches at every word start of `low`, overlapping ones included (`take` picks)."""
        out: list[list[tuple[int, int]]] = [[] for _ in range(self.n_lists)]
        if self.pattern is None:
            return out
        owner, ranges = self.owner, self.ranges
        for m in self.pattern.finditer(low):
            p = m.start()
            g0, g1 = ranges[low[p]]
            end = m.end  # m.regs would build a pair for every group of every list
            for g in range(g0, g1):
                b = end(g)
                if b >= 0:
                    out[owner[g]].append((p, b))  # the capture starts after the first character
        return out


def take(spans: Sequence[tuple[int, int]], lo: int = 0) -> list[tuple[int, int]]:
    """What `finditer(text, lo)` yields, from one list's matches at every position (none of them empty)."""
    out = []
    pos = lo
    for a, b in spans:
        if a >= pos:
            out.append((a, b))
            pos = b
    return out
