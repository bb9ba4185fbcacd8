-- A worker is told when their bank account, IFSC, phone or email changes, on the contact they
-- had before: a fraudster who moves a worker's pay to their own account and phone does not
-- also receive the warning. Such a notice goes through the same outbox as payslip notices:
-- kind is 'contact_change', run_id names the workers upload whose approval made the change,
-- period the day it was approved, and changed the fields (a JSON array of names).
-- Same as ../sqlite/0013_contact_change_notices.sql.

ALTER TABLE notices ADD COLUMN kind TEXT NOT NULL DEFAULT 'payslip';
ALTER TABLE notices ADD COLUMN changed TEXT NOT NULL DEFAULT '[]';
