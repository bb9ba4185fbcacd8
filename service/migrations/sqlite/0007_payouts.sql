-- Bank payouts of finalized runs: each payout made (its files are in the object store under the
-- run's payouts prefix), and each worker's payment with its state, so a later payout of the run
-- pays only those not paid yet (returned by the bank, or an exception then) and never twice.
-- Same tables as ../postgres/0007_payouts.sql.

CREATE TABLE payouts (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    -- 1 for a run's first payout, then 2, 3, ...: two payouts of a run made at once collide here.
    seq              BIGINT NOT NULL,
    payments         BIGINT NOT NULL,
    -- The file's control sum, a decimal string to the paisa.
    total            TEXT NOT NULL,
    exceptions       BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    -- A retried request with the same Idempotency-Key gets the same payout.
    idempotency_key  TEXT
);

CREATE UNIQUE INDEX payouts_run_seq ON payouts (org_id, run_id, seq);
CREATE UNIQUE INDEX payouts_idempotency ON payouts (org_id, idempotency_key);

CREATE TABLE payout_payments (
    payout_id      TEXT NOT NULL,
    org_id         TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    worker_id      TEXT NOT NULL,
    -- The end-to-end id the bank echoes in its return file.
    reference      TEXT NOT NULL,
    amount         TEXT NOT NULL,
    -- sent, or returned once a bank return file names it.
    status         TEXT NOT NULL,
    return_reason  TEXT,
    returned_at    TEXT,
    PRIMARY KEY (payout_id, worker_id)
);

CREATE UNIQUE INDEX payout_payments_reference ON payout_payments (payout_id, reference);
-- Never twice: at most one payment of a run to a worker is outstanding (sent, not returned).
CREATE UNIQUE INDEX payout_payments_one_sent ON payout_payments (org_id, run_id, worker_id) WHERE status = 'sent';

-- Roles still as the config seeded them: one that approves runs makes their payouts; one that
-- downloads the register downloads the statutory returns. A role an admin edited is left as it is.
UPDATE org_roles SET permissions = REPLACE(permissions, '"runs:approve"', '"runs:approve","payouts:create","payouts:view"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"runs:approve"%' AND permissions NOT LIKE '%"payouts:create"%';
UPDATE org_roles SET permissions = REPLACE(permissions, '"register:download"', '"register:download","returns:download"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"register:download"%' AND permissions NOT LIKE '%"returns:download"%';
