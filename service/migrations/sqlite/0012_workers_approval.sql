-- Worker master changes under four eyes: a workers upload stops at status awaiting_approval with
-- its accepted rows staged, and another person with workers:approve applies them (done) or drops
-- them (rejected, the reason in message). Until then one person with upload could change a
-- worker's bank account. Same as ../postgres/0012_workers_approval.sql.

ALTER TABLE uploads ADD COLUMN decided_by TEXT;
ALTER TABLE uploads ADD COLUMN decided_at TEXT;

-- Roles still as the config seeded them: one that approves bank returns approves worker changes.
-- A role an admin edited is left as it is.
UPDATE org_roles SET permissions = REPLACE(permissions, '"payouts:approve"', '"payouts:approve","workers:approve"')
WHERE updated_by = 'system:config' AND permissions LIKE '%"payouts:approve"%' AND permissions NOT LIKE '%"workers:approve"%';
