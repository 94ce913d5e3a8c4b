-- Pairs of claims that disagree about the same subject and attribute, with both texts and where they are.
-- kind: polarity (one denies a harm, the other asserts it as a risk) or direction (raises vs lowers a target).
-- scope: same_article (claim by claim) or cross_article (one row per pair of claim families, with counts).
CREATE OR REPLACE VIEW contradictions AS
SELECT p.pair_id, p.kind, p.scope, p.subject, p.entity,
       a.text AS text_a, b.text AS text_b,
       da.source_path AS source_path_a, db.source_path AS source_path_b,
       da.title AS title_a, db.title AS title_b,
       p.claim_id_a, p.claim_id_b, p.document_id_a, p.document_id_b,
       a.section_id AS section_id_a, b.section_id AS section_id_b,
       a.char_start AS char_start_a, a.char_end AS char_end_a,
       b.char_start AS char_start_b, b.char_end AS char_end_b,
       a.stance AS stance_a, b.stance AS stance_b,
       a.certainty AS certainty_a, b.certainty AS certainty_b,
       p.family_id_a, p.family_id_b, p.n_claim_pairs, p.n_articles
FROM contradiction_pairs p
JOIN claims a ON a.claim_id = p.claim_id_a
JOIN claims b ON b.claim_id = p.claim_id_b
JOIN documents da ON da.document_id = p.document_id_a
JOIN documents db ON db.document_id = p.document_id_b;
