-- Per-SP privacy and access: attribute release, allowed groups, pairwise NameIDs.

-- The attributes released to the SP besides its NameID: comma-separated keys (email,name,username,groups).
-- '' releases none, the default, also for SPs registered before this version.
ALTER TABLE service_providers ADD COLUMN release_attrs TEXT NOT NULL DEFAULT '';
-- Set once any group was allowed: an SP whose allowed groups were all deleted then admits no one,
-- rather than everyone. Cleared only by an admin (sp set --clear-allow-groups).
ALTER TABLE service_providers ADD COLUMN restricted BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE sp_allowed_groups (
    sp_entity_id TEXT NOT NULL REFERENCES service_providers (entity_id) ON DELETE CASCADE,
    group_id     BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (sp_entity_id, group_id)
);
CREATE INDEX sp_allowed_groups_group ON sp_allowed_groups (group_id);

-- A random persistent NameID per user and SP, made on first use. Keyed by the entity ID, not the
-- registration, so that removing and re-adding an SP (new metadata) keeps its users' NameIDs.
CREATE TABLE sp_subjects (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sp_entity_id TEXT NOT NULL,
    name_id      TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, sp_entity_id)
);
