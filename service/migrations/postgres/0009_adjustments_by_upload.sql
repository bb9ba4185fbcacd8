-- An upload's requests are decided together: found by upload, not by a scan of every
-- adjustment.
CREATE INDEX adjustments_by_upload ON adjustments (org_id, upload_id);
