-- A run's findings: each check, of the ruleset or built in, that fired for a worker of the run,
-- with its message; written with the run's Calculate move. A final run with an open `block`
-- finding is not approved: each is acknowledged by a person saying why (or its worker is
-- excluded). seq numbers a run's findings from 1 in the order the run found them.
-- Same as ../sqlite/0014_findings.sql.

CREATE TABLE run_findings (
    org_id           TEXT NOT NULL,
    run_id           TEXT NOT NULL REFERENCES runs (id),
    seq              BIGINT NOT NULL,
    worker_id        TEXT NOT NULL,
    check_name       TEXT NOT NULL,
    severity         TEXT NOT NULL,
    message          TEXT NOT NULL,
    acknowledged_by  TEXT,
    acknowledged_at  TEXT,
    reason           TEXT,
    PRIMARY KEY (run_id, seq)
);

CREATE INDEX run_findings_of_worker ON run_findings (run_id, worker_id);
