-- Deployment settings that every replica and the admin CLI read: the base URL that names the entity
-- ID, pinned at first start, and whether the store holds demo data.
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
