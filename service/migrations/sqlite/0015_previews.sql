-- What-if previews: a period's pay under another ruleset or other rates, computed from a
-- calculated run's period inputs. Never a run: no lock, no payslip. status is queued,
-- calculating, done or failed; summary (JSON) has the totals per component and how many
-- workers gain, lose or change findings once done; the per-worker figures and the results are
-- files in the object store (previews/).
-- Same as ../postgres/0015_previews.sql.

CREATE TABLE previews (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    period           TEXT NOT NULL,
    base_run         TEXT NOT NULL REFERENCES runs (id),
    status           TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    finished_at      TEXT,
    error            TEXT,
    ruleset_name     TEXT NOT NULL,
    ruleset_version  TEXT NOT NULL,
    rates            INTEGER NOT NULL,
    summary          TEXT
);

CREATE INDEX previews_of_org ON previews (org_id, created_at);
