-- NameID formats: the one an SP is fixed to (rolegate sp set --nameid-format), '' to honour its
-- requests' NameIDPolicy; and the one a pending request will be answered with, '' (requests kept
-- before this version) meaning persistent, with its AllowCreate="false" (no new persistent NameID).
ALTER TABLE service_providers ADD COLUMN nameid_format TEXT NOT NULL DEFAULT '';
ALTER TABLE saml_requests ADD COLUMN nameid_format TEXT NOT NULL DEFAULT '';
ALTER TABLE saml_requests ADD COLUMN nameid_no_create INTEGER NOT NULL DEFAULT 0;
