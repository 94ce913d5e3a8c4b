-- One row per claim family: near-duplicate and paraphrased claims grouped across articles.
CREATE OR REPLACE VIEW claim_families AS
WITH m AS (
    SELECT f.family_id, f.is_representative, f.similarity, c.*
    FROM claim_family_members f JOIN claims c USING (claim_id)
)
SELECT family_id,
       any_value(text) FILTER (WHERE is_representative) AS representative_text,
       count(*) AS n_members,
       count(DISTINCT document_id) AS n_articles,
       mode(claim_type) AS claim_type,
       mode(subject) AS subject,
       count(*) FILTER (WHERE certainty = 'hedged') AS n_hedged,
       count(*) FILTER (WHERE negated) AS n_negated,
       mode(stance) AS stance,
       min(similarity) AS min_similarity,
       list(claim_id ORDER BY claim_id) AS claim_ids,
       list(DISTINCT document_id) AS document_ids
FROM m
GROUP BY family_id;
