-- Bank returns under four eyes: a return file is recorded as a pending return of a payout, and
-- only once another person approves it are its payments marked returned (payout_payments), so
-- that the next payout pays them again. Until then one person could pay a worker twice by
-- saying the bank returned their payment. Same tables as ../sqlite/0011_payout_returns.sql.

CREATE TABLE payout_returns (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    payout_id    TEXT NOT NULL,
    -- 1 for a payout's first return, then 2, 3, ...: the list's order and page token.
    seq          BIGINT NOT NULL,
    -- pending, then approved or rejected by someone other than recorded_by.
    status       TEXT NOT NULL,
    payments     BIGINT NOT NULL,
    -- The returned payments' sum, a decimal string to the paisa.
    total        TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TEXT,
    rejection    TEXT
);

CREATE UNIQUE INDEX payout_returns_seq ON payout_returns (org_id, payout_id, seq);

-- The payments a return names, with the bank's reason and the file's line.
CREATE TABLE payout_return_items (
    return_id  TEXT NOT NULL,
    org_id     TEXT NOT NULL,
    payout_id  TEXT NOT NULL,
    reference  TEXT NOT NULL,
    worker_id  TEXT NOT NULL,
    amount     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    line       BIGINT NOT NULL,
    -- The return's status, kept here too so the index below can see it.
    status     TEXT NOT NULL,
    PRIMARY KEY (return_id, reference)
);

-- Each payment returned once: a payment is in at most one return that is not rejected.
CREATE UNIQUE INDEX payout_return_items_once ON payout_return_items (org_id, payout_id, reference) WHERE status <> 'rejected';

-- Roles still as the config seeded them: one that approves runs approves returns. A role an
-- admin edited is left as it is.
UPDATE org_roles SET permissions = REPLACE(permissions, '"runs:approve"', '"runs:approve","payouts:approve"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"runs:approve"%' AND permissions NOT LIKE '%"payouts:approve"%';
