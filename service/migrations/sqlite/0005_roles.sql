-- Each org's roles and what they grant: seeded from the config's defaults the first time the
-- org is seen, then edited through the API (roles:manage) and in force on the next request.
-- Same table as ../postgres/0005_roles.sql.

CREATE TABLE org_roles (
    org_id       TEXT NOT NULL,
    role         TEXT NOT NULL,
    -- The permissions, as a JSON array of their names (`["runs:view", "pay:view"]`).
    permissions  TEXT NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, role)
);
