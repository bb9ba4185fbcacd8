-- The audit log: every change made through the API and every download of pay documents, one
-- entry each. An org's entries form a hash chain: each carries the hash of the one before and
-- a hash of itself over both, so an entry edited or deleted inside the chain is detected
-- (`payroll audit verify`). Same table as ../postgres/0003_audit.sql.

CREATE TABLE audit_log (
    org_id      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    -- The caller's roles, as a JSON array.
    roles       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    -- The target before and after, as JSON with personal data masked; NULL when there is none.
    before      TEXT,
    after       TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);

CREATE INDEX audit_log_by_action ON audit_log (org_id, action, seq);
