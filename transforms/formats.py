"""Input file bytes -> parsed documents (txt, Markdown, HTML, JSON lines). Pure: nothing is fetched or run.

Every `ParsedDoc.text` is normalised text (decode.normalise_text) and every offset indexes it:
* txt   — the decoded text; headings are left to transforms/sections.py (`headings=None`).
* md    — the Markdown source itself; YAML front matter is metadata and a `skip` range; ATX/Setext headings.
* html  — the main text extracted by trafilatura, rendered as Markdown (headings keep their `#` marks), then
          parsed like md. Boilerplate (nav, footer, banners) is trafilatura's job; scripts never reach the text.
* jsonl — one article per line; each record's text is parsed as html, md or txt depending on its content.
"""

from __future__ import annotations

import bisect
import codecs
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from transforms.decode import decode_bytes, normalise_text
from transforms.errors import InputRejected

MAX_DOC_CHARS = 2_000_000
# Lines per document: an article has hundreds; a million bullet lines is a dump. Counting is a C-level scan,
# and it bounds the per-line Python work of section detection (~0.3 s for 50,000 lines).
MAX_DOC_LINES = 50_000
# Raw HTML may be mostly scripts and styles, which lxml drops cheaply (5 MB of script: 0.2 s) ...
MAX_HTML_SOURCE_FACTOR = 10
# ... but the markup left after them costs trafilatura superlinear time (measured on a busy 2-core box: 2 MB
# of <p> 3.8 s, 4 MB 12.7 s, 19 MB over 300 s; 1 MB of <li> 8 s idle), so it is measured with str.find before
# trafilatura ever sees the page.
MAX_HTML_MARKUP_CHARS = 1_000_000
# Above this many characters of HTML, skip trafilatura's second-opinion extractors (readability/justext).
FAST_HTML_CHARS = 1_000_000
# Only pages this small get a second, recall-oriented extraction when the first finds nothing.
RECALL_RETRY_CHARS = 512_000
# Front matter must close within this many characters of the top, or it is not front matter.
MAX_FRONT_MATTER_CHARS = 64 * 1024
SNIFF_BYTES = 64 * 1024
FORMATS = ("txt", "md", "html", "jsonl")

_EXTENSIONS = {
    "txt": "txt",
    "text": "txt",
    "md": "md",
    "markdown": "md",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
}

# Date metadata only from markup (meta tags, JSON-LD, <time>): htmldate's free-text scan is slow on big pages
# and guesses. A fixed max_date keeps the result a function of the bytes alone, not of today's date.
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "max_date": "2100-12-31"}


@dataclass(frozen=True, slots=True)
class HeadingMark:
    """A heading line: `text[start:end]`; its visible text is `text[text_start:end]` (after the `#` marks)."""

    start: int
    end: int
    level: int
    text_start: int


@dataclass(slots=True)
class ParsedDoc:
    record: str | None  # None for one-article files; "L<line>" for JSON lines
    text: str
    format: str  # txt | md | html | jsonl (the file's format)
    encoding: str
    title: str | None
    url: str | None
    published: str | None
    headings: list[HeadingMark] | None  # None: plain text, sections.py finds headings itself
    skip: list[tuple[int, int]] = field(default_factory=list)  # ranges that are not prose


@dataclass(frozen=True, slots=True)
class RecordRejection:
    record: str
    reason: str
    detail: str


@dataclass(slots=True)
class ParseResult:
    docs: list[ParsedDoc]
    rejected: list[RecordRejection]


# --------------------------------------------------------------------------------------------- detection

# Block-level/common tags: enough to tell markup from prose that merely contains "<5 mg".
_HTML_TAG = re.compile(
    r"<(?:!doctype\s+html|/?(?:html|head|body|article|main|section|header|footer|nav|div|p|h[1-6]|ul|ol|li|"
    r"table|tr|td|th|blockquote|br|span|a|img|figure|strong|em|meta|link|script|style|title)\b[^<>]*)>",
    re.IGNORECASE,
)
_HTML_BLOCK = re.compile(
    r"<(?:!doctype\s+html|/?(?:html|body|article|main|section|div|p|h[1-6]|ul|ol|li|table|blockquote|br)\b[^<>]*)>",
    re.IGNORECASE,
)
_HTML_HEADING = re.compile(r"<h[1-6]\b", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)

# CommonMark ATX heading: up to 3 spaces, 1-6 #, then a space/tab or the end of the line.
_ATX = re.compile(r"^[ ]{0,3}(#{1,6})(?=[ \t]|$)([^\n]*)$", re.MULTILINE)
_ATX_CLOSING = re.compile(r"(?:^|\s+)#+$")
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})([^\n]*)$", re.MULTILINE)
_SETEXT_UNDERLINE = re.compile(r"^[ ]{0,3}(=+|-+)[ \t]*$", re.MULTILINE)
_NOT_PARAGRAPH = re.compile(r"[ ]{0,3}(?:[-*+][ \t]|\d{1,9}[.)][ \t]|>|\||<|#|`{3}|~{3}|=+[ \t]*$|-+[ \t]*$)")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$", re.MULTILINE | re.DOTALL)
# Setext headings longer than this are paragraphs followed by a separator in practice.
_MAX_SETEXT_CHARS = 200

_MD_INLINE = re.compile(r"\*+|__|`|\\(?=[^\w\s])")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def detect_format(name: str, head: bytes) -> str:
    """txt | md | html | jsonl: by extension first, else by sniffing the first bytes of the content."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if dot and stem and ext.lower() in _EXTENSIONS:
        return _EXTENSIONS[ext.lower()]
    return _sniff(_head_text(head[:SNIFF_BYTES]))


def _head_text(head: bytes) -> str:
    """Lenient decode of a file's first bytes, only for sniffing (the real decode is decode_bytes)."""
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(enc, errors="ignore")
    if b"\x00" in head[:512]:
        # BOM-less UTF-16: mostly-ASCII text has its NULs on one side.
        even, odd = head[0:512:2].count(0), head[1:512:2].count(0)
        enc = "utf-16-le" if odd > even else "utf-16-be"
        return head[: len(head) // 2 * 2].decode(enc, errors="ignore")
    return head.decode("utf-8", errors="replace")


def _sniff(text: str) -> str:
    s = text.lstrip("\ufeff \t\r\n").replace("\r\n", "\n").replace("\r", "\n")
    low = s[:1024].lower()
    if low.startswith(("<!doctype html", "<html")) or (low.startswith("<?xml") and "<html" in low):
        return "html"
    if s.startswith("{"):
        lines = [ln for ln in s.split("\n") if ln.strip()][:3]
        # The last sniffed line may be cut short by the head limit: accept one that opens like a record.
        if lines and all(
            _is_json_object(ln) or (i == len(lines) - 1 and ln.startswith('{"')) for i, ln in enumerate(lines)
        ):
            return "jsonl"
    if s.startswith("---") and _FRONT_MATTER.match(s[:MAX_FRONT_MATTER_CHARS]):
        return "md"
    if any(m.group(2).strip() for m in _ATX.finditer(s)):
        return "md"
    if s.startswith("<") and len(_HTML_TAG.findall(s[:8192])) >= 3:
        return "html"
    if len(_HTML_BLOCK.findall(s[:8192])) >= 10:
        return "html"
    return "txt"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


# ------------------------------------------------------------------------------------------------ parsing


def parse_file(raw: bytes, name: str) -> ParseResult:
    """Decode and parse one input file. Raises InputRejected when the whole file is unusable."""
    fmt = detect_format(name, raw[:SNIFF_BYTES])
    declared = None
    if fmt == "html":
        m = _META_CHARSET.search(raw[:4096])
        declared = m.group(1).decode("ascii") if m else None
    decoded = decode_bytes(raw, declared=declared)
    text, encoding = decoded.text, decoded.encoding

    if fmt == "jsonl":
        return _parse_jsonl(text, encoding)
    if fmt == "html":
        doc = _parse_html(text, encoding, None, "html")
    else:
        _check_size(text)
        doc = (
            _parse_md(text, encoding, None, "md") if fmt == "md" else _parse_txt(text, encoding, None, "txt")
        )
    return ParseResult(docs=[doc], rejected=[])


def _check_size(text: str, what: str = "text") -> None:
    """Reject before any per-line or per-sentence work: both counts are C-level scans."""
    if len(text) > MAX_DOC_CHARS:
        raise InputRejected("too_large", f"{what} is {len(text):,} chars > limit {MAX_DOC_CHARS:,}")
    n_lines = text.count("\n") + (not text.endswith("\n"))
    if n_lines > MAX_DOC_LINES:
        raise InputRejected("too_large", f"{what} has {n_lines:,} lines > limit {MAX_DOC_LINES:,}")


def _parse_txt(text: str, encoding: str, record: str | None, fmt: str) -> ParsedDoc:
    return ParsedDoc(record, text, fmt, encoding, None, None, None, None, [])


def _parse_md(
    text: str, encoding: str, record: str | None, fmt: str, *, front_matter: bool = True
) -> ParsedDoc:
    meta: dict[str, str] = {}
    skip: list[tuple[int, int]] = []
    if front_matter:
        fm = _front_matter(text)
        if fm is not None:
            end, meta = fm
            skip.append((0, end))
    headings, more_skip = _markdown_headings(text, skip)
    skip = sorted(skip + more_skip)
    title = meta.get("title")
    if title is None:
        h1 = next((h for h in headings if h.level == 1), None)
        title = clean_inline(text[h1.text_start : h1.end]) if h1 else None
    return ParsedDoc(
        record, text, fmt, encoding, title or None, meta.get("url"), meta.get("published"), headings, skip
    )


def _front_matter(text: str) -> tuple[int, dict[str, str]] | None:
    """YAML between `---` lines at the very top -> (end offset, metadata). Not YAML mapping -> not front matter."""
    if not text.startswith("---"):
        return None
    m = _FRONT_MATTER.match(text[:MAX_FRONT_MATTER_CHARS])
    if m is None:
        return None
    try:
        data = yaml.safe_load(m.group(1))
    except (yaml.YAMLError, RecursionError):
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None  # e.g. a thematic break, prose, then another break
    meta: dict[str, str] = {}
    lowered = {str(k).lower(): v for k, v in data.items()}
    for key, names in (
        ("title", ("title",)),
        ("url", ("url", "link", "canonical", "canonical_url", "permalink")),
        ("published", ("published", "date", "pubdate", "published_at")),
    ):
        for n in names:
            value = _scalar(lowered.get(n))
            if value:
                meta[key] = value
                break
    return m.end(), meta


def _scalar(value: Any) -> str | None:
    """Only plain scalars become metadata: never walk nested (possibly alias-bombed) YAML structures."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return _meta_str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _markdown_headings(
    text: str, skip: list[tuple[int, int]]
) -> tuple[list[HeadingMark], list[tuple[int, int]]]:
    """ATX and one-line Setext headings outside front matter and fenced code -> (headings, extra skip ranges).

    Extra skip ranges are the fenced code blocks and the Setext underlines (neither is prose)."""
    fences = _fenced_blocks(text, skip)
    blocked = sorted(skip + fences)
    starts = [a for a, _ in blocked]

    def is_blocked(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and blocked[i][0] <= pos < blocked[i][1]

    headings: list[HeadingMark] = []
    atx_lines: set[int] = set()  # line starts of ATX headings (a Setext check needs them)
    for m in _ATX.finditer(text):
        pos = m.start(1)
        if is_blocked(pos):
            continue
        rest = m.group(2)
        content = rest.strip()
        closing = _ATX_CLOSING.search(content)
        if closing is not None:
            content = content[: closing.start()].rstrip()
        atx_lines.add(m.start())
        if not content:
            continue  # "#" alone: an empty heading names nothing
        text_start = m.end(1) + len(rest) - len(rest.lstrip())
        headings.append(HeadingMark(pos, text_start + len(content), len(m.group(1)), text_start))

    underlines: list[tuple[int, int]] = []
    for m in _SETEXT_UNDERLINE.finditer(text):
        ul = m.start()
        if ul == 0 or is_blocked(ul):
            continue
        prev_start = text.rfind("\n", 0, ul - 1) + 1
        line = text[prev_start : ul - 1]
        stripped = line.strip()
        if (
            not stripped
            or len(stripped) > _MAX_SETEXT_CHARS
            or len(line) - len(line.lstrip(" ")) > 3
            or is_blocked(prev_start)
            or prev_start in atx_lines
            or _NOT_PARAGRAPH.match(line)
        ):
            continue
        if prev_start > 0:
            # One-line paragraphs only: the line above must be blank, a heading or a non-prose block.
            pp_start = text.rfind("\n", 0, prev_start - 1) + 1
            if (
                text[pp_start : prev_start - 1].strip()
                and pp_start not in atx_lines
                and not is_blocked(pp_start)
            ):
                continue
        start = prev_start + len(line) - len(line.lstrip())
        level = 1 if m.group(1)[0] == "=" else 2
        headings.append(HeadingMark(start, start + len(stripped), level, start))
        underlines.append((ul, m.end()))
    headings.sort(key=lambda h: h.start)
    return headings, fences + underlines


def _fenced_blocks(text: str, skip: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges of ``` / ~~~ fenced code blocks (opening line to closing line; unclosed runs to the end)."""
    out: list[tuple[int, int]] = []
    skip_end = max((b for _, b in skip), default=0)
    opening: re.Match[str] | None = None
    for m in _FENCE.finditer(text):
        if m.start() < skip_end:
            continue
        marker = m.group(1)
        if opening is None:
            if marker[0] == "`" and "`" in m.group(2):
                continue  # a backtick fence's info string cannot hold backticks (it is inline code)
            opening = m
        elif (
            marker[0] == opening.group(1)[0]
            and len(marker) >= len(opening.group(1))
            and not m.group(2).strip()
        ):
            out.append((opening.start(), m.end()))
            opening = None
    if opening is not None:
        out.append((opening.start(), len(text)))
    return out


def clean_inline(s: str) -> str | None:
    """Markdown inline marks out of a title or heading (display text only; offsets never point into it)."""
    s = _MD_LINK.sub(r"\1", s)
    s = _MD_INLINE.sub("", s)
    s = " ".join(s.split())
    return s or None


# ------------------------------------------------------------------------------------------------- HTML


def _parse_html(html: str, encoding: str, record: str | None, fmt: str) -> ParsedDoc:
    limit = MAX_DOC_CHARS * MAX_HTML_SOURCE_FACTOR
    if len(html) > limit:
        raise InputRejected("too_large", f"HTML is {len(html):,} chars > limit {limit:,}")
    markup = len(html) - _script_chars(html)
    if markup > MAX_HTML_MARKUP_CHARS:
        raise InputRejected(
            "too_large",
            f"HTML is {markup:,} chars without scripts, styles and comments > limit {MAX_HTML_MARKUP_CHARS:,}",
        )
    if "<html" not in html[:2048].lower():
        # trafilatura rejects a bare fragment (one top-level element) as "not HTML": give it a document.
        html = f"<html><body>{html}</body></html>"
    small = len(html) <= RECALL_RETRY_CHARS
    # A JSON record's text is the article body already: nothing to strip, so favour recall from the start.
    doc = _trafilatura(html, recall=record is not None)
    if (
        record is None
        and small
        and (not _has_text(doc) or (not _has_headings(doc) and _HTML_HEADING.search(html)))
    ):
        # On short pages trafilatura's balanced mode falls back to a flat baseline dump that loses the
        # headings (or finds nothing): the recall mode keeps the structure.
        retry = _trafilatura(html, recall=True)
        if _has_text(retry) and (not _has_text(doc) or _has_headings(retry)):
            doc = retry
    if not _has_text(doc):
        raise InputRejected("no_text", f"no main text found in {len(html):,} chars of HTML")
    text = normalise_text(doc.text)
    _check_size(text, "extracted text")
    # Front matter is off: the extracted text never has any, and a leading <hr> must not start one.
    parsed = _parse_md(text, encoding, record, fmt, front_matter=False)
    parsed.title = _meta_str(doc.title) or parsed.title
    parsed.url = _meta_str(doc.url)
    parsed.published = _meta_str(doc.date)
    return parsed


_RAW_BLOCKS = (("<script", "</script"), ("<style", "</style"), ("<!--", "-->"))


def _script_chars(html: str) -> int:
    """Characters inside <script>, <style> and comments. Linear: every str.find only moves forward (the next
    opening of each kind is cached until passed), and an unclosed block runs to the end, as an HTML parser reads
    it, so a page of a million "<script" cannot go quadratic."""
    low = html.lower()
    n = len(low)
    nxt = [low.find(open_) for open_, _ in _RAW_BLOCKS]
    total = 0
    pos = 0
    while True:
        for k, (open_, _) in enumerate(_RAW_BLOCKS):
            if 0 <= nxt[k] < pos:
                nxt[k] = low.find(open_, pos)
        live = [(i, k) for k, i in enumerate(nxt) if i >= 0]
        if not live:
            return total
        start, k = min(live)
        end = low.find(_RAW_BLOCKS[k][1], start + len(_RAW_BLOCKS[k][0]))
        if end < 0:
            end = n
        elif _RAW_BLOCKS[k][1].endswith(">"):
            end += len(_RAW_BLOCKS[k][1])
        else:  # "</script ...>": through the end of the closing tag
            gt = low.find(">", end)
            end = n if gt < 0 else gt + 1
        total += end - start
        pos = end


def _trafilatura(html: str, *, recall: bool) -> Any:
    # Imported lazily: trafilatura pulls in lxml, htmldate, justext (~0.5 s); txt/md runs never need it.
    from trafilatura import bare_extraction

    return bare_extraction(
        html,
        url=None,  # never a URL: nothing is resolved or fetched
        fast=len(html) > FAST_HTML_CHARS,
        favor_recall=recall,
        include_comments=False,  # reader comments are not the article
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=True,  # Markdown output: headings keep their `#` marks
        deduplicate=False,  # trafilatura's dedup cache is global state: results would depend on call order
        with_metadata=True,
        date_extraction_params=dict(_DATE_PARAMS),
    )


def _has_text(doc: Any) -> bool:
    return doc is not None and bool((doc.text or "").strip())


def _has_headings(doc: Any) -> bool:
    return doc.body is not None and doc.body.find(".//head") is not None


def _meta_str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(_no_surrogates(value).split()) or None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_surrogates(s: str) -> str:
    """JSON "\\ud800" escapes decode to lone surrogates, which no UTF-8 writer accepts: make them U+FFFD."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", s)
    return s


# ---------------------------------------------------------------------------------------------- JSON lines

_TEXT_KEYS = ("text", "content", "body")
_URL_KEYS = ("url", "link")
_DATE_KEYS = ("published", "date")
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _parse_jsonl(text: str, encoding: str) -> ParseResult:
    docs: list[ParsedDoc] = []
    rejected: list[RecordRejection] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        record = f"L{lineno}"
        try:
            docs.append(_parse_record(line, record, encoding))
        except InputRejected as exc:
            rejected.append(RecordRejection(record, exc.reason, exc.detail))
    return ParseResult(docs=docs, rejected=rejected)


def _parse_record(line: str, record: str, encoding: str) -> ParsedDoc:
    try:
        obj = json.loads(line.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise InputRejected("invalid_record", f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise InputRejected("invalid_record", "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal past Python's 4300-digit limit
        raise InputRejected("invalid_record", f"invalid JSON: {str(exc)[:80]}") from None
    if not isinstance(obj, dict):
        raise InputRejected("invalid_record", f"not a JSON object but {_json_type(obj)}")
    key = next((k for k in _TEXT_KEYS if obj.get(k) is not None), None)
    if key is None:
        raise InputRejected("invalid_record", "no text field (text, content or body)")
    value = obj[key]
    if not isinstance(value, str):
        raise InputRejected("invalid_record", f"field {key!r} is {_json_type(value)}, not a string")
    body = normalise_text(_no_surrogates(value))
    if not body.strip():
        raise InputRejected("empty", f"field {key!r} is empty")

    if _HTML_BLOCK.search(body):
        doc = _parse_html(body, encoding, record, "jsonl")
    else:
        _check_size(body)
        has_headings = any(m.group(2).strip() for m in _ATX.finditer(body))
        # Front matter is metadata of a file, not of a record: off here.
        doc = (
            _parse_md(body, encoding, record, "jsonl", front_matter=False)
            if has_headings
            else _parse_txt(body, encoding, record, "jsonl")
        )
    # The record's own fields are explicit metadata: they win over anything extracted from the text.
    doc.title = _meta_str(obj.get("title")) or doc.title
    doc.url = next((u for k in _URL_KEYS if (u := _meta_str(obj.get(k)))), None) or doc.url
    doc.published = next((d for k in _DATE_KEYS if (d := _meta_str(obj.get(k)))), None) or doc.published
    return doc


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
