-- Bulk uploads (XLSX or CSV) of attendance summaries, adjustments or workers: the file is kept in
-- the object store, processed in the background row by row, and each rejected row is kept with
-- its original cells (bank accounts and PANs masked) and its faults, for the error report.
-- Same tables as ../sqlite/0006_uploads.sql.

CREATE TABLE uploads (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    mode             TEXT NOT NULL,
    status           TEXT NOT NULL,
    file_name        TEXT NOT NULL,
    format           TEXT NOT NULL,
    bytes            BIGINT NOT NULL,
    sha256           TEXT NOT NULL,
    -- The header row as read, a JSON array: the error report's columns.
    columns          TEXT NOT NULL DEFAULT '[]',
    row_count        BIGINT NOT NULL DEFAULT 0,
    accepted         BIGINT NOT NULL DEFAULT 0,
    rejected         BIGINT NOT NULL DEFAULT 0,
    applied          BIGINT NOT NULL DEFAULT 0,
    -- How far processing is, in percent: reading and checking rows, then applying them.
    progress         BIGINT NOT NULL DEFAULT 0,
    -- Why an upload failed as a whole (an unreadable file, a missing column, all_or_nothing).
    message          TEXT,
    uploaded_by      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    finished_at      TEXT,
    -- A retried upload with the same Idempotency-Key and file gets the same upload.
    idempotency_key  TEXT
);

CREATE INDEX uploads_by_org ON uploads (org_id, id);
CREATE UNIQUE INDEX uploads_idempotency ON uploads (org_id, idempotency_key);

CREATE TABLE upload_rejections (
    upload_id   TEXT NOT NULL,
    row_number  BIGINT NOT NULL,
    -- The row's cells in the header's order, a JSON array of strings.
    cells       TEXT NOT NULL,
    -- Each fault, a JSON array of {"column", "value", "reason"}.
    faults      TEXT NOT NULL,
    PRIMARY KEY (upload_id, row_number)
);

-- Adjustments an upload requested name it.
ALTER TABLE adjustments ADD COLUMN upload_id TEXT;

-- Roles still as the config seeded them that may request adjustments one at a time may now
-- upload them (and summaries, workers) too; a role an admin edited is left as it is.
UPDATE org_roles SET permissions = REPLACE(permissions, '"adjustments:request"', '"adjustments:request","upload"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"adjustments:request"%' AND permissions NOT LIKE '%"upload"%';
