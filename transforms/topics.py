"""Topics: an editable taxonomy (lexicons/topics.yaml) and, on a large enough corpus, NMF-discovered topics.

* Taxonomy topics (`method = 'taxonomy'`) are assigned per document: the score is the share of the document's
  sentences that mention one of the topic's patterns, so 0.4 reads "40 % of the sentences touch this topic".
* Discovered topics (`method = 'discovered'`) come from TF-IDF + NMF (scikit-learn, fixed seed and init, so
  the same corpus gives the same topics) over per-document term counts. They are corpus-level: recomputed on
  every build from the `doc_terms` sketches, which are kept per document so unchanged documents are not re-read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from transforms.claims import sentence_cache_size
from transforms.errors import LexiconError
from transforms.lexicon import lexicon_cache, load_lines, load_yaml

TOPICS_SCHEMA = pa.schema(
    [
        pa.field("topic_id", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
        pa.field("terms", pa.list_(pa.string()), nullable=False),
        pa.field("description", pa.string()),
    ]
)

DOCUMENT_TOPICS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("topic_id", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)

# Internal sketch: the most frequent content words of each document (feeds NMF and focus keywords).
DOC_TERMS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("term", pa.string(), nullable=False),
        pa.field("n", pa.int32(), nullable=False),
    ]
)

TERMS_PER_DOCUMENT = 64


@dataclass(frozen=True, slots=True)
class TaxonomyTopic:
    topic_id: str
    label: str
    description: str
    patterns: tuple[str, ...]
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class TopicSettings:
    min_sentences: int
    max_topics_per_document: int
    discovered_min_documents: int
    discovered_max_topics: int
    discovered_terms: int


@lexicon_cache
def _taxonomy() -> tuple[TopicSettings, tuple[TaxonomyTopic, ...]]:
    data = load_yaml("topics.yaml")
    try:
        st = data.get("settings", {})
        settings = TopicSettings(
            min_sentences=int(st.get("min_sentences", 2)),
            max_topics_per_document=int(st.get("max_topics_per_document", 8)),
            discovered_min_documents=int(st.get("discovered_min_documents", 50)),
            discovered_max_topics=int(st.get("discovered_max_topics", 12)),
            discovered_terms=int(st.get("discovered_terms", 8)),
        )
        topics = []
        for t in data["topics"]:
            pats = tuple(t["patterns"])
            rx = re.compile(r"(?<![\w-])(?:" + "|".join(pats) + r")(?![\w-])", re.IGNORECASE)
            topics.append(TaxonomyTopic(f"tax:{t['id']}", t["label"], t.get("description", ""), pats, rx))
    except (KeyError, TypeError, re.error) as exc:
        raise LexiconError(f"lexicons/topics.yaml is malformed: {exc!r}") from exc
    return settings, tuple(topics)


def topic_settings() -> TopicSettings:
    return _taxonomy()[0]


def taxonomy_table() -> pa.Table:
    _, topics = _taxonomy()
    return pa.Table.from_pylist(
        [
            {
                "topic_id": t.topic_id,
                "label": t.label,
                "method": "taxonomy",
                "terms": list(t.patterns),
                "description": t.description,
            }
            for t in topics
        ],
        schema=TOPICS_SCHEMA,
    )


def assign_taxonomy(document_id: str, text: str, sentence_spans: list[tuple[int, int]]) -> list[dict]:
    """Score each taxonomy topic by the share of sentences that mention it; keep the strong ones, ranked."""
    if not sentence_spans:
        return []
    settings, topics = _taxonomy()
    hits = [0] * len(topics)
    for s, e in sentence_spans:
        for i in sentence_topics(text[s:e]):
            hits[i] += 1
    n = len(sentence_spans)
    scored = sorted(
        ((h / n, topics[i].topic_id) for i, h in enumerate(hits) if h >= settings.min_sentences),
        key=lambda x: (-x[0], x[1]),
    )
    return [
        {
            "document_id": document_id,
            "topic_id": tid,
            "score": round(score, 4),
            "rank": r + 1,
            "method": "taxonomy",
        }
        for r, (score, tid) in enumerate(scored[: settings.max_topics_per_document])
    ]


@lexicon_cache(maxsize=sentence_cache_size())
def sentence_topics(sentence: str) -> tuple[int, ...]:
    """Indexes of the taxonomy topics a sentence mentions (memoised: crawls repeat sentences)."""
    return tuple(i for i, t in enumerate(_taxonomy()[1]) if t.regex.search(sentence))


@lexicon_cache
def _stopwords() -> tuple[str, ...]:
    return tuple(w.lower() for w in load_lines("stopwords.txt"))


def document_terms(documents: pa.Table) -> pa.Table:
    """Top content-word counts per document (DuckDB does the tokenising, in parallel, off the GIL)."""
    con = duckdb.connect()
    try:
        con.register("docs", documents.select(["document_id", "text"]))
        con.register("stop", pa.table({"term": pa.array(_stopwords(), pa.string())}))
        result = con.sql(
            f"""
            WITH toks AS (
                SELECT document_id,
                       regexp_extract_all(regexp_replace(lower(text), '[''’]s\\b', '', 'g'),
                                          '\\pL[\\pL\\pN]*(?:-\\pL+)*') AS t
                FROM docs
            ), unigrams AS (
                SELECT document_id, unnest(t) AS term FROM toks
            ), bigrams AS (
                -- adjacent word pairs ("k shots", "opioid receptors"); pairs with a stop word carry no topic
                SELECT document_id, unnest(list_transform(range(1, len(t)), lambda i: [t[i], t[i + 1]])) AS pair FROM toks
            ), terms AS (
                SELECT document_id, term FROM unigrams
                WHERE length(term) >= 3 AND term NOT IN (SELECT term FROM stop)
                UNION ALL
                SELECT document_id, pair[1] || ' ' || pair[2] FROM bigrams
                WHERE pair[1] NOT IN (SELECT term FROM stop) AND pair[2] NOT IN (SELECT term FROM stop)
                  AND length(pair[2]) >= 3 AND length(pair[1]) >= 1
            ), counts AS (
                SELECT document_id, term, count(*)::INTEGER AS n FROM terms GROUP BY ALL
                HAVING n >= 2 OR strpos(term, ' ') = 0
            )
            SELECT document_id, term, n FROM counts
            QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY n DESC, term) <= {TERMS_PER_DOCUMENT}
            ORDER BY document_id, n DESC, term
            """
        ).to_arrow_table()
    finally:
        con.close()
    return result.cast(DOC_TERMS_SCHEMA)


def _tfidf(doc_terms: pa.Table, min_df: int = 2, max_df_share: float = 0.8):
    """Sparse TF-IDF matrix (documents x terms) from the sketches; rows sorted by document_id."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    con = duckdb.connect()
    try:
        con.register("dt", doc_terms)
        n_docs = con.sql("SELECT count(DISTINCT document_id) FROM dt").fetchall()[0][0]
        rows = con.sql(
            f"""
            WITH df AS (SELECT term, count(*) AS df FROM dt GROUP BY term),
                 vocab AS (SELECT term, row_number() OVER (ORDER BY term) - 1 AS j FROM df
                           WHERE df >= {min_df} AND df <= {max(min_df, int(max_df_share * n_docs))}),
                 docs AS (SELECT document_id, row_number() OVER (ORDER BY document_id) - 1 AS i
                          FROM (SELECT DISTINCT document_id FROM dt))
            SELECT d.i, v.j, dt.n, d.document_id, v.term
            FROM dt JOIN vocab v USING (term) JOIN docs d USING (document_id)
            """
        ).to_arrow_table()
    finally:
        con.close()
    if rows.num_rows == 0:
        return None, [], []
    i = rows["i"].to_numpy()
    j = rows["j"].to_numpy()
    n_rows = int(i.max()) + 1
    n_cols = int(j.max()) + 1
    counts = sparse.csr_matrix((rows["n"].to_numpy().astype(np.float64), (i, j)), shape=(n_rows, n_cols))
    doc_ids = [""] * n_rows
    for ii, d in zip(i.tolist(), rows["document_id"].to_pylist(), strict=True):
        doc_ids[ii] = d
    terms = [""] * n_cols
    for jj, t in zip(j.tolist(), rows["term"].to_pylist(), strict=True):
        terms[jj] = t
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts), doc_ids, terms


def discover_topics(doc_terms: pa.Table) -> tuple[pa.Table, pa.Table]:
    """NMF topics over the corpus, once it has enough documents to support them; empty tables otherwise."""
    settings = topic_settings()
    empty = (TOPICS_SCHEMA.empty_table(), DOCUMENT_TOPICS_SCHEMA.empty_table())
    n_docs = len(set(doc_terms["document_id"].to_pylist())) if doc_terms.num_rows else 0
    if n_docs < settings.discovered_min_documents:
        return empty
    x, doc_ids, terms = _tfidf(doc_terms)
    if x is None or x.shape[1] < 10:
        return empty
    from sklearn.decomposition import NMF

    k = int(min(settings.discovered_max_topics, max(2, n_docs // 25), x.shape[1] // 5))
    model = NMF(n_components=k, init="nndsvd", random_state=0, max_iter=300)
    w = model.fit_transform(x)
    h = model.components_
    topic_rows = []
    for t in range(k):
        top = np.argsort(-h[t], kind="stable")[: settings.discovered_terms]
        top_terms = [terms[j] for j in top if h[t, j] > 0]
        topic_rows.append(
            {
                "topic_id": f"nmf:{t:02d}",
                "label": " / ".join(top_terms[:3]),
                "method": "discovered",
                "terms": top_terms,
                "description": f"NMF component {t} of {k} (TF-IDF over per-document term counts)",
            }
        )
    # Score = the document's share of its total NMF weight; keep components carrying >= 10 % of it.
    totals = w.sum(axis=1, keepdims=True)
    shares = np.divide(w, totals, out=np.zeros_like(w), where=totals > 0)
    dt_rows = []
    for i, doc_id in enumerate(doc_ids):
        order = [t for t in np.argsort(-shares[i], kind="stable") if shares[i, t] >= 0.10]
        for r, t in enumerate(order[:3]):
            dt_rows.append(
                {
                    "document_id": doc_id,
                    "topic_id": f"nmf:{t:02d}",
                    "score": round(float(shares[i, t]), 4),
                    "rank": r + 1,
                    "method": "discovered",
                }
            )
    return (
        pa.Table.from_pylist(topic_rows, schema=TOPICS_SCHEMA),
        pa.Table.from_pylist(dt_rows, schema=DOCUMENT_TOPICS_SCHEMA),
    )


DOCUMENT_KEYWORDS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("keyword", pa.string(), nullable=False),
        pa.field("occurrences", pa.int32(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ]
)


def focus_keywords(doc_terms: pa.Table, min_occurrences: int = 2) -> pa.Table:
    """Each document's focus keyword: its term most over-represented against the corpus (TF-IDF).

    score = (1 + ln n) * ln((N + 1) / (df + 1)); on a one-document corpus every idf is 0 and the most frequent
    term wins, which is all "focus" can mean there.
    """
    con = duckdb.connect()
    try:
        con.register("dt", doc_terms)
        result = con.sql(
            f"""
            WITH df AS (SELECT term, count(*) AS df FROM dt GROUP BY term),
                 total AS (SELECT count(DISTINCT document_id) AS n_docs FROM dt),
                 scored AS (
                    SELECT dt.document_id, dt.term AS keyword, dt.n AS occurrences,
                           round((1 + ln(dt.n)) * ln((total.n_docs + 1.0) / (df.df + 1.0)), 4) AS score
                    FROM dt JOIN df USING (term), total
                    WHERE dt.n >= {int(min_occurrences)}
                 )
            SELECT document_id, keyword, occurrences::INTEGER AS occurrences, score FROM scored
            QUALIFY row_number() OVER (PARTITION BY document_id ORDER BY score DESC, occurrences DESC, keyword) = 1
            ORDER BY document_id
            """
        ).to_arrow_table()
    finally:
        con.close()
    return result.cast(DOCUMENT_KEYWORDS_SCHEMA)
