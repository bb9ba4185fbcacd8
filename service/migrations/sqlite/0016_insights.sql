-- Insights (`insights:view`): granted to the roles that read a period's figures. Orgs seeded
-- before this migration get it here; new orgs are seeded with it (domain/permissions.rs).
UPDATE org_roles SET permissions = REPLACE(permissions, '"runs:view"', '"runs:view","insights:view"')
    WHERE role IN ('hr_admin', 'approver', 'analyst', 'org_admin')
      AND permissions NOT LIKE '%"insights:view"%';
