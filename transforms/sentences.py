"""Sentence splitting: `split_sentences(text, start, end)` returns sentence spans as offsets into `text`.

One compiled regex finds every candidate boundary of the range in a single scan (terminal punctuation
followed by white space, newlines, inline bullets, ")" list markers); the rules below run only at those
candidates, so the cost is a few microseconds per sentence whatever the length of the text.

Rules, in the order they are applied at a period:
* a lowercase word after the punctuation continues the sentence ("etc. and", '"Great." she said');
* abbreviations from `lexicons/abbreviations.txt` (see that file for the three kinds);
* a list marker at the start of a sentence ("1.", "a.", "2.)") is not an end, and the next marker of the
  same list ("1. ... 2. ...") starts a new sentence even without punctuation before it;
* single capital letters (initials) and dotted letter groups ("U.S.", "a.m.") end a sentence only before
  a usual sentence opener ("I live in the U.S. How about you?" but "the U.S. Government");
* otherwise a period before a capital letter, digit or symbol ends the sentence.
Ellipses follow the conventions of the English "Golden Rules": spaced ". . ." inside a sentence never ends
it, "word. . . . Next" ends after the first period, "..."/"…" end a sentence only before a capital.
Citation marks after the punctuation ("effective.[2,3]", ".¹") and a parenthetical citation right after it
("... stairways [...]" (Smith 55).") stay with the sentence they support.

Newlines: a blank line always ends a sentence. A single newline is a hard wrap (text pasted from a PDF)
unless the line before already ended a sentence or the next line is a list item ("- ", "* ", "• ", "– ",
"1. ", "(1) ") or a Markdown heading ("## "), or the line before is such a heading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transforms.errors import LexiconError
from transforms.lexicon import lexicon_cache, load_lines

__all__ = ["split_sentences"]

# Glyphs that start a list item even in the middle of a line ("• 9. first item • 10. second item").
_BULLETS = "•‣⁃◦▪●■►▸➢➤"
# What may close a sentence after its final punctuation: quotes, brackets, citation marks.
_CLOSERS = r"""["'”’»›)\]}]|\[\d{1,4}(?:\s?[-–,]\s?\d{1,4})*\]|[¹²³⁰⁴-⁹]"""
# What may open a sentence before its first word; skipped when looking at the next word.
_OPENERS = "\"'“‘«‹([{¿¡"
# Stripped from the front of the word before a period to find the abbreviation / list marker.
_TOKEN_LEAD = _OPENERS + _BULLETS + "*–-"

_TERMINALS = ".?!…‼⁇⁈⁉"
_CJK_STOPS = "。！？"
# One scan finds every candidate. The pattern starts with a single character class so `re` can skip to
# the next candidate character quickly (an alternation at the top level would be tried at every position);
# each branch then checks which character it was with a one-character look-behind. The first branch is a
# fast path decided by the regex alone: a period right after four lowercase letters, then white space and
# a capital or digit ("addiction. The"). Abbreviations ending that way ("approx.") are excluded by their
# last four letters, filled in from the lexicon, and go through the general rules.
_CANDIDATES_TEMPLATE = rf"""
    [{_TERMINALS}{_CJK_STOPS}\n{_BULLETS})]
    (?:
        (?<=[a-z]{{4}}\.){{exclude}}\s+(?=[A-Z0-9])(?P<plain>)        # "addiction. The"
      | (?<=[{_TERMINALS}])(?P<punct>[{_TERMINALS}]*(?:\ \.)*)   # "?!", "...", spaced ". . ."
        (?P<term>(?:{_CLOSERS})*)                                 # then quotes, brackets, citations
        (?=\s|\Z)\s*                                             # and white space (or the end)
      | (?<=[{_CJK_STOPS}])[{_CJK_STOPS}]*(?P<cjk>(?:{_CLOSERS})*)\s*   # no space needed after 。
      | (?<=\n)(?P<nl>\s*)                                      # newline: blank line or hard wrap
      | (?<=\s[{_BULLETS}])(?P<bullet>)                          # inline bullet glyph
      | (?:(?<=\s\d\))|(?<=\s\d\d\))|(?<=\s[A-Za-z]\))|(?<=\s\(\d\))|(?<=\s\([A-Za-z]\)))
        (?P<enum>)(?=\s)                                         # ")" list marker: "1) ... 2) ..."
    )
"""
_NON_SPACE = re.compile(r"\S")
# A list marker at the start of a sentence: optional bullet, "(1)", "1)", "1.", "1.)", "a.", "a)".
_MARKER = re.compile(rf"(?:[{_BULLETS}*–-]\s*)?(\(?)(\d{{1,3}}|[A-Za-z])(\.\)|\.|\))(?=\s)")
# Line starts that begin a new block after a single newline: list items and Markdown headings.
_LINE_BLOCK = re.compile(rf"(?:[-*–{_BULLETS}]|\d{{1,3}}[.)]|\(\d{{1,3}}\)|#{{1,6}})[^\S\n]")
_HEADING_LINE = re.compile(r"#{1,6}[^\S\n]")
# The next word (or first character), past opening quotes and brackets.
_NEXT_WORD = re.compile(rf"[{re.escape(_OPENERS)}]*([^\W\d_]+|\S)")
# Parenthetical citation after the final punctuation: "(Smith 55).", "(Smith et al., 2019)", "(WHO 2020a)".
_PAREN_CITATION = re.compile(r"\((?:[A-Z][^()\n]{0,80}?\d{1,4}[a-z]?|\d{1,3}(?:\s?[-–,]\s?\d{1,3})*)\)")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # "U.S", "a.m", "b.i.d" (final period excluded)
_ROMAN = frozenset(
    r for x in ("i", "ii", "iii", "iv", "vi", "vii", "ix", "xi", "xii", "xiv") for r in (x, x.upper())
)
_TOKEN_WINDOW = 48  # characters looked back for the word before a period; longer words are no abbreviation
_QUESTION_EXCLAMATION = frozenset("?!‼⁇⁈⁉")

# How an abbreviation behaves before a capital letter or digit; see lexicons/abbreviations.txt.
NEVER_ENDS, BEFORE_NUMBERS, MAY_END = 1, 2, 3
_SECTIONS = {"never_ends": NEVER_ENDS, "before_numbers": BEFORE_NUMBERS, "may_end": MAY_END, "openers": 0}


@dataclass(frozen=True, slots=True)
class Abbreviations:
    """The compiled contents of `lexicons/abbreviations.txt`."""

    kinds: dict[str, int]  # abbreviation without its final period -> NEVER_ENDS | BEFORE_NUMBERS | MAY_END
    openers: frozenset[str]  # words that start a new sentence after a MAY_END abbreviation or an initial
    candidates: re.Pattern[str]  # _CANDIDATES_TEMPLATE with this lexicon's exclusions


def compile_abbreviations(lines: list[str]) -> Abbreviations:
    """Compile the lines of abbreviations.txt (as `load_lines` returns them: no blanks, no comment lines)."""
    kinds: dict[str, int] = {}
    openers: set[str] = set()
    kind = NEVER_ENDS
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if name not in _SECTIONS:
                raise LexiconError(f"abbreviations.txt: unknown section [{name}]")
            kind = _SECTIONS[name]
        elif kind == 0:
            openers.update(line.split())
        elif line.rstrip("."):
            key = line[:-1] if line.endswith(".") else line
            kinds[key] = kind
            if key == key.lower():  # lowercase entries also match sentence-initial "Approx."
                kinds.setdefault(key[0].upper() + key[1:], kind)
    # Abbreviations whose last four characters could take the "plain" fast path are excluded from it.
    suffixes = sorted({k[-4:] for k in kinds if re.fullmatch(r"[a-z]{4}", k[-4:])})
    exclude = rf"(?<!(?:{'|'.join(suffixes)})\.)" if suffixes else ""
    candidates = re.compile(_CANDIDATES_TEMPLATE.replace("{exclude}", exclude), re.VERBOSE)
    return Abbreviations(kinds, frozenset(openers), candidates)


@lexicon_cache(eager=True)
def _abbreviations() -> Abbreviations:
    return compile_abbreviations(load_lines("abbreviations.txt"))


# Compiled at import, so splitting never reads a file. Which branch matched is m.lastindex; the exclusions add
# no groups, so these indexes hold for any lexicon.
_PLAIN, _TERM, _CJK, _NL, _BULLET, _ENUM = (
    _abbreviations().candidates.groupindex[g] for g in ("plain", "term", "cjk", "nl", "bullet", "enum")
)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans `(s, e)` inside `text[start:end]`; `text[s:e]` is the sentence.

    Spans are ordered, non-overlapping, non-empty and trimmed of white space; every non-space character
    of the range lies in exactly one span. Offsets outside the text are clamped. Never raises.
    """
    try:
        return _split(text, start, end, _abbreviations())
    except Exception:  # pragma: no cover - a bug must cost sentence quality, not the whole document
        return _fallback(text, start, end)


def _clamp(text: str, start: int, end: int | None) -> tuple[int, int]:
    n = len(text)
    start = 0 if start < 0 else n if start > n else start
    end = n if end is None or end > n else start if end < start else end
    return start, end


def _fallback(text: str, start: int, end: int | None) -> list[tuple[int, int]]:
    """The whole range as one sentence: still honours the span contract."""
    try:
        start, end = _clamp(text, int(start or 0), None if end is None else int(end))
        first = _NON_SPACE.search(text, start, end)
        if first is None:
            return []
        return [(first.start(), _rstrip_to(text, first.start(), end))]
    except Exception:
        return []


def _rstrip_to(s: str, lo: int, hi: int) -> int:
    """Largest e <= hi with s[lo:e] not ending in white space (lo if all white space)."""
    while hi > lo and s[hi - 1].isspace():
        hi -= 1
    return hi


def _newline_breaks(s: str, ws_start: int, ws_end: int) -> bool:
    """Whether the white-space run s[ws_start:ws_end] (holding a newline) separates two blocks."""
    if s.count("\n", ws_start, ws_end) >= 2:  # white space only between two newlines: a blank line
        return True
    if ws_end < len(s) and _LINE_BLOCK.match(s, ws_end):
        return True
    line_start = s.rfind("\n", 0, ws_start) + 1
    return _HEADING_LINE.match(s, line_start) is not None


def _is_lower_word(s: str, i: int) -> bool:
    """s[i] starts a lowercase word; "mRNA", "iPhone", "pH" count as capitalised."""
    if not s[i].islower():
        return False
    for ch in s[i + 1 : i + 4]:
        if ch.isupper():
            return False
        if not ch.isalpha():
            break
    return True


def _successor(marker: str) -> str:
    return str(int(marker) + 1) if marker.isdigit() else chr(ord(marker) + 1)


def _split(text: str, start: int, end: int | None, rules: Abbreviations) -> list[tuple[int, int]]:
    start, end = _clamp(text, start, end)
    # Work on the range alone so the context outside it never changes the result.
    s = text if (start == 0 and end == len(text)) else text[start:end]
    n = len(s)
    if n == 0:
        return []
    sent = 0  # first character of the current sentence (never white space)
    if s[0].isspace():
        first = _NON_SPACE.search(s)
        if first is None:
            return []
        sent = first.start()
    spans: list[tuple[int, int]] = []
    abbreviations = rules.kinds

    for m in rules.candidates.finditer(s, sent):
        nxt = m.end()  # first character after the candidate and its white space
        if nxt >= n:
            break  # the last sentence is closed after the loop
        p = m.start()
        if p < sent:
            continue  # inside a citation already attached to the previous sentence
        kind = m.lastindex
        if kind == _PLAIN:
            spans.append((start + sent, start + p + 1))
            sent = nxt
            continue
        cut = -1  # where the current sentence ends if this candidate is a boundary

        if kind == _TERM:
            pe, te = m.span(_TERM)  # end of the punctuation, end of the closers
            if s[nxt].islower() and _is_lower_word(s, nxt):
                pass  # "etc. and", "Yahoo! in", '"Great." she said'
            elif pe == p + 1 and s[p] == ".":
                # Fast path first: the word before the period is a plain word of 4+ letters.
                w = s[p - _TOKEN_WINDOW : p] if p > _TOKEN_WINDOW else s[:p]
                tok = w.rsplit(None, 1)[-1] if w and not w[-1].isspace() else ""
                if len(tok) > 3 and tok not in abbreviations and "." not in tok and tok[0] not in _TOKEN_LEAD:
                    cut = te
                else:
                    cut = _period(s, p, tok, te, nxt, sent, rules)
                    if cut == -2:  # the word before the period is the next item of a list: cut before it
                        nxt = p - len(tok)
                        cut = _rstrip_to(s, sent, nxt)
            elif not _QUESTION_EXCLAMATION.isdisjoint(s[p:pe]):
                cut = te  # "?", "!", "?!", "!!"
            else:
                cut = _ellipsis(s, p, pe, te)
                if cut == -2:  # "word. . . . Next": the period ends it, ". . ." opens the next one
                    cut, nxt = p + 1, p + 2
            if cut >= 0 and s[nxt] == "(":
                # A citation right after the punctuation belongs to the sentence it supports.
                c = _PAREN_CITATION.match(s, nxt)
                if c is not None:
                    j = c.end()
                    if j < n and s[j] in ".!?":
                        j += 1
                    following = _NON_SPACE.search(s, j)
                    if following is None:
                        break
                    if s[j].isspace():
                        cut, nxt = j, following.start()
            if cut < 0 and s.find("\n", te, nxt) >= 0 and _newline_breaks(s, te, nxt):
                cut = te  # "Dr.\n\nSmith": a blank line ends the sentence whatever came before
        elif kind == _NL:
            if _newline_breaks(s, m.start(), nxt):
                cut = _rstrip_to(s, sent, m.start())
        elif kind == _BULLET:
            nxt = m.start()
            cut = _rstrip_to(s, sent, nxt)
        elif kind == _ENUM:
            # "1) The first item 2) The second item": "2)" starts a new sentence.
            marker = _token(s, nxt)
            p = nxt - len(marker)
            mk = _MARKER.match(s, sent) if p > sent else None
            if (
                mk is not None
                and mk.group(3) == ")"
                and (mk.group(1) == "(") == marker.startswith("(")
                and marker.strip("()") == _successor(mk.group(2))
                and not s[mk.end() : p].isspace()
            ):
                cut, nxt = _rstrip_to(s, sent, p), p
        else:  # CJK full stop
            cut = m.end(_CJK)

        if cut >= 0:
            if cut > sent:
                spans.append((start + sent, start + cut))
            sent = nxt

    if sent < n:
        last = _rstrip_to(s, sent, n) if s[n - 1].isspace() else n
        if last > sent:
            spans.append((start + sent, start + last))
    return spans


def _token(s: str, p: int) -> str:
    """The run of non-space characters that ends at s[p] (the word before a period)."""
    w = s[max(0, p - _TOKEN_WINDOW) : p]
    if not w or w[-1].isspace():
        return ""
    return w.rsplit(None, 1)[-1]


def _period(s: str, p: int, raw: str, close_end: int, nxt: int, sent: int, rules: Abbreviations) -> int:
    """Decide a single period at s[p] after the word `raw`; s[nxt] does not start a lowercase word.

    Returns the sentence end (close_end), -1 for no boundary, or -2 when the word before the period is the
    next marker of a list the sentence started with ("1. first item 2. second item").
    """
    tok = raw.lstrip(_TOKEN_LEAD)
    if not tok:
        return close_end
    nc = s[nxt]
    kind = rules.kinds.get(tok)
    if kind == NEVER_ENDS or (kind == BEFORE_NUMBERS and nc.isdigit()):
        return -1
    if len(tok) <= 3 and (tok.isdigit() or len(tok) == 1 or tok in _ROMAN):
        tok_start = p - len(tok)
        # A list marker opening the sentence: "1. The first item", "a. The first item", "• 9. The first item".
        if tok_start - sent < 8 and not s[sent:tok_start].strip(_TOKEN_LEAD + " \t\n"):
            return -1
        if raw == tok and s[tok_start - 1].isspace() and (tok.isdigit() or len(tok) == 1):
            mk = _MARKER.match(s, sent)
            style = ".)" if s.startswith(")", p + 1) else "."
            if (
                mk is not None
                and not mk.group(1)
                and mk.group(3) == style
                and tok == _successor(mk.group(2))
                and not s[mk.end() : tok_start].isspace()  # an item between them, unlike "J. K. Rowling"
            ):
                return -2
    if kind == MAY_END or (len(tok) == 1 and tok.isupper()) or ("." in tok and _DOTTED.fullmatch(tok)):
        # Initials and acronyms: "Jonas E. Smith", "the U.S. Government", but "the U.S. How about you?".
        w = _NEXT_WORD.match(s, nxt)
        word = w.group(1) if w is not None else nc
        if word.isdigit():
            return -1  # "the U.S. 5 million", "Smith et al. (2019) found"
        if word.isalpha():
            return close_end if word in rules.openers else -1
    return close_end


def _ellipsis(s: str, p: int, pe: int, close_end: int) -> int:
    """Decide a run of dots s[p:pe] ("...", "…", ". . .", "....") not followed by a lowercase word."""
    if p > 0 and s[p - 1] in "[(" and s.startswith(("]", ")"), pe):
        return -1  # "[...]" marks an omission inside a quotation
    if s.find(" ", p, pe) >= 0:
        attached = p > 0 and not s[p - 1].isspace()
        if attached and s.startswith(". . . .", p) and pe == p + 7:
            return -2  # "compounds. . . . The practice": the period ends it, ". . ." opens the next one
        if not attached and s.count(".", p, pe) <= 3:
            return -1  # "the thing is . . . I didn't": an omission inside the sentence
    return close_end
