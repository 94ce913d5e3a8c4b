-- Claims with their article and section: the usual starting point for an analyst.
CREATE OR REPLACE VIEW claims_detail AS
SELECT c.*,
       d.source_path,
       d.title AS document_title,
       x.heading AS section_heading
FROM claims c
JOIN documents d USING (document_id)
JOIN sections x USING (section_id);
