-- The service's own records: runs and every state change, period locks, idempotency keys,
-- schedules. Pay inputs are never stored here (ARCHITECTURE.md: one source of truth).
-- Times are UTC RFC 3339 text with milliseconds, so they sort as text.
-- Same tables as ../postgres/0001_runs.sql; an applied migration is never edited.

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,          -- UUIDv7: sorts by creation
    org_id        TEXT NOT NULL,
    period        TEXT NOT NULL,             -- YYYY-MM
    kind          TEXT NOT NULL CHECK (kind IN ('provisional', 'final')),
    status        TEXT NOT NULL CHECK (status IN ('queued', 'calculating', 'calculated', 'finalizing',
                                                  'finalized', 'rejected', 'cancelled', 'failed')),
    requested_by  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_by    TEXT,                      -- the instance working on it
    heartbeat_at  TEXT,
    progress      TEXT,                      -- JSON: stage, done, total, unit
    summary       TEXT,                      -- JSON: ruleset, rows, totals, dead letters, source
    error         TEXT
);

-- One live final run per org and period, enforced here and not only in code.
CREATE UNIQUE INDEX runs_one_live_final ON runs (org_id, period)
    WHERE kind = 'final' AND status NOT IN ('rejected', 'cancelled', 'failed');
CREATE INDEX runs_by_org ON runs (org_id, id);
CREATE INDEX runs_by_status ON runs (status, id);

CREATE TABLE run_transitions (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    status  TEXT NOT NULL,
    actor   TEXT NOT NULL,                   -- a user's sub, or system:<what>
    at      TEXT NOT NULL,
    note    TEXT,
    PRIMARY KEY (run_id, seq)
);

-- A period is locked when its final run is approved; runs for it are refused from then on.
CREATE TABLE periods (
    org_id     TEXT NOT NULL,
    period     TEXT NOT NULL,
    locked_by  TEXT REFERENCES runs (id),
    locked_at  TEXT,
    PRIMARY KEY (org_id, period)
);

-- A retried POST with the same key gets the same run; the scheduler's keys make a slot run once.
CREATE TABLE idempotency_keys (
    org_id          TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_sha256  TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE schedules (
    org_id      TEXT PRIMARY KEY,
    cron        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_slot   TEXT                         -- the latest slot a run was queued for
);
