"""Topics: an editable taxonomy (lexicons/topics.yaml) and, on a large enough corpus, NMF-discovered topics.

* Taxonomy topics (`method = 'taxonomy'`) are assigned per document: the score is the share of the document's
  sentences that mention one of the topic's patterns, so 0.4 reads "40 % of the sentences touch this topic".
* Discovered topics (`method = 'discovered'`) come from TF-IDF + NMF (scikit-learn, fixed seed and init, so
  the same corpus gives the same topics) over per-document term counts. They are corpus-level: recomputed on
  every build from the `doc_terms` sketches, which are kept per document so unchanged documents are not re-read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from transforms.claims import sentence_cache_size
from transforms.errors import LexiconError
from transforms.lexicon import lexicon_cache, load_lines, load_yaml
from transforms.regexset import MultiScan, lower_for_twins, twin

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


# A topic pattern matches whole words: not after a word character or hyphen, not followed by one (the one-pass
# scanner takes the same two pieces).
_TOPIC_GUARD, _TOPIC_END = r"[\w-]", r"(?![\w-])"


@dataclass(frozen=True, slots=True)
class TaxonomyTopic:
    topic_id: str
    label: str
    description: str
    patterns: tuple[str, ...]
    regex: re.Pattern[str]
    twin: re.Pattern[str] | None  # scans lower-cased text 2-3x faster (regexset.twin)


@dataclass(frozen=True, slots=True)
class TopicSettings:
    min_sentences: int
    max_topics_per_document: int
    discovered_min_documents: int
    discovered_max_topics: int
    discovered_terms: int
    discovered_fit_documents: int


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
            discovered_fit_documents=int(st.get("discovered_fit_documents", 20_000)),
        )
        topics = []
        for t in data["topics"]:
            pats = tuple(t["patterns"])
            rx = re.compile(f"(?<!{_TOPIC_GUARD})(?:" + "|".join(pats) + f"){_TOPIC_END}", re.IGNORECASE)
            topics.append(
                TaxonomyTopic(
                    f"tax:{t['id']}",
                    t["label"],
                    t.get("description", ""),
                    pats,
                    rx,
                    twin(rx.pattern, rx.flags),
                )
            )
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


@lexicon_cache
def _topic_scanner() -> MultiScan:
    """Every taxonomy topic's twin in one pass (regexset.MultiScan): one search per topic was 12 % of the batch
    transform with the sentence cache off (py-spy, 300 generated articles)."""
    return MultiScan([t.patterns for t in _taxonomy()[1]], _TOPIC_GUARD, _TOPIC_END)


def _mentions(t: TaxonomyTopic, sentence: str, low: str | None) -> bool:
    return bool(t.twin.search(low) if t.twin is not None and low is not None else t.regex.search(sentence))


@lexicon_cache(maxsize=sentence_cache_size())
def sentence_topics(sentence: str) -> tuple[int, ...]:
    """Indexes of the taxonomy topics a sentence mentions (memoised: crawls repeat sentences)."""
    topics = _taxonomy()[1]
    low = lower_for_twins(sentence)
    scanner = _topic_scanner()
    if low is None or scanner.pattern is None:
        return tuple(i for i, t in enumerate(topics) if _mentions(t, sentence, low))
    spans = scanner.spans(low)
    return tuple(
        i
        for i, (t, k) in enumerate(zip(topics, scanner.slot, strict=True))
        if (bool(spans[k]) if k is not None else _mentions(t, sentence, low))
    )


@lexicon_cache
def _stopwords() -> tuple[str, ...]:
    return tuple(w.lower() for w in load_lines("stopwords.txt"))


def document_terms(documents: pa.Table, threads: int | None = None) -> pa.Table:
    """Top content-word counts per document (DuckDB does the tokenising, on its own threads; its scan of the
    registered Arrow table still takes the GIL, so a Python thread beside it slows it down).

    `threads` caps DuckDB's threads (a Dask worker passes its own share of the cores); None is DuckDB's default.
    """
    con = duckdb.connect()
    try:
        if threads is not None:
            con.execute(f"SET threads = {max(1, int(threads))}")
        n_threads = int(con.sql("SELECT current_setting('threads')").fetchall()[0][0])
        docs = documents.select(["document_id", "text"])
        if n_threads > 1 and docs.num_rows > 1:
            # DuckDB scans an Arrow table one record batch per thread: a batch's documents arrive as one, so its
            # tokenising ran on one core (500 articles: 0.19 s; in two record batches 0.14 s, same rows).
            docs = pa.Table.from_batches(
                docs.combine_chunks().to_batches(max_chunksize=-(-docs.num_rows // n_threads))
            )
        con.register("docs", docs)
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
                -- adjacent word pairs ("k shots", "opioid receptors"); pairs with a stop word carry no topic.
                -- Two unnests in one SELECT are zipped: each word beside the next, without building a list per
                -- pair (list_transform with a lambda made the whole query about 15 % slower).
                -- DuckDB slices are 1-based and inclusive: t[:-2] is every word but the last, t[2:] all but the first.
                SELECT document_id, unnest(t[:-2]) AS a, unnest(t[2:]) AS b FROM toks
            ), terms AS (
                SELECT document_id, term FROM unigrams
                WHERE length(term) >= 3 AND term NOT IN (SELECT term FROM stop)
                UNION ALL
                SELECT document_id, a || ' ' || b FROM bigrams
                WHERE a NOT IN (SELECT term FROM stop) AND b NOT IN (SELECT term FROM stop)
                  AND length(b) >= 3 AND length(a) >= 1
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


@contextmanager
def _doc_terms_connection(
    source: pa.Table | duckdb.DuckDBPyConnection,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with a `doc_terms` relation: the caller's (its view over the staged Parquet, under its memory
    limit) or a private one over an Arrow table."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        yield source
        return
    con = duckdb.connect()
    try:
        con.register("doc_terms", source)
        yield con
    finally:
        con.close()


def _counts(triplets: pa.Table, n_rows: int, n_terms: int, row0: int = 0):
    from scipy import sparse

    i = triplets["i"].to_numpy() - row0
    return sparse.csr_matrix(
        (triplets["n"].to_numpy().astype(np.float64), (i, triplets["j"].to_numpy())), shape=(n_rows, n_terms)
    )


def _fit_documents(con: duckdb.DuckDBPyConnection, n_docs: int, fit_documents: int) -> None:
    """`_tfidf_docs`: every document, numbered in document_id order, flagged `fit` when it is in the sample the
    model is fitted on: every document when they number at most `fit_documents`, else that many, picked by the
    hash of the id (the same corpus gives the same sample, and no run of ids is favoured)."""
    sample = (
        "true"
        if n_docs <= fit_documents
        else f"document_id IN (SELECT document_id FROM _d ORDER BY md5(document_id), document_id LIMIT {fit_documents})"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _tfidf_docs AS
        WITH _d AS (SELECT DISTINCT document_id FROM doc_terms)
        SELECT document_id, (row_number() OVER (ORDER BY document_id) - 1)::INTEGER AS i, {sample} AS fit FROM _d
        """
    )


def _tfidf(
    con: duckdb.DuckDBPyConnection,
    n_docs: int,
    fit_documents: int,
    min_df: int = 2,
    max_df_share: float = 0.8,
):
    """The fit sample's TF-IDF matrix (rows in document_id order), the fitted weighting, and the vocabulary.

    The vocabulary and the IDF come from the sample (`_fit_documents`), so memory is bounded by the sample, not by
    the corpus. Only integer triplets cross into Python (one row per document-term pair: 6.4M at 100k articles);
    ids and terms come once each, so memory is not proportional to the pairs times their strings.
    """
    from sklearn.feature_extraction.text import TfidfTransformer

    _fit_documents(con, n_docs, fit_documents)
    n_fit = con.sql("SELECT count(*) FROM _tfidf_docs WHERE fit").fetchall()[0][0]
    max_df = max(min_df, int(max_df_share * n_fit))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _tfidf_vocab AS
        SELECT term, (row_number() OVER (ORDER BY term) - 1)::INTEGER AS j
        FROM (SELECT term, count(*) AS df FROM doc_terms SEMI JOIN (SELECT document_id FROM _tfidf_docs WHERE fit)
              USING (document_id) GROUP BY term)
        WHERE df >= {min_df} AND df <= {max_df}
        """
    )
    terms = con.sql("SELECT term FROM _tfidf_vocab ORDER BY j").to_arrow_table()["term"].to_pylist()
    triplets = con.sql(
        """
        SELECT d.i, v.j, t.n
        FROM doc_terms t JOIN _tfidf_vocab v USING (term)
        JOIN (SELECT document_id, (row_number() OVER (ORDER BY i) - 1)::INTEGER AS i FROM _tfidf_docs WHERE fit) d
          USING (document_id)
        """
    ).to_arrow_table()
    if triplets.num_rows == 0:
        return None, None, terms
    weighting = TfidfTransformer(sublinear_tf=True)
    x = weighting.fit_transform(_counts(triplets, n_fit, len(terms)))
    return x, weighting, terms


def _document_blocks(
    con: duckdb.DuckDBPyConnection, n_docs: int, n_terms: int, weighting, block: int
) -> Iterator[tuple]:
    """(document ids, TF-IDF rows) for every document, `block` documents at a time, in document_id order. The
    triplets are joined once into a temp table of integers (spilling under DuckDB's memory limit), which each
    block scans: sorting it first cost more memory than the scans save."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _tfidf_all AS
        SELECT d.i, v.j, t.n FROM doc_terms t JOIN _tfidf_vocab v USING (term) JOIN _tfidf_docs d USING (document_id)
        """
    )
    for lo in range(0, n_docs, block):
        hi = min(n_docs, lo + block)
        ids = con.sql(
            f"SELECT document_id FROM _tfidf_docs WHERE i >= {lo} AND i < {hi} ORDER BY i"
        ).to_arrow_table()
        triplets = con.sql(f"SELECT i, j, n FROM _tfidf_all WHERE i >= {lo} AND i < {hi}").to_arrow_table()
        yield ids["document_id"], weighting.transform(_counts(triplets, hi - lo, n_terms, lo))


def _assign(w: np.ndarray, doc_ids: pa.Array, topic_names: pa.Array) -> pa.Table:
    """Score = the document's share of its total NMF weight; keep (up to three) components carrying >= 10 % of
    it. Vectorised over documents rather than a Python dict per row (300k rows at 100k articles)."""
    totals = w.sum(axis=1, keepdims=True)
    shares = np.divide(w, totals, out=np.zeros_like(w), where=totals > 0)
    order = np.argsort(-shares, axis=1, kind="stable")[:, :3]
    top = np.take_along_axis(shares, order, axis=1)
    keep = top >= 0.10  # shares are sorted per row, so kept ranks are always 1..r
    doc_idx, rank_idx = np.nonzero(keep)
    topic_idx = order[doc_idx, rank_idx]
    return pa.table(
        {
            "document_id": doc_ids.take(pa.array(doc_idx)),
            "topic_id": topic_names.take(pa.array(topic_idx)),
            "score": pa.array(np.round(top[doc_idx, rank_idx], 4)),
            "rank": pa.array(rank_idx + 1, pa.int32()),
            "method": pa.array(["discovered"] * len(doc_idx), pa.string()),
        }
    ).cast(DOCUMENT_TOPICS_SCHEMA)


def discover_topics(
    source: pa.Table | duckdb.DuckDBPyConnection, fit_documents: int | None = None
) -> tuple[pa.Table, pa.Table]:
    """NMF topics over the corpus, once it has enough documents to support them; empty tables otherwise.

    `source` is the `doc_terms` table, or a DuckDB connection with a `doc_terms` view (the build's way: the
    sketches then stay in DuckDB, under its memory limit, rather than in Python).

    On a corpus of more than `fit_documents` (topics.yaml `discovered_fit_documents`) documents, the vocabulary,
    weighting and topics are fitted on a sample of that many, and every document is then scored against those
    topics a block at a time: memory no longer grows with the corpus (at 300k articles the whole-corpus fit took
    +847 MB, this +389 MB, most of it DuckDB's, under its limit). A smaller corpus is fitted whole, as before.
    """
    settings = topic_settings()
    fit_documents = fit_documents or settings.discovered_fit_documents
    empty = (TOPICS_SCHEMA.empty_table(), DOCUMENT_TOPICS_SCHEMA.empty_table())
    with _doc_terms_connection(source) as con:
        n_docs = con.sql("SELECT count(DISTINCT document_id) FROM doc_terms").fetchall()[0][0]
        if n_docs < settings.discovered_min_documents:
            return empty
        try:
            x, weighting, terms = _tfidf(con, n_docs, fit_documents)
            if x is None or x.shape[1] < 10:
                return empty
            from sklearn.decomposition import NMF

            n_fit = x.shape[0]
            k = int(min(settings.discovered_max_topics, max(2, n_fit // 25), x.shape[1] // 5))
            model = NMF(n_components=k, init="nndsvd", random_state=0, max_iter=300)
            w = model.fit_transform(x)
            del x
            topic_names = pa.array([f"nmf:{t:02d}" for t in range(k)])
            if n_fit == n_docs:
                ids = con.sql("SELECT document_id FROM _tfidf_docs ORDER BY i").to_arrow_table()[
                    "document_id"
                ]
                assigned = _assign(w, ids, topic_names)
            else:
                del w
                assigned = pa.concat_tables(
                    _assign(model.transform(xb), ids, topic_names)
                    for ids, xb in _document_blocks(con, n_docs, len(terms), weighting, fit_documents)
                )
        finally:
            con.execute(
                "DROP TABLE IF EXISTS _tfidf_vocab; DROP TABLE IF EXISTS _tfidf_docs; DROP TABLE IF EXISTS _tfidf_all"
            )
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
                "description": f"NMF component {t} of {k} (TF-IDF over per-document term counts"
                + (f", fitted on {n_fit:,} of {n_docs:,} documents)" if n_fit < n_docs else ")"),
            }
        )
    return pa.Table.from_pylist(topic_rows, schema=TOPICS_SCHEMA), assigned


DOCUMENT_KEYWORDS_SCHEMA = pa.schema(
    [
        pa.field("document_id", pa.string(), nullable=False),
        pa.field("keyword", pa.string(), nullable=False),
        pa.field("occurrences", pa.int32(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ]
)


def focus_keywords(source: pa.Table | duckdb.DuckDBPyConnection, min_occurrences: int = 2) -> pa.Table:
    """Each document's focus keyword: its term most over-represented against the corpus (TF-IDF).

    score = (1 + ln n) * ln((N + 1) / (df + 1)); on a one-document corpus every idf is 0 and the most frequent
    term wins, which is all "focus" can mean there. `source` as for `discover_topics`.
    """
    with _doc_terms_connection(source) as con:
        result = con.sql(
            f"""
            WITH dt AS (SELECT document_id, term, n FROM doc_terms),
                 df AS (SELECT term, count(*) AS df FROM dt GROUP BY term),
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
    return result.cast(DOCUMENT_KEYWORDS_SCHEMA)
