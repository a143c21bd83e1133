package sqlstore

import (
	"context"
	"fmt"
)

// ---- SP NameIDs

func (s *Store) FindPairwiseNameID(ctx context.Context, userID int64, spEntityID string) (string, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT name_id FROM sp_subjects WHERE user_id = $1 AND sp_entity_id = $2`, userID, spEntityID).Scan(&v)
	return v, wrap(err, fmt.Sprintf("pairwise NameID of user %d for %q", userID, spEntityID))
}
