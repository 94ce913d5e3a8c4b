from __future__ import annotations

import codecs
import importlib.util
import json
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import transforms.formats as formats
from transforms.decode import normalise_text
from transforms.errors import InputRejected
from transforms.formats import HeadingMark, ParsedDoc, ParseResult, RecordRejection, detect_format, parse_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MESSY = FIXTURES / "messy"
NOT_FIXTURES = {"EXPECTED.yaml", ".gitattributes"}


def assert_doc_invariants(doc: ParsedDoc) -> None:
    """What every consumer of ParsedDoc relies on: normalised text and heading marks that index it."""
    text = doc.text
    assert normalise_text(text) == text
    assert doc.format in formats.FORMATS
    if doc.headings is None:
        return
    assert doc.headings == sorted(doc.headings, key=lambda h: h.start)
    for h in doc.headings:
        assert 0 <= h.start <= h.text_start <= h.end <= len(text), h
        assert "\n" not in text[h.start : h.end], h
        assert 1 <= h.level <= 6
        assert text[h.text_start : h.end].strip(), h
        assert not text[h.start].isspace()  # starts where sections.py's stripped line starts
    for a, b in doc.skip:
        assert 0 <= a < b <= len(text)


def only_doc(result: ParseResult) -> ParsedDoc:
    assert result.rejected == []
    assert len(result.docs) == 1
    assert_doc_invariants(result.docs[0])
    return result.docs[0]


def headings(doc: ParsedDoc) -> list[tuple[int, str]]:
    assert doc.headings is not None
    return [(h.level, doc.text[h.text_start : h.end]) for h in doc.headings]


# ------------------------------------------------------------------------------------------ detect_format


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.txt", "txt"),
        ("dir/sub/a.TEXT", "txt"),
        ("a.md", "md"),
        ("a.Markdown", "md"),
        ("a.html", "html"),
        ("A.HTM", "html"),
        ("a.xhtml", "html"),
        ("dump.jsonl", "jsonl"),
        ("dump.ndjson", "jsonl"),
        ("windows\\path\\a.md", "md"),
    ],
)
def test_detect_format_by_extension(name: str, fmt: str) -> None:
    # The extension wins even when the content looks like something else.
    assert detect_format(name, b"<!doctype html><html><body><p>x</p></body></html>") == fmt


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        pytest.param(b"<!DOCTYPE html>\n<html><head></head><body>x</body></html>", "html", id="doctype"),
        pytest.param(b"\n\n  <html lang='en'><body><p>Kratom</p></body></html>", "html", id="html-tag"),
        pytest.param(
            b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml">', "html", id="xhtml"
        ),
        pytest.param(b"<div><h1>Kratom</h1><p>Text</p><p>More</p></div>", "html", id="tag-soup"),
        pytest.param(
            codecs.BOM_UTF16_LE + "<!doctype html><html>".encode("utf-16-le"), "html", id="utf16-html"
        ),
        pytest.param(b'{"id": 1, "text": "Kratom"}\n{"id": 2, "text": "FDA"}\n', "jsonl", id="jsonl"),
        pytest.param(b'{"id": 1, "text": "Kratom is a tree whose le', "jsonl", id="jsonl-cut-short"),
        pytest.param(b"---\ntitle: Kratom\n---\nBody text.\n", "md", id="front-matter"),
        pytest.param(b"Intro line\n\n## What is kratom?\n\nText.\n", "md", id="atx-heading"),
        pytest.param(b"Kratom is a tree.\n\nIt is sold online. #1 seller\n", "txt", id="plain"),
        pytest.param(b"{not json at all\nsecond line\n", "txt", id="brace-prose"),
        pytest.param(b"Dose <5 mg is <b>low</b> says one study.\n", "txt", id="few-tags"),
        pytest.param(b"", "txt", id="empty"),
    ],
)
def test_detect_format_sniffs_extensionless(head: bytes, fmt: str) -> None:
    assert detect_format("crawl/0001", head) == fmt
    assert detect_format("crawl/page.php", head) == fmt  # unknown extension: sniff too


# ----------------------------------------------------------------------------------------------------- txt


def test_txt_is_one_normalised_doc_without_headings() -> None:
    doc = only_doc(
        parse_file(b"What is kratom?\r\nKratom is a tree.\rIt is cafe\xcc\x81 grown.", "notes/a.txt")
    )
    assert doc == ParsedDoc(
        record=None,
        text="What is kratom?\nKratom is a tree.\nIt is café grown.",
        format="txt",
        encoding="utf-8",
        title=None,
        url=None,
        published=None,
        headings=None,
        skip=[],
    )


# ------------------------------------------------------------------------------------------------------ md

MD = """\
---
title: "Kratom: What We Know"
date: 2024-03-18
link: https://example.org/kratom
---
# Kratom overview

Kratom is a tropical tree.

```python
# not a heading
print("## nor this")
```

Subtitle here
-------------

## Side effects ##

- nausea
- constipation

~~~~
# still code
~~~~

  ### Indented three ###<TRAIL>

    # four spaces: indented code, not a heading

#hashtag is not a heading

#

Another title
=============

#### C# basics
""".replace("<TRAIL>", "   ")  # trailing blanks after closing marks, kept out of the source for the linter


def test_md_front_matter_headings_and_code() -> None:
    doc = only_doc(parse_file(MD.encode(), "kratom.md"))
    assert doc.text == MD
    assert (doc.format, doc.record, doc.encoding) == ("md", None, "utf-8")
    assert doc.title == "Kratom: What We Know"
    assert doc.url == "https://example.org/kratom"
    assert doc.published == "2024-03-18"
    assert headings(doc) == [
        (1, "Kratom overview"),
        (2, "Subtitle here"),
        (2, "Side effects"),
        (3, "Indented three"),
        (1, "Another title"),
        (4, "C# basics"),
    ]
    # The heading line starts at its `#` marks; closing marks are not part of the visible text.
    side = doc.headings[2]  # type: ignore[index]
    assert doc.text[side.start : side.end] == "## Side effects"
    # Skipped: front matter, both fenced blocks, and the Setext underlines.
    skipped = [doc.text[a:b] for a, b in doc.skip]
    assert skipped[0].startswith("---\ntitle:") and skipped[0].endswith("---")
    assert any("# not a heading" in s for s in skipped)
    assert any("# still code" in s for s in skipped)
    assert "-------------" in skipped and "=============" in skipped


def test_md_title_falls_back_to_first_h1_without_markup() -> None:
    doc = only_doc(parse_file(b"Intro.\n\n## Sub\n\n# Is **kratom** [safe](http://x)?\n\nText.\n", "a.md"))
    assert doc.title == "Is kratom safe?"
    assert doc.url is None and doc.published is None
    assert doc.skip == []


def test_md_dashes_around_prose_are_not_front_matter() -> None:
    text = "---\nKratom is a tree.\nIt is sold online.\n---\n\n# Heading\n\nBody.\n"
    doc = only_doc(parse_file(text.encode(), "a.md"))
    assert doc.skip == []
    assert doc.title == "Heading"


def test_md_unclosed_fence_runs_to_the_end() -> None:
    doc = only_doc(parse_file(b"# Real\n\nText\n\n```\n# code\n", "a.md"))
    assert headings(doc) == [(1, "Real")]
    assert doc.skip == [(14, len(doc.text))]


def test_md_multiline_paragraph_before_dashes_is_not_setext() -> None:
    doc = only_doc(parse_file(b"Line one of a paragraph\nline two\n---\n\nShort title\n===\n", "a.md"))
    assert headings(doc) == [(1, "Short title")]


# ---------------------------------------------------------------------------------------------------- html

BOILERPLATE_HTML = """<!DOCTYPE html>
<html><head><title>Kratom Risks | Site</title>
<link rel="canonical" href="https://example.org/kratom-risks">
<meta property="article:published_time" content="2023-04-05T10:00:00Z">
<script>var leak = "SCRIPT_TEXT";</script><style>p { color: red } /* STYLE_TEXT */</style></head>
<body>
<div class="cookie-banner">We use cookies. Accept all cookies to continue browsing.</div>
<nav><ul><li><a href="/">Home</a></li><li><a href="/drugs">Drugs A-Z</a></li><li><a href="/news">News</a></li></ul></nav>
<article>
<h1>Kratom Risks</h1>
<p>Kratom is a tropical tree whose leaves contain mitragynine, which binds to opioid receptors in the brain.</p>
<h2>Side effects</h2>
<p>Reported side effects include nausea, constipation, dizziness and, at high doses, seizures.</p>
<h3>Liver injury</h3>
<p>Case reports describe liver injury after several weeks of daily use, usually resolving once kratom is stopped.</p>
<h2>FDA warnings</h2>
<p>The FDA has warned consumers not to use kratom because of the risk of addiction, abuse and dependence.</p>
</article>
<footer><p>Copyright 2024 Example Health. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>"""


def test_html_main_text_as_markdown_with_heading_levels() -> None:
    doc = only_doc(parse_file(BOILERPLATE_HTML.encode(), "page.html"))
    assert doc.format == "html"
    assert headings(doc) == [
        (1, "Kratom Risks"),
        (2, "Side effects"),
        (3, "Liver injury"),
        (2, "FDA warnings"),
    ]
    assert doc.text.startswith("# Kratom Risks\n\nKratom is a tropical tree")
    assert "### Liver injury\n" in doc.text
    for boilerplate in ("cookies", "Drugs A-Z", "Copyright", "Privacy", "SCRIPT_TEXT", "STYLE_TEXT", "color"):
        assert boilerplate not in doc.text
    assert doc.title == "Kratom Risks"
    assert doc.url == "https://example.org/kratom-risks"
    assert doc.published == "2023-04-05"
    assert doc.skip == []


def test_html_h4_to_h6_keep_their_levels() -> None:
    body = "".join(
        f"<h{n}>Level {n}</h{n}><p>Paragraph under the level {n} heading about kratom and withdrawal.</p>"
        for n in range(1, 7)
    )
    doc = only_doc(parse_file(f"<html><body><article>{body}</article></body></html>".encode(), "a.html"))
    assert headings(doc) == [(n, f"Level {n}") for n in range(1, 7)]


def test_short_html_keeps_headings() -> None:
    # Balanced extraction flattens short pages into one paragraph; the recall retry keeps the structure.
    html = b"<html><body><p>Kratom is a plant.</p><h2>Risks</h2><p>Seizures were reported.</p></body></html>"
    doc = only_doc(parse_file(html, "short.html"))
    assert headings(doc) == [(2, "Risks")]
    assert "Seizures were reported." in doc.text


def test_html_declared_charset() -> None:
    html = b'<html><head><meta charset="windows-1252"></head><body><article><h1>Caf\xe9</h1><p>\x93Kratom\x94 \x96 a tree.</p></article></body></html>'
    doc = only_doc(parse_file(html, "a.htm"))
    assert doc.encoding == "cp1252"
    assert headings(doc) == [(1, "Café")]
    assert "“Kratom” – a tree." in doc.text


@pytest.mark.parametrize(
    "html",
    [
        b"<html><head><title>x</title></head><body></body></html>",
        b"<html><head><script>document.write('Kratom is great')</script></head><body>  </body></html>",
    ],
)
def test_html_without_text_is_rejected(html: bytes) -> None:
    with pytest.raises(InputRejected) as info:
        parse_file(html, "blank.html")
    assert info.value.reason == "no_text"


def test_html_entities_are_not_resolved() -> None:
    html = b'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]><html><body><article><p>Kratom &x; and withdrawal symptoms in adults.</p></article></body></html>'
    doc = only_doc(parse_file(html, "x.xhtml"))
    assert "root:" not in doc.text
    assert "Kratom" in doc.text


# --------------------------------------------------------------------------------------------------- jsonl

JSONL = b"""{"id": "a", "url": "https://e.org/a", "title": "A", "date": "2023-06-01", "text": "<h1>Kratom study</h1><p>A survey of adults found many use kratom for withdrawal.</p><h2>Limits</h2><p>The survey relied on self-report.</p>"}
{"id": "b", "link": "https://e.org/b", "content": "# Side effects\\n\\nNausea and constipation.\\r\\n\\n## Risks\\n\\nSeizures."}

{"id": "c", "body": "Plain prose about kratom and the FDA.", "published": "2021-09-30"}
{"id": "d", "text": "cut off
[1, 2, 3]
{"id": "e", "text": "   "}
{"id": "f", "title": "no text"}
{"id": "g", "text": ["not", "a", "string"]}
"""


def test_jsonl_records_and_bad_lines() -> None:
    result = parse_file(JSONL, "dump.jsonl")
    for doc in result.docs:
        assert_doc_invariants(doc)
    assert [d.record for d in result.docs] == ["L1", "L2", "L4"]
    assert {d.format for d in result.docs} == {"jsonl"}
    a, b, c = result.docs
    assert (a.title, a.url, a.published) == ("A", "https://e.org/a", "2023-06-01")
    assert headings(a) == [(1, "Kratom study"), (2, "Limits")]
    assert "<p>" not in a.text
    assert (b.url, b.title) == ("https://e.org/b", "Side effects")
    assert b.text == "# Side effects\n\nNausea and constipation.\n\n## Risks\n\nSeizures."
    assert headings(b) == [(1, "Side effects"), (2, "Risks")]
    assert (c.text, c.headings, c.published, c.title) == (
        "Plain prose about kratom and the FDA.",
        None,
        "2021-09-30",
        None,
    )
    assert [(r.record, r.reason) for r in result.rejected] == [
        ("L5", "invalid_record"),
        ("L6", "invalid_record"),
        ("L7", "empty"),
        ("L8", "invalid_record"),
        ("L9", "invalid_record"),
    ]
    details = {r.record: r.detail for r in result.rejected}
    assert "invalid JSON" in details["L5"]
    assert "array" in details["L6"]
    assert "no text field" in details["L8"]
    assert "not a string" in details["L9"]


def test_jsonl_with_no_usable_line_returns_rejections() -> None:
    result = parse_file(b'{"text": ""}\nnot json\n', "bad.jsonl")
    assert result.docs == []
    assert result.rejected == [
        RecordRejection("L1", "empty", "field 'text' is empty"),
        RecordRejection("L2", "invalid_record", "invalid JSON: Expecting value at column 1"),
    ]


def test_jsonl_lone_surrogate_escapes_become_replacement_chars() -> None:
    result = parse_file(b'{"title": "T\\udc80", "text": "Kratom \\ud800 tea. \\ud83d\\ude00"}\n', "s.jsonl")
    doc = result.docs[0]
    assert doc.text == "Kratom \ufffd tea. \U0001f600"
    assert doc.title == "T\ufffd"
    doc.text.encode("utf-8")  # what batch.py and the Arrow writer do


def test_jsonl_huge_integer_is_a_bad_record() -> None:
    result = parse_file(b'{"n": ' + b"9" * 5000 + b', "text": "x"}\n{"text": "ok"}\n', "n.jsonl")
    assert [d.record for d in result.docs] == ["L2"]
    assert [(r.record, r.reason) for r in result.rejected] == [("L1", "invalid_record")]


def test_jsonl_deeply_nested_line_is_a_bad_record() -> None:
    result = parse_file(b"[" * 100_000 + b"\n" + b'{"text": "Kratom."}\n', "deep.jsonl")
    assert [d.record for d in result.docs] == ["L2"]
    assert [(r.record, r.reason) for r in result.rejected] == [("L1", "invalid_record")]


# ------------------------------------------------------------------------------------------------ size limit


def test_too_large_doc_is_rejected_not_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_DOC_CHARS", 100)
    with pytest.raises(InputRejected) as info:
        parse_file(b"x" * 101, "big.txt")
    assert info.value.reason == "too_large"
    assert "101" in info.value.detail
    only_doc(parse_file(b"x" * 100, "ok.md"))

    result = parse_file(b'{"text": "' + b"y" * 150 + b'"}\n{"text": "short"}\n', "big.jsonl")
    assert [d.record for d in result.docs] == ["L2"]
    assert [(r.record, r.reason) for r in result.rejected] == [("L1", "too_large")]
    assert "150" in result.rejected[0].detail


def test_default_limit() -> None:
    assert formats.MAX_DOC_CHARS == 2_000_000
    assert formats.MAX_DOC_LINES == 50_000
    assert formats.MAX_HTML_MARKUP_CHARS == 1_000_000


@pytest.mark.parametrize("name", ["bullets.txt", "bullets.md", "bullets.jsonl"])
def test_bullet_flood_is_rejected_by_its_line_count(name: str) -> None:
    # 400,000 bullet lines fit in MAX_DOC_CHARS; unguarded, segmenting and labelling them took ~90 s.
    body = "- a\n" * 400_000
    raw = (json.dumps({"text": body}) + "\n").encode() if name.endswith(".jsonl") else body.encode()
    t = time.perf_counter()
    try:
        result = parse_file(raw, name)
    except InputRejected as exc:
        reason, detail = exc.reason, exc.detail
    else:
        assert result.docs == []
        reason, detail = result.rejected[0].reason, result.rejected[0].detail
    assert time.perf_counter() - t < 5
    assert reason == "too_large"
    assert "400,000 lines > limit 50,000" in detail


def test_line_limit_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "MAX_DOC_LINES", 3)
    only_doc(parse_file(b"one\ntwo\nthree\n", "ok.txt"))  # a final newline does not start a fourth line
    with pytest.raises(InputRejected, match="4 lines > limit 3"):
        parse_file(b"one\ntwo\nthree\nfour", "big.txt")


def test_html_markup_limit_is_checked_before_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = formats._trafilatura

    def spy(html: str, *, recall: bool) -> object:
        calls.append(len(html))
        return real(html, recall=recall)

    monkeypatch.setattr(formats, "_trafilatura", spy)
    monkeypatch.setattr(formats, "MAX_HTML_MARKUP_CHARS", 5_000)
    article = (
        "<article><h1>Kratom</h1><p>Kratom is a tree whose leaves are sold as a supplement.</p></article>"
    )
    # Markup past the limit: rejected without trafilatura ever seeing it (which takes minutes at 19 MB).
    flood = "<html><body>" + "<p>Kratom is a tree.</p>" * 300 + article + "</body></html>"
    with pytest.raises(InputRejected) as info:
        parse_file(flood.encode(), "flood.html")
    assert info.value.reason == "too_large"
    assert "without scripts, styles and comments > limit 5,000" in info.value.detail
    assert calls == []
    # The same amount of script, style and comments is not markup: the page goes on to extraction.
    heavy = (
        "<html><head><script>" + "var x = 1;" * 400 + "</script><style>" + "p{}" * 500 + "</style></head>"
        "<body><!-- " + "c" * 5000 + " -->" + article + "</body></html>"
    )
    assert len(heavy) > 10_000
    doc = only_doc(parse_file(heavy.encode(), "heavy.html"))
    assert calls and "Kratom is a tree" in doc.text


@pytest.mark.parametrize(
    ("html", "n"),
    [
        ("<p>a</p>", 0),
        ("<p>a</p><SCRIPT>abc</Script><!-- x --><style>p{}</style>", 20 + 10 + 18),
        ("<p>a</p><script>never closed", 20),
        ("<!-- <script> inside a comment --><p>x</p>", 34),
        ("<script>var s = '<!--';</script><p>x</p>", 32),
    ],
)
def test_script_chars(html: str, n: int) -> None:
    assert formats._script_chars(html) == n


def test_script_chars_is_linear_on_hostile_markup() -> None:
    # A million unclosed openers, or openers of one kind while another never appears: one pass each.
    for html in ("<script" * 1_000_000, "<style></style>" * 500_000, "<!---->x" * 500_000):
        t = time.perf_counter()
        formats._script_chars(html)
        assert time.perf_counter() - t < 5


# ---------------------------------------------------------------------------------------------- properties

_MD_ALPHABET = st.sampled_from(
    [
        "#",
        "# ",
        "## ",
        "=",
        "-",
        "`",
        "~",
        " ",
        "\n",
        "\r\n",
        "a",
        "Kratom",
        ">",
        "1.",
        "\t",
        "é",
        "e\u0301",
        "\u00a0",
        "\f",
        "\r",
        "---\n",
        "```\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_MD_ALPHABET, max_size=60).map("".join))
def test_markdown_marks_always_index_the_text(md: str) -> None:
    try:
        result = parse_file(md.encode(), "fuzz.md")
    except InputRejected as exc:
        assert exc.reason == "empty"
        return
    assert_doc_invariants(only_doc(result))


# ------------------------------------------------------------------------------------------------ fixtures


def _expected() -> dict[str, dict]:
    return yaml.safe_load((MESSY / "EXPECTED.yaml").read_text(encoding="utf-8"))


def test_every_fixture_is_listed() -> None:
    on_disk = {p.name for p in MESSY.iterdir() if p.name not in NOT_FIXTURES}
    assert on_disk == set(_expected())


def test_generated_fixtures_are_current() -> None:
    spec = importlib.util.spec_from_file_location("make_messy", FIXTURES / "make_messy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.build().items():
        assert (MESSY / name).read_bytes() == data, f"{name} is stale: run tests/fixtures/make_messy.py"


@pytest.mark.parametrize("name", sorted(_expected()))
def test_fixture_outcome(name: str) -> None:
    expected = _expected()[name]
    raw = (MESSY / name).read_bytes()
    assert len(raw) < 5_000
    if "duplicate_of" in expected:
        assert raw == (MESSY / expected["duplicate_of"]).read_bytes()
        return
    if "rejected" in expected and expected.get("stage", "parse") in ("parse", "discover"):
        with pytest.raises(InputRejected) as info:
            parse_file(raw, name)
        assert info.value.reason == expected["rejected"]
        return
    result = parse_file(raw, name)
    if (
        "rejected" in expected
    ):  # stage: document - parsed fine, rejected later (tests/flows/test_messy_build.py)
        assert [d.format for d in result.docs] == [detect_format(name, raw)]
        return
    assert len(result.docs) == expected["n_docs"]
    assert len(result.rejected) == expected.get("n_rejected", 0)
    assert [r.record for r in result.rejected] == sorted(expected.get("rejected_records", {}))
    assert [r.reason for r in result.rejected] == [
        expected["rejected_records"][k] for k in sorted(expected.get("rejected_records", {}))
    ]
    for doc in result.docs:
        assert_doc_invariants(doc)
        assert doc.format == expected["format"]
        assert doc.encoding == expected["encoding"]
        assert len(doc.text.split()) >= 20  # real prose survived decoding/extraction
        assert "\ufffd" not in doc.text
        if doc.format == "txt":
            assert doc.headings is None
        if doc.format in ("md", "html"):
            # Markup headings are exactly the expected ones (txt headings are found later, by sections.py).
            assert headings(doc) == [tuple(h) for h in expected["headings"]]


def test_fixture_details() -> None:
    def parse(name: str) -> ParsedDoc:
        return parse_file((MESSY / name).read_bytes(), name).docs[0]

    assert "\r" not in parse("windows_crlf.txt").text
    assert "“natural”" in parse("legacy_cp1252.txt").text and "café" in parse("legacy_cp1252.txt").text
    assert not parse("utf8_bom.txt").text.startswith("\ufeff")
    assert parse("utf16_text.txt").text.startswith("Kratom and Opioid Use Disorder\n")
    page = parse("boilerplate_page.html")
    assert [h.level for h in page.headings or []] == [1, 2, 3, 3, 2]
    for junk in (
        "cookie",
        "Advertisement",
        "Related articles",
        "Copyright",
        "SCRIPT_MUST_NOT_APPEAR",
        "Newsletter",
    ):
        assert junk not in page.text
    assert page.url == "https://health.example.org/kratom-safety"
    md = parse("front_matter.md")
    assert md.title == "Kratom and Opioid Withdrawal: What the Evidence Says"
    assert md.skip and md.text[md.skip[0][0] : md.skip[0][1]].startswith("---\ntitle:")
    assert parse("kratom-fda-warning").title == "FDA Warns About Kratom Products"
    lone_cr = parse("lone_cr_nfd.txt").text
    assert "\r" not in lone_cr and lone_cr.startswith("Kratom at the Café\n\nSome cafés")
    assert "naïve" in lone_cr and "\u0301" not in lone_cr and "\u0308" not in lone_cr  # composed (NFC)
    assert parse("utf16le_nobom.txt").text.startswith("Kratom Tea and Sleep\n")
    levels = parse("headings_h1_h6.html")
    assert (levels.title, levels.url, levels.published) == (
        "Kratom Explained, Level by Level",
        "https://clinic.example.org/kratom-explained",
        "2024-01-09",
    )
    for junk in ("Contact us", "All rights reserved", "Privacy policy"):
        assert junk not in levels.text


def test_heading_mark_fields() -> None:
    # Field order is part of the interface (docs/architecture.md).
    assert HeadingMark(1, 5, 2, 3) == HeadingMark(start=1, end=5, level=2, text_start=3)
