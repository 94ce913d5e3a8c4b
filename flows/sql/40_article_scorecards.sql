-- One row per article: how it argues. Shares are over the article's efficacy claims (claims whose types
-- include efficacy). {consult_professional} is the advice pattern from lexicons/analytics.yaml.
CREATE OR REPLACE VIEW article_scorecards AS
WITH c AS (
    SELECT document_id,
           count(*) AS n_claims,
           count(*) FILTER (WHERE list_contains(types, 'efficacy')) AS n_efficacy,
           count(*) FILTER (WHERE list_contains(types, 'efficacy') AND certainty = 'hedged') AS n_efficacy_hedged,
           count(*) FILTER (WHERE list_contains(types, 'efficacy') AND certainty = 'asserted') AS n_efficacy_asserted,
           count(*) FILTER (WHERE list_contains(types, 'efficacy') AND evidence = 'vague') AS n_efficacy_unnamed_research_only,
           count(*) FILTER (WHERE list_contains(types, 'efficacy') AND evidence = 'none') AS n_efficacy_no_evidence,
           count(*) FILTER (WHERE list_contains(types, 'efficacy') AND evidence = 'named') AS n_efficacy_named_source,
           count(*) FILTER (WHERE list_contains(types, 'safety') AND stance = 'risk' AND NOT negated) AS n_risk_statements,
           count(*) FILTER (WHERE list_contains(types, 'safety') AND negated) AS n_risk_denials,
           count(*) FILTER (WHERE evidence = 'anecdotal') AS n_anecdotal
    FROM claims GROUP BY document_id
), s AS (
    SELECT document_id,
           count(*) AS n_sentences,
           count(*) FILTER (WHERE role = 'advice') AS n_advice,
           count(*) FILTER (WHERE role = 'advice' AND regexp_matches(text, '{consult_professional}', 'i')) AS n_consult_professional
    FROM sentences GROUP BY document_id
), k AS (
    SELECT document_id, count(*) AS n_contradictions
    FROM contradiction_pairs WHERE scope = 'same_article' GROUP BY document_id
), x AS (
    SELECT document_id, count(*) AS n_cross_article_contradictions
    FROM (SELECT document_id_a AS document_id FROM contradiction_pairs WHERE scope = 'cross_article'
          UNION ALL
          SELECT document_id_b FROM contradiction_pairs WHERE scope = 'cross_article')
    GROUP BY document_id
), a AS (
    SELECT document_id,
           count(*) FILTER (WHERE kind = 'instruction_heading') AS n_instruction_headings,
           count(*) FILTER (WHERE kind = 'repeated_phrase') AS n_repeated_phrases,
           count(*) FILTER (WHERE kind = 'boilerplate') AS n_boilerplate,
           list(detail ORDER BY kind, char_start) FILTER (WHERE kind = 'instruction_heading') AS instruction_headings,
           arg_max(detail, occurrences) FILTER (WHERE kind = 'repeated_phrase') AS top_repeated_phrase,
           max(occurrences) FILTER (WHERE kind = 'repeated_phrase') AS top_repeated_phrase_paragraphs
    FROM document_artefacts GROUP BY document_id
)
SELECT d.document_id, d.source_path, d.title, d.main_subject,
       s.n_sentences, coalesce(c.n_claims, 0) AS n_claims, coalesce(c.n_efficacy, 0) AS n_efficacy_claims,
       round(c.n_efficacy_hedged / nullif(c.n_efficacy, 0), 3) AS efficacy_hedged_share,
       round(c.n_efficacy_asserted / nullif(c.n_efficacy, 0), 3) AS efficacy_asserted_share,
       coalesce(c.n_efficacy_unnamed_research_only, 0) AS efficacy_unnamed_research_only,
       coalesce(c.n_efficacy_no_evidence, 0) AS efficacy_no_evidence,
       coalesce(c.n_efficacy_named_source, 0) AS efficacy_named_source,
       coalesce(c.n_risk_statements, 0) AS risk_statements,
       coalesce(c.n_risk_denials, 0) AS risk_denials,
       coalesce(c.n_anecdotal, 0) AS anecdotal_claims,
       coalesce(s.n_consult_professional, 0) AS consult_professional_advice,
       coalesce(k.n_contradictions, 0) AS contradictions,
       coalesce(x.n_cross_article_contradictions, 0) AS cross_article_contradictions,
       kw.keyword AS focus_keyword,
       kw.occurrences AS focus_keyword_occurrences,
       coalesce(a.n_instruction_headings, 0) AS instruction_headings,
       a.instruction_headings AS instruction_heading_texts,
       a.top_repeated_phrase AS repeated_keyword_phrase,
       a.top_repeated_phrase_paragraphs AS repeated_keyword_phrase_paragraphs,
       coalesce(a.n_boilerplate, 0) AS boilerplate_phrases
FROM documents d
LEFT JOIN c USING (document_id)
LEFT JOIN s USING (document_id)
LEFT JOIN k USING (document_id)
LEFT JOIN x USING (document_id)
LEFT JOIN a USING (document_id)
LEFT JOIN document_keywords kw USING (document_id);
