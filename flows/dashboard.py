"""The dashboard: one self-contained HTML page over the published warehouse, rewritten by every build.

Why a static page rather than a Streamlit app: it opens from a file with no server, no port and no network
(Vega, Vega-Lite and Vega-Embed are inlined), can be copied, attached or served by any web server, and is
always in step with the published dataset because the build that publishes a version also writes its page.
The data changes once per build, so a live app would add a long-running process and nothing else.

The page lives at `<output>/dashboard/index.html`. Charts are Altair (Vega-Lite) specs rendered as SVG in
the browser. Every value taken from the data (article text, titles, paths, error messages) is escaped with
`html.escape` in tables, and the chart JSON has `<`, `>` and `&` escaped, so no article can inject markup or
close the `<script>` element its chart data sits in.
"""

from __future__ import annotations

import html
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import altair as alt
import duckdb

from flows import storage
from flows.storage import Layout

log = logging.getLogger("claimscope")

TOP_FAMILIES = 15
TOP_ARTICLES = 40  # articles in the scorecard and topic heat maps (the views hold them all)
TOP_CONTRADICTIONS = 100
LATEST_RUNS = 20
# The page's queries are top-N lists that spill past this: it runs inside the build process after validation,
# so its DuckDB budget adds to the build's peak. Measured on the 100k benchmark output: the same page in 6.9 s
# and 428 MB max RSS (7.3 s and 302 MB at 128 MB; 6.7 s and 664 MB at the pipeline's 512 MB). 256 MB leaves
# headroom for corpora with more distinct families than the benchmark's.
DASHBOARD_MEMORY_LIMIT = "256MB"

# ---------------------------------------------------------------------------------------------- queries
# Aggregates and top-N lists only: the page stays small however large the corpus is.

SQL_HEADLINE = """
SELECT (SELECT count(*) FROM documents) AS documents,
       (SELECT count(*) FROM claims) AS claims,
       -- from the members table, not the claim_families view: the view's list aggregates over every claim
       -- ran out of the dashboard's 512 MB at 100k articles (the page was then not generated at all)
       (SELECT count(*) FROM (SELECT family_id FROM claim_family_members GROUP BY ALL HAVING count(*) > 1))
           AS families,
       (SELECT count(*) FROM contradiction_pairs) AS contradictions,
       (SELECT count(*) FROM rejected_inputs) AS rejected_inputs
"""

SQL_CLAIMS_BY_TYPE = """
SELECT coalesce(claim_type, 'none') AS claim_type, certainty, evidence, count(*) AS claims
FROM claims GROUP BY ALL ORDER BY ALL
"""

SQL_FAMILIES = f"""
SELECT family_id, representative_text, n_members, n_articles, claim_type, subject, n_hedged, n_negated, stance
FROM claim_families
ORDER BY n_members DESC, n_articles DESC, family_id
LIMIT {TOP_FAMILIES}
"""

# The top pairs are picked before the view's joins to the claims' texts (a semi join DuckDB pushes down): at
# 100k articles that is 0.5 s in 128 MB, where the view's own ORDER BY ... LIMIT took 1.7 s in 512 MB and ran
# out of memory in 128 MB.
CONTRADICTIONS_ORDER = "scope = 'same_article' DESC, n_claim_pairs DESC NULLS LAST, pair_id"
SQL_CONTRADICTIONS = f"""
WITH top AS (
    SELECT pair_id FROM contradiction_pairs ORDER BY {CONTRADICTIONS_ORDER} LIMIT {TOP_CONTRADICTIONS}
)
SELECT kind, scope, subject, entity, text_a, text_b,
       coalesce(title_a, source_path_a) AS article_a, coalesce(title_b, source_path_b) AS article_b,
       n_claim_pairs, n_articles
FROM contradictions SEMI JOIN top USING (pair_id)
ORDER BY {CONTRADICTIONS_ORDER}
"""

SQL_CONTRADICTION_COUNTS = """
WITH p AS (SELECT coalesce(entity, subject, '?') AS entity, kind, scope FROM contradiction_pairs),
top AS (SELECT entity FROM p GROUP BY entity ORDER BY count(*) DESC, entity LIMIT 20)
SELECT CASE WHEN entity IN (SELECT entity FROM top) THEN entity ELSE '(other)' END AS entity, kind, scope,
       count(*) AS pairs
FROM p GROUP BY ALL ORDER BY ALL
"""

SQL_SCORECARDS = f"""
SELECT document_id, source_path, coalesce(nullif(title, ''), source_path) AS title, n_claims, n_efficacy_claims,
       efficacy_hedged_share, efficacy_no_evidence, efficacy_unnamed_research_only, efficacy_named_source,
       risk_statements, risk_denials, anecdotal_claims, consult_professional_advice, contradictions,
       cross_article_contradictions, focus_keyword
FROM article_scorecards
ORDER BY n_claims DESC, document_id
LIMIT {TOP_ARTICLES}
"""

SQL_TOPICS = """
SELECT dt.document_id, t.label AS topic, dt.score, dt.rank
FROM document_topics dt JOIN topics t USING (topic_id)
WHERE dt.method = 'taxonomy' AND list_contains($ids, dt.document_id)
ORDER BY dt.document_id, dt.rank
"""

SQL_RUNS = f"""
SELECT run_id, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, strftime(finished_at, '%Y-%m-%d %H:%M:%S') AS finished,
       status, files_discovered, files_accepted, files_partial, files_rejected, validation_success, suites_run,
       expectations_failed, accuracy_passed, step_seconds['total'] AS seconds, error, data_docs
FROM runs
ORDER BY started_at DESC
LIMIT {LATEST_RUNS}
"""

SQL_RUN_STEPS = f"""
WITH r AS (SELECT run_id, started_at, status, step_seconds FROM runs ORDER BY started_at DESC LIMIT {LATEST_RUNS})
SELECT run_id, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, status, s.key AS step, s.value AS seconds
FROM r, unnest(map_entries(step_seconds)) AS u(s)
WHERE s.key <> 'total' AND s.key NOT LIKE '%.%'
ORDER BY started_at, step
"""

SQL_ACCURACY = "SELECT metric, value, threshold, passed FROM extractor_accuracy ORDER BY metric"

SCORECARD_METRICS = {
    "efficacy_no_evidence": "efficacy, no evidence",
    "efficacy_unnamed_research_only": "efficacy, unnamed research",
    "efficacy_named_source": "efficacy, named source",
    "risk_statements": "risk statements",
    "risk_denials": "risk denials",
    "anecdotal_claims": "anecdotal",
    "consult_professional_advice": "consult a professional",
    "contradictions": "contradictions (same article)",
    "cross_article_contradictions": "contradictions (across articles)",
}
STATUS_COLORS = {
    "success": "#2e7d32",
    "validation_failed": "#ef6c00",
    "failed": "#c62828",
    "running": "#757575",
}


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or {})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# ---------------------------------------------------------------------------------------------- charts


def _short(text: str | None, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def _article_labels(cards: list[dict[str, Any]]) -> dict[str, str]:
    """document_id -> a short, unique axis label (titles repeat across a crawl)."""
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for c in cards:
        label = _short(c["title"], 48)
        if label in seen:
            label = f"{_short(c['title'], 38)} [{c['document_id'][:6]}]"
        seen.add(label)
        labels[c["document_id"]] = label
    return labels


def _chart_claims(rows: list[dict[str, Any]]) -> tuple[alt.Chart, alt.Chart]:
    data = alt.Data(values=rows)
    base = alt.Chart(data).encode(
        y=alt.Y("claim_type:N", title=None, sort="-x"),
        x=alt.X("sum(claims):Q", title="claims"),
    )
    certainty = (
        base.mark_bar()
        .encode(
            color=alt.Color("certainty:N", title="certainty"),
            tooltip=["claim_type:N", "certainty:N", alt.Tooltip("sum(claims):Q", title="claims")],
        )
        .properties(width=380, height=alt.Step(22), title="Claims by type and certainty")
    )
    evidence = (
        base.mark_bar()
        .encode(
            color=alt.Color("evidence:N", title="evidence", scale=alt.Scale(scheme="tableau10")),
            tooltip=["claim_type:N", "evidence:N", alt.Tooltip("sum(claims):Q", title="claims")],
        )
        .properties(width=380, height=alt.Step(22), title="Claims by type and evidence")
    )
    return certainty, evidence


def _chart_families(rows: list[dict[str, Any]]) -> alt.Chart:
    values = [
        {
            "family": f"{i + 1}. {_short(r['representative_text'], 70)}",
            "text": _short(r["representative_text"], 300),
            "members": r["n_members"],
            "articles": r["n_articles"],
            "claim_type": r["claim_type"],
        }
        for i, r in enumerate(rows)
    ]
    return (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            y=alt.Y("family:N", title=None, sort=None, axis=alt.Axis(labelLimit=460)),
            x=alt.X("members:Q", title="claims in the family"),
            color=alt.Color("claim_type:N", title="claim type"),
            tooltip=["text:N", "members:Q", "articles:Q", "claim_type:N"],
        )
        .properties(width=320, height=alt.Step(22), title=f"The {len(values)} biggest claim families")
    )


def _chart_contradictions(rows: list[dict[str, Any]]) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            y=alt.Y("entity:N", title=None, sort="-x"),
            x=alt.X("sum(pairs):Q", title="contradicting pairs"),
            color=alt.Color("kind:N", title="kind"),
            row=alt.Row("scope:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=["entity:N", "kind:N", "scope:N", alt.Tooltip("sum(pairs):Q", title="pairs")],
        )
        .properties(width=380, height=alt.Step(20))
        .resolve_scale(y="independent")
    )


def _heatmap(
    values: list[dict[str, Any]],
    x: str,
    x_title: str | None,
    value: str,
    value_title: str,
    title: str,
    x_sort: Sequence[str] | None,
    y_sort: Sequence[str],
    fmt: str,
) -> alt.LayerChart:
    base = alt.Chart(alt.Data(values=values)).encode(
        x=alt.X(
            f"{x}:N",
            title=x_title,
            sort=list(x_sort) if x_sort else "ascending",
            axis=alt.Axis(labelAngle=-35, labelLimit=200),
        ),
        y=alt.Y("article:N", title=None, sort=list(y_sort), axis=alt.Axis(labelLimit=340)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", title=value_title, scale=alt.Scale(scheme="blues")),
        tooltip=["article:N", f"{x}:N", alt.Tooltip(f"{value}:Q", title=value_title, format=fmt)],
    )
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text(f"{value}:Q", format=fmt),
        color=alt.condition(f"datum.{value} > 0", alt.value("black"), alt.value("#bbb")),
    )
    return (rect + text).properties(width=alt.Step(44), height=alt.Step(20), title=title)


def _chart_scorecards(cards: list[dict[str, Any]], labels: dict[str, str]) -> alt.LayerChart:
    values = [
        {"article": labels[c["document_id"]], "metric": name, "count": c[col] or 0}
        for c in cards
        for col, name in SCORECARD_METRICS.items()
    ]
    return _heatmap(
        values,
        "metric",
        None,
        "count",
        "count",
        "How each article argues (counts of claims)",
        list(SCORECARD_METRICS.values()),
        list(labels.values()),
        "d",
    )


def _chart_topics(rows: list[dict[str, Any]], labels: dict[str, str]) -> alt.LayerChart:
    values = [{"article": labels[r["document_id"]], "topic": r["topic"], "score": r["score"]} for r in rows]
    return _heatmap(
        values,
        "topic",
        None,
        "score",
        "share",
        "Topic coverage per article (taxonomy)",
        None,
        list(labels.values()),
        ".2f",
    )


def _chart_runs(rows: list[dict[str, Any]]) -> alt.Chart:
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_bar()
        .encode(
            x=alt.X("run_id:N", title="run (started, UTC)", sort="ascending", axis=alt.Axis(labelAngle=-35)),
            y=alt.Y("sum(seconds):Q", title="seconds"),
            color=alt.Color("step:N", title="step"),
            tooltip=["run_id:N", "started:N", "status:N", "step:N", alt.Tooltip("seconds:Q", format=".2f")],
        )
        .properties(width=alt.Step(36), height=220, title="Duration of each step, latest runs")
    )


def _chart_accuracy(rows: list[dict[str, Any]]) -> alt.LayerChart:
    values = [
        {
            "metric": r["metric"],
            "value": r["value"],
            "threshold": r["threshold"],
            "result": "no threshold"
            if r["passed"] is None
            else ("passed" if r["passed"] else "below threshold"),
        }
        for r in rows
    ]
    base = alt.Chart(alt.Data(values=values)).encode(y=alt.Y("metric:N", title=None))
    bars = base.mark_bar().encode(
        x=alt.X("value:Q", title="score on the embedded gold set", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "result:N",
            title=None,
            scale=alt.Scale(
                domain=["passed", "below threshold", "no threshold"], range=["#2e7d32", "#c62828", "#90a4ae"]
            ),
        ),
        tooltip=[
            "metric:N",
            alt.Tooltip("value:Q", format=".4f"),
            alt.Tooltip("threshold:Q", format=".2f"),
            "result:N",
        ],
    )
    ticks = base.mark_tick(color="black", thickness=2).encode(x="threshold:Q")
    return (bars + ticks).properties(
        width=380, height=alt.Step(18), title="Extractor accuracy (latest build)"
    )


# ---------------------------------------------------------------------------------------------- html


def _e(value: Any) -> str:
    """Every value from the data goes through here before it reaches the page."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}"
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _script_json(obj: Any) -> str:
    """JSON that is safe inside <script>: no value can close the element or open a comment."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


def javascript_bundle(cache_dir: Path | None = None) -> str:
    """Vega + Vega-Lite + Vega-Embed as one script (vl-convert bundles it offline; ~3 s, so it is cached)."""
    import vl_convert as vlc
    from altair.utils._importers import vl_version_for_vl_convert

    vl_version = vl_version_for_vl_convert()
    cached = cache_dir / f".vega-bundle-{vlc.__version__}-{vl_version}.js" if cache_dir else None
    if cached is not None and cached.is_file():
        return cached.read_text(encoding="utf-8")
    bundle = vlc.javascript_bundle(vl_version=vl_version)
    bundle = bundle.replace("</script", "<\\/script").replace(
        "<!--", "<\\!--"
    )  # cannot end the element early
    if cached is not None:
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(bundle, encoding="utf-8")
        os.replace(tmp, cached)
    return bundle


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #1d2327; background: #f6f7f9; }
header { background: #12355b; color: #fff; padding: 16px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header a { color: #cfe3ff; }
main { padding: 8px 28px 40px; max-width: 1500px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 14px 18px; margin: 16px 0; }
h2 { font-size: 18px; margin: 0 0 10px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 0; }
.kpi { background: rgba(255,255,255,.12); border-radius: 4px; padding: 6px 12px; }
.kpi b { display: block; font-size: 20px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.chart { min-height: 60px; overflow-x: auto; max-width: 100%; }
.scroll { max-height: 460px; overflow: auto; margin-top: 10px; border: 1px solid #eceff2; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #eceff2; }
th { position: sticky; top: 0; background: #f0f2f5; }
td.num, th.num { text-align: right; }
.contradictions td:nth-child(5), .contradictions td:nth-child(6) { min-width: 280px; }
.status-success { color: #2e7d32; font-weight: 600; }
.status-failed, .status-validation_failed { color: #c62828; font-weight: 600; }
.note { color: #5f6b76; font-size: 12px; }
.empty { color: #5f6b76; font-style: italic; }
"""

EMBED_JS = """
for (const [id, spec] of Object.entries(SPECS)) {
  const el = document.getElementById(id);
  vegaEmbed(el, spec, {renderer: "svg", actions: false})
    .then(() => { el.dataset.rendered = "true"; })
    .catch((err) => { el.dataset.error = String(err); console.error("chart " + id + " failed: " + err); });
}
"""


@dataclass
class Dashboard:
    path: Path
    charts: list[str]
    n_bytes: int


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def render(
    con: duckdb.DuckDBPyConnection, *, version: str | None, data_docs: str | None, bundle: str
) -> tuple[str, list[str]]:
    """The page's HTML and the ids of its charts."""
    specs: dict[str, dict[str, Any]] = {}

    def chart(chart_id: str, ch: alt.TopLevelMixin) -> str:
        specs[chart_id] = ch.to_dict()
        return f'<div class="chart" id="{chart_id}"></div>'

    head = _rows(con, SQL_HEADLINE)[0]
    by_type = _rows(con, SQL_CLAIMS_BY_TYPE)
    families = _rows(con, SQL_FAMILIES)
    contradictions = _rows(con, SQL_CONTRADICTIONS)
    contradiction_counts = _rows(con, SQL_CONTRADICTION_COUNTS)
    cards = _rows(con, SQL_SCORECARDS)
    labels = _article_labels(cards)
    topics = _rows(con, SQL_TOPICS, {"ids": list(labels)}) if labels else []
    runs = _rows(con, SQL_RUNS)
    steps = _rows(con, SQL_RUN_STEPS)
    accuracy = _rows(con, SQL_ACCURACY)

    sections: list[str] = []

    if by_type:
        certainty, evidence = _chart_claims(by_type)
        body = f'<div class="charts">{chart("chart-claims-certainty", certainty)}{chart("chart-claims-evidence", evidence)}</div>'
    else:
        body = '<p class="empty">No claims in this dataset.</p>'
    sections.append(_section("Claims by type and certainty", body, "claims"))

    if families:
        table = _table(
            [
                "#",
                "representative claim",
                "claims",
                "articles",
                "type",
                "subject",
                "hedged",
                "negated",
                "stance",
            ],
            [
                [
                    i + 1,
                    f["representative_text"],
                    f["n_members"],
                    f["n_articles"],
                    f["claim_type"],
                    f["subject"],
                    f["n_hedged"],
                    f["n_negated"],
                    f["stance"],
                ]
                for i, f in enumerate(families)
            ],
        )
        body = chart("chart-families", _chart_families(families)) + table
    else:
        body = '<p class="empty">No claim families.</p>'
    sections.append(_section("Biggest claim families", body, "families"))

    if contradictions:
        table = _table(
            ["kind", "scope", "subject", "about", "sentence A", "sentence B", "article A", "article B"],
            [
                [
                    c["kind"],
                    c["scope"],
                    c["subject"],
                    c["entity"],
                    c["text_a"],
                    c["text_b"],
                    c["article_a"],
                    c["article_b"],
                ]
                for c in contradictions
            ],
            cls="contradictions",
        )
        shown = (
            f"{len(contradictions)} of {head['contradictions']}"
            if head["contradictions"] > len(contradictions)
            else "all"
        )
        body = (
            chart("chart-contradictions", _chart_contradictions(contradiction_counts))
            + f'<p class="note">Pairs of claims that disagree about the same subject ({shown} shown; the '
            "<code>contradictions</code> view has every pair with offsets).</p>" + table
        )
    else:
        body = '<p class="empty">No contradictions found.</p>'
    sections.append(_section("Contradictions", body, "contradictions"))

    if cards:
        table = _table(
            [
                "article",
                "source",
                "claims",
                "efficacy claims",
                "efficacy hedged share",
                "no evidence",
                "unnamed research",
                "named source",
                "risk statements",
                "risk denials",
                "contradictions",
                "focus keyword",
            ],
            [
                [
                    c["title"],
                    c["source_path"],
                    c["n_claims"],
                    c["n_efficacy_claims"],
                    c["efficacy_hedged_share"],
                    c["efficacy_no_evidence"],
                    c["efficacy_unnamed_research_only"],
                    c["efficacy_named_source"],
                    c["risk_statements"],
                    c["risk_denials"],
                    c["contradictions"],
                    c["focus_keyword"],
                ]
                for c in cards
            ],
        )
        more = (
            f" (the {len(cards)} articles with the most claims; all are in <code>article_scorecards</code>)"
            if len(cards) == TOP_ARTICLES
            else ""
        )
        body = (
            chart("chart-scorecards", _chart_scorecards(cards, labels))
            + f'<p class="note">One row per article{more}.</p>'
            + table
        )
        sections.append(_section("Article scorecards", body, "scorecards"))
        topic_body = (
            chart("chart-topics", _chart_topics(topics, labels))
            if topics
            else '<p class="empty">No taxonomy topics matched.</p>'
        )
        sections.append(_section("Topic coverage per article", topic_body, "topics"))
    else:
        sections.append(_section("Article scorecards", '<p class="empty">No articles.</p>', "scorecards"))

    run_rows = []
    for r in runs:
        validation = (
            "" if r["validation_success"] is None else ("passed" if r["validation_success"] else "FAILED")
        )
        if r["suites_run"] is not None:
            validation += f" ({r['suites_run']} suites, {r['expectations_failed']} failed)"
        run_rows.append(
            [
                r["run_id"],
                r["started"],
                r["finished"],
                r["status"],
                r["files_discovered"],
                r["files_accepted"],
                r["files_partial"],
                r["files_rejected"],
                validation.strip(),
                "" if r["accuracy_passed"] is None else ("passed" if r["accuracy_passed"] else "FAILED"),
                None if r["seconds"] is None else round(r["seconds"], 1),
                _short(r["error"], 300),
            ]
        )
    runs_table = _table(
        [
            "run",
            "started (UTC)",
            "finished (UTC)",
            "status",
            "files",
            "accepted",
            "partial",
            "rejected",
            "validation",
            "accuracy",
            "seconds",
            "error",
        ],
        run_rows,
        cls="runs",
    )
    body = '<div class="charts">'
    if steps:
        body += chart("chart-runs", _chart_runs(steps))
    if accuracy:
        body += chart("chart-accuracy", _chart_accuracy(accuracy))
    body += "</div>" + runs_table
    sections.append(_section("Latest runs", body, "runs"))

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    docs_link = f' · <a href="{_e(data_docs)}">Data Docs</a>' if data_docs else ""
    kpis = "".join(
        f'<div class="kpi"><b>{_e(f"{head[k]:,}")}</b>{_e(label)}</div>'
        for k, label in (
            ("documents", "articles"),
            ("claims", "claims"),
            ("families", "claim families (2+ claims)"),
            ("contradictions", "contradicting pairs"),
            ("rejected_inputs", "rejected inputs"),
        )
    )
    nav = " · ".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("claims", "claims"),
            ("families", "families"),
            ("contradictions", "contradictions"),
            ("scorecards", "scorecards"),
            ("topics", "topics"),
            ("runs", "runs"),
        )
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'">
<title>claimscope dashboard</title>
<style>{CSS}</style>
<script>{bundle}</script>
</head>
<body>
<header>
<h1>claimscope dashboard</h1>
<div>version <code>{_e(version)}</code> · generated {_e(generated)}{docs_link} · {nav}</div>
<div class="kpis">{kpis}</div>
</header>
<main>
{"".join(sections)}
<p class="note">Generated by <code>claimscope</code> from <code>warehouse.duckdb</code>; query the views for everything behind these charts.</p>
</main>
<script>
const SPECS = {_script_json(specs)};
{EMBED_JS}
</script>
</body>
</html>
"""
    return page, list(specs)


def write_dashboard(layout: Layout) -> Dashboard:
    """Regenerate `<output>/dashboard/index.html` from the published warehouse (read-only connection)."""
    out_dir = layout.root / "dashboard"
    out_dir.mkdir(parents=True, exist_ok=True)
    version = layout.published_version()
    docs = layout.data_docs / "index.html"
    bundle = javascript_bundle(out_dir)
    layout.staging.mkdir(parents=True, exist_ok=True)
    # A private spill folder, removed afterwards: a build's clean-up only ever sees it while it is in use.
    with tempfile.TemporaryDirectory(
        prefix="dashboard-spill-", dir=layout.staging, ignore_cleanup_errors=True
    ) as spill:
        con = storage.connect_readonly(layout, spill_dir=Path(spill), memory_limit=DASHBOARD_MEMORY_LIMIT)
        try:
            page, charts = render(
                con,
                version=version.name if version else None,
                data_docs=os.path.relpath(docs, out_dir) if docs.exists() else None,
                bundle=bundle,
            )
        finally:
            con.close()
    final = out_dir / "index.html"
    tmp = out_dir / f".index.html.{os.getpid()}.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, final)  # a browser reloading the page never sees half of it
    return Dashboard(final, charts, final.stat().st_size)
