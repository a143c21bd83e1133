package sqlstore

import (
	"context"
)

// ---- SAML requests

func (s *Store) SetSPRequireSignedRequests(ctx context.Context, entityID string, require bool) error {
	n, err := s.db.Exec(ctx, `UPDATE service_providers SET require_signed_requests = $1 WHERE entity_id = $2`, require, entityID)
	if err == nil && n == 0 {
		return notFound("service provider %q not found", entityID)
	}
	return err
}
