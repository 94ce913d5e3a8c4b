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
from collections.abc import Sequence
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
