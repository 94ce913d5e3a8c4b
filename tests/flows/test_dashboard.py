"""The static dashboard: written by every successful build, offline, escaped, and rendered by real Chromium.

Browser tests (`-m browser`, run by `make test-dashboard`) drive Debian's chromium over the DevTools protocol
(a websocket on 127.0.0.1): they load the page from a file, wait for every Vega view, read the console and
the requests, and save a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from flows.build import build_flow
from flows.cli import app
from flows.storage import Layout
from tests.conftest import SEEDS

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Article text an attacker controls: a title and sentences carrying markup and script.
HOSTILE = """---
title: "Kratom <script>alert(1)</script> guide"
---
# Kratom <img src=x onerror=alert(2)> facts

Kratom is completely non-addictive <img src=x onerror="window.__xss=1">, according to many users.

Kratom carries a serious risk of dependency <script>window.__xss=2</script> for daily users.

Studies show kratom may relieve pain & anxiety </script><b>fast</b>.
"""
PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    "<img src=x onerror=alert(2)>",
    "</script><b>fast</b>",
]


@pytest.fixture(scope="module")
def seeds_built(tmp_path_factory, prefect_harness) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("dash") / "data"
    return out, build_flow(str(SEEDS), str(out))


@pytest.fixture(scope="module")
def hostile_built(tmp_path_factory, prefect_harness) -> Path:
    src = tmp_path_factory.mktemp("hostile-in")
    for f in SEEDS.iterdir():
        shutil.copy(f, src / f.name)
    (src / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    out = tmp_path_factory.mktemp("hostile") / "data"
    build_flow(str(src), str(out))
    return out


def page_of(out: Path) -> str:
    return (out / "dashboard" / "index.html").read_text(encoding="utf-8")


def specs_of(page: str) -> dict[str, Any]:
    m = re.search(r"^const SPECS = (.*);$", page, re.M)
    assert m, "no chart specs in the page"
    return json.loads(m.group(1))


def sql(out: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(Layout.at(out).warehouse), read_only=True)
    try:
        return con.sql(query).fetchall()
    finally:
        con.close()


def chart_values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline data rows of a (possibly layered) Vega-Lite spec."""
    data = spec.get("data") or next(layer["data"] for layer in spec["layer"] if "data" in layer)
    return data["values"]


# ---------------------------------------------------------------------------------------------- page content


def test_build_writes_a_self_contained_dashboard(seeds_built):
    out, summary = seeds_built
    path = out / "dashboard" / "index.html"
    assert summary.dashboard == str(path) and path.is_file()
    page = page_of(out)
    # Offline: every script is inline, and no src or href leaves the machine.
    assert re.findall(r"<script\b[^>]*>", page) == ["<script>", "<script>"]
    assert not re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "vegaEmbed" in page and "Content-Security-Policy" in page
    specs = specs_of(page)
    for chart_id in (
        "chart-claims-certainty",
        "chart-families",
        "chart-contradictions",
        "chart-scorecards",
        "chart-topics",
        "chart-runs",
        "chart-accuracy",
    ):
        assert chart_id in specs and f'id="{chart_id}"' in page
        assert specs[chart_id]["$schema"].startswith(
            "https://vega.github.io/schema/vega-lite/"
        )  # an id, not fetched
    # The Data Docs link is relative and resolves to the docs of this build.
    href = re.search(r'<a href="([^"]+)">Data Docs</a>', page).group(1)
    assert (
        not href.startswith("/") and (path.parent / href).resolve() == Layout.at(out).data_docs / "index.html"
    )


@pytest.mark.parametrize("limit", [3, 100])
def test_top_contradictions_are_the_views_first_rows(seeds_built, limit):
    """The page's query picks the top pairs before the view's joins; it must list what the view's own top-N does."""
    from flows import dashboard

    out, _ = seeds_built
    query = dashboard.SQL_CONTRADICTIONS.replace(f"LIMIT {dashboard.TOP_CONTRADICTIONS}", f"LIMIT {limit}")
    plain = f"""
        SELECT kind, scope, subject, entity, text_a, text_b,
               coalesce(title_a, source_path_a), coalesce(title_b, source_path_b), n_claim_pairs, n_articles
        FROM contradictions
        ORDER BY scope = 'same_article' DESC, n_claim_pairs DESC NULLS LAST, pair_id LIMIT {limit}"""
    expected = sql(out, plain)
    assert len(expected) == min(limit, sql(out, "SELECT count(*) FROM contradictions")[0][0]) > 0
    assert sql(out, query) == expected


def test_dashboard_numbers_come_from_the_warehouse(seeds_built):
    out, summary = seeds_built
    page = page_of(out)
    specs = specs_of(page)
    by_type = {(r["claim_type"], r["certainty"]): 0 for r in chart_values(specs["chart-claims-certainty"])}
    for r in chart_values(specs["chart-claims-certainty"]):
        by_type[(r["claim_type"], r["certainty"])] += r["claims"]
    assert by_type == {
        (t, c): n for t, c, n in sql(out, "SELECT claim_type, certainty, count(*) FROM claims GROUP BY ALL")
    }
    top = sql(out, "SELECT max(n_members) FROM claim_families")[0][0]
    assert max(r["members"] for r in chart_values(specs["chart-families"])) == top
    n_pairs = sql(out, "SELECT count(*) FROM contradiction_pairs")[0][0]
    assert sum(r["pairs"] for r in chart_values(specs["chart-contradictions"])) == n_pairs
    # Both sentences of a contradiction are on the page, escaped.
    text_a, text_b = sql(out, "SELECT text_a, text_b FROM contradictions ORDER BY pair_id LIMIT 1")[0]
    import html

    assert html.escape(text_a) in page and html.escape(text_b) in page
    docs = {d for (d,) in sql(out, "SELECT document_id FROM documents")}
    assert len({r["article"] for r in chart_values(specs["chart-scorecards"])}) == len(docs)
    assert (
        len(chart_values(specs["chart-topics"]))
        == sql(out, "SELECT count(*) FROM document_topics WHERE method = 'taxonomy'")[0][0]
    )
    # The latest runs include this build, as recorded in the runs view.
    assert summary.run_id in page
    assert {r["run_id"] for r in chart_values(specs["chart-runs"])} == {summary.run_id}


def test_article_text_is_escaped(hostile_built):
    page = page_of(hostile_built)
    for payload in PAYLOADS:
        assert payload not in page, f"unescaped article text in the dashboard: {payload}"
    # The text is shown, not dropped: escaped in the tables ...
    assert "Kratom &lt;script&gt;alert(1)&lt;/script&gt; guide" in page  # title (scorecards)
    assert "non-addictive &lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in page  # a claim's sentence
    # ... and in the chart data, where no value can close the <script> element.
    specs_json = re.search(r"^const SPECS = (.*);$", page, re.M).group(1)
    assert "<" not in specs_json and ">" not in specs_json
    assert "\\u003cscript\\u003ealert(1)" in specs_json
    labels = {r["article"] for r in chart_values(specs_of(page)["chart-scorecards"])}
    assert any("<script>alert(1)</script>" in label for label in labels)  # intact once parsed


def test_dashboard_failure_never_fails_a_validated_build(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "dashboard").write_text("a file where the dashboard folder should be")  # a real fault
    summary = build_flow(str(SEEDS), str(out))
    assert summary.status == "success" and summary.dashboard is None
    assert sql(out, "SELECT status FROM runs")[0][0] == "success"
    assert sql(out, "SELECT count(*) FROM claims")[0][0] > 0


def test_dashboard_command_regenerates_the_page(seeds_built, tmp_path):
    out, _ = seeds_built
    page = out / "dashboard" / "index.html"
    before = page.stat().st_mtime_ns
    result = CliRunner().invoke(app, ["dashboard", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert str(page) in result.output and page.stat().st_mtime_ns > before
    assert specs_of(page_of(out))  # a complete page again
    missing = CliRunner().invoke(app, ["dashboard", "--output", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "no published dataset" in missing.output


# ---------------------------------------------------------------------------------------------- chromium


def chromium_path() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CLAIMSCOPE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (make test-dashboard installs it)")
        pytest.skip("chromium is not installed (make test-dashboard installs it)")
    return path


class DevTools:
    """A minimal Chrome DevTools Protocol client: commands in order, events kept for inspection."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=30)
        self.events: list[dict[str, Any]] = []
        self._id = 0

    def __call__(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        result = self("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def of(self, *methods: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.events if e.get("method") in methods]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser() -> Iterator[DevTools]:
    """Headless chromium with nothing that phones home, on an empty profile, driven on a loopback port."""
    exe = chromium_path()
    profile = tempfile.mkdtemp(prefix="claimscope-chromium-")
    proc = subprocess.Popen(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--window-size=1400,1000",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tools = None
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            assert proc.poll() is None, f"chromium exited ({proc.returncode})"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().splitlines()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools(f"{domain}.enable")
        yield tools
    finally:
        if tools is not None:
            tools.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


CHART_STATE_JS = """JSON.stringify([...document.querySelectorAll('.chart')].map(el => ({
  id: el.id, rendered: el.dataset.rendered === 'true', error: el.dataset.error || null,
  svg: el.querySelectorAll('svg').length,
  marks: el.querySelectorAll('svg .role-mark > path, svg .role-mark > text, svg .role-mark > line').length,
  rects: el.querySelectorAll('svg .mark-rect.role-mark > path').length})))"""


def open_dashboard(tools: DevTools, out: Path) -> list[dict[str, Any]]:
    """Load the page from its file and wait until every chart has rendered or failed."""
    tools("Page.navigate", url=(out / "dashboard" / "index.html").as_uri())
    deadline = time.monotonic() + 90
    while True:
        state = json.loads(tools.evaluate(CHART_STATE_JS) or "[]")
        if state and all(c["rendered"] or c["error"] for c in state):
            return state
        assert time.monotonic() < deadline, f"charts did not render: {state}"
        time.sleep(0.2)


def console_errors(tools: DevTools) -> list[str]:
    errors = [json.dumps(p)[:300] for p in tools.of("Runtime.exceptionThrown")]
    errors += [
        " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
        for p in tools.of("Runtime.consoleAPICalled")
        if p["type"] in ("error", "assert")
    ]
    errors += [p["entry"]["text"] for p in tools.of("Log.entryAdded") if p["entry"]["level"] == "error"]
    return errors


def screenshot(tools: DevTools, path: Path) -> Path:
    size = tools("Page.getLayoutMetrics")["cssContentSize"]
    shot = tools(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.mark.browser
def test_dashboard_renders_in_chromium(seeds_built, browser, tmp_path):
    out, _ = seeds_built
    state = open_dashboard(browser, out)
    specs = specs_of(page_of(out))
    assert {c["id"] for c in state} == set(specs)
    for chart in state:
        assert chart["error"] is None and chart["rendered"], chart
        assert chart["svg"] == 1 and chart["marks"] > 0, f"{chart['id']} drew nothing: {chart}"
    # One bar per (claim type, certainty) group: the chart shows the data, not just axes.
    groups = sql(out, "SELECT count(*) FROM (SELECT DISTINCT claim_type, certainty FROM claims)")[0][0]
    assert next(c for c in state if c["id"] == "chart-claims-certainty")["rects"] == groups
    assert console_errors(browser) == []
    urls = [p["request"]["url"] for p in browser.of("Network.requestWillBeSent")]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls  # nothing left the machine
    text = browser.evaluate("document.body.innerText")
    for heading in (
        "Claims by type and certainty",
        "Biggest claim families",
        "Contradictions",
        "Article scorecards",
        "Topic coverage per article",
        "Latest runs",
    ):
        assert heading in text
    png = screenshot(browser, tmp_path / "dashboard.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    if target := os.environ.get("CLAIMSCOPE_SCREENSHOT"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, target)


@pytest.mark.browser
def test_hostile_article_runs_no_script_in_chromium(hostile_built, browser):
    state = open_dashboard(browser, hostile_built)
    assert all(c["rendered"] for c in state), state
    assert browser.of("Page.javascriptDialogOpening") == []  # alert() never ran
    assert browser.evaluate("typeof window.__xss") == "undefined"
    # No element from the article's markup exists (the page's own <b>s are in the header only).
    assert browser.evaluate("document.querySelectorAll('img, [onerror], main b').length") == 0
    assert browser.evaluate("document.scripts.length") == 2  # the bundle and the chart specs
    text = browser.evaluate("document.body.innerText")
    assert "<script>alert(1)</script>" in text  # shown as text
    assert console_errors(browser) == []


def test_run_artifacts_link_the_data_docs_and_the_dashboard(seeds_built):
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    out, summary = seeds_built
    flow_run_id = sql(out, "SELECT flow_run_id FROM runs")[0][0]
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(flow_run_id)]))
        )
    by_key = {a.key: a for a in arts}
    assert {"build-summary", "build-row-counts", "build-dashboard"} <= set(by_key)
    docs = (Layout.at(out).data_docs / "index.html").as_uri()
    assert f"]({docs})" in by_key["build-summary"].data
    assert (out / "dashboard" / "index.html").as_uri() in by_key["build-dashboard"].data
    table = by_key["build-row-counts"].data
    rows = json.loads(table) if isinstance(table, str) else table
    assert {r["table"]: r["rows"] for r in rows} == summary.rows
