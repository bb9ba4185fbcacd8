-- Workers a run could not compute (a component without a value), written with the run's
-- Calculate move, and the exclusions that let a final run with such workers be approved.
-- Same tables as ../postgres/0002_worker_errors.sql.

CREATE TABLE run_worker_errors (
    run_id     TEXT NOT NULL REFERENCES runs (id),
    worker_id  TEXT NOT NULL,
    component  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (run_id, worker_id, component)
);

-- A worker left out of a final run on purpose: who decided, when and why. Only a worker with
-- an error in the run can be excluded; the first exclusion of a worker stands.
CREATE TABLE run_exclusions (
    run_id       TEXT NOT NULL REFERENCES runs (id),
    worker_id    TEXT NOT NULL,
    reason       TEXT NOT NULL,
    excluded_by  TEXT NOT NULL,
    excluded_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, worker_id)
);
