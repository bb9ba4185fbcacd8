-- Payslip notices: a transactional outbox. A final run's notices are inserted in the same
-- transaction that moves it to `finalized`, so none exists before the run commits and none is
-- lost after; a dispatcher claims due rows with a lease, sends them, and marks a row `sent`
-- only after the vendor accepted it. One notice per (run, worker): it goes out on the first
-- channel of its plan that works, falling back to the next when one fails for good.
-- Same tables as ../postgres/0008_notices.sql.

CREATE TABLE notices (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    worker_id        TEXT NOT NULL,
    -- The worker's name, the run's period and what it pays them (net pay and arrears, a
    -- decimal string), as the notice says them.
    worker_name      TEXT NOT NULL,
    period           TEXT NOT NULL,
    net_payable      TEXT NOT NULL,
    language         TEXT NOT NULL,
    -- The channels still to try, in order, each with its recipient: a JSON array of
    -- {"channel", "to"}. The first is the channel being tried now.
    plan             TEXT NOT NULL,
    channel          TEXT NOT NULL,
    -- pending, sending (claimed under a lease), sent, dead (every channel failed).
    status           TEXT NOT NULL,
    -- Attempts on the current channel, and on every channel.
    attempts         BIGINT NOT NULL DEFAULT 0,
    total_attempts   BIGINT NOT NULL DEFAULT 0,
    next_at          TEXT NOT NULL,
    claim            TEXT,
    lease_until      TEXT,
    last_error       TEXT,
    -- Why each channel given up on failed, a JSON array of {"channel", "reason"}.
    fallbacks        TEXT NOT NULL DEFAULT '[]',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    sent_at          TEXT
);

CREATE UNIQUE INDEX notices_one_per_worker ON notices (run_id, worker_id);
CREATE INDEX notices_due ON notices (status, next_at);
CREATE INDEX notices_by_run ON notices (org_id, run_id, id);

-- Roles still as the config seeded them that see runs' dead letters may see notices; those that
-- may download payslips may also retry a dead notice. A role an admin edited is left as it is.
UPDATE org_roles SET permissions = REPLACE(permissions, '"dead_letters:view"', '"dead_letters:view","notices:view"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"dead_letters:view"%' AND permissions NOT LIKE '%"notices:view"%';
UPDATE org_roles SET permissions = REPLACE(permissions, '"schedule:edit"', '"schedule:edit","notices:retry"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"schedule:edit"%' AND permissions NOT LIKE '%"notices:retry"%';
