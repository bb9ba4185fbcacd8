-- Manual adjustments under maker-checker: requested by one user, approved or rejected by
-- another. Each transition is a new version of the adjustment event (the adjustments.ndjson
-- contract), published to the org's input (folder or topic) so the fold stays the one source of
-- truth; `published_version` is how far publishing got, so a version that could not be
-- published at once is published by the janitor. Same table as ../postgres/0004_adjustments.sql.

CREATE TABLE adjustments (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL,
    worker_id          TEXT NOT NULL,
    period             TEXT NOT NULL,
    kind               TEXT NOT NULL,
    code               TEXT NOT NULL,
    amount             TEXT NOT NULL,
    reason             TEXT NOT NULL,
    status             TEXT NOT NULL,
    version            BIGINT NOT NULL,
    published_version  BIGINT NOT NULL DEFAULT 0,
    requested_by       TEXT NOT NULL,
    requested_at       TEXT NOT NULL,
    decided_by         TEXT,
    decided_at         TEXT,
    decision_note      TEXT,
    -- A retried request with the same Idempotency-Key gets the same adjustment.
    idempotency_key    TEXT,
    request_hash       TEXT
);

CREATE INDEX adjustments_by_org ON adjustments (org_id, id);
CREATE UNIQUE INDEX adjustments_idempotency ON adjustments (org_id, idempotency_key);
CREATE INDEX adjustments_unpublished ON adjustments (published_version, version);
