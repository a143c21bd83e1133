package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"

	"rolegate/store"
)

// ---- per-SP privacy and access

func splitRelease(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// getSP reads an SP with its allowed groups; lock is the dialect's ForUpdate inside a transaction.
func getSP(ctx context.Context, q Querier, entityID, lock string) (*store.ServiceProvider, error) {
	sp, err := scanSP(q.QueryRow(ctx, `SELECT `+spCols+` FROM service_providers WHERE entity_id = $1`+lock, entityID))
	if err != nil {
		return nil, wrap(err, fmt.Sprintf("service provider %q", entityID))
	}
	return sp, allowedGroups(ctx, q, entityID, map[string]*store.ServiceProvider{entityID: sp})
}

// allowedGroups fills in the allowed groups of the SPs in byID: of entityID's, or of all when it is "".
func allowedGroups(ctx context.Context, q Querier, entityID string, byID map[string]*store.ServiceProvider) error {
	for _, sp := range byID {
		sp.AllowedGroups = []string{}
	}
	sql := `SELECT a.sp_entity_id, g.name FROM sp_allowed_groups a JOIN groups g ON g.id = a.group_id`
	var args []any
	if entityID != "" {
		sql += ` WHERE a.sp_entity_id = $1`
		args = append(args, entityID)
	}
	rows, err := q.Query(ctx, sql+` ORDER BY g.name_key`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		if sp := byID[id]; sp != nil {
			sp.AllowedGroups = append(sp.AllowedGroups, name)
		}
	}
	return rows.Err()
}

// putSPPolicy checks sp's release list and allowed groups and writes them over the stored ones.
// Allowing a group restricts the SP.
func putSPPolicy(ctx context.Context, q Querier, sp *store.ServiceProvider) error {
	release, err := store.NormalizeRelease(sp.Release)
	if err != nil {
		return err
	}
	if err := store.CheckNameIDFormat(sp.NameIDFormat); err != nil {
		return err
	}
	ids := map[int64]bool{}
	names := []string{}
	for _, g := range sp.AllowedGroups {
		if err := store.ValidateGroupName(g); err != nil {
			return err
		}
		var id int64
		var name string
		if err := q.QueryRow(ctx, `SELECT id, name FROM groups WHERE name_key = $1`, store.Key(g)).Scan(&id, &name); err != nil {
			return wrap(err, fmt.Sprintf("group %q", g))
		}
		if !ids[id] {
			ids[id] = true
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return store.Key(names[i]) < store.Key(names[j]) })
	sp.Release, sp.AllowedGroups, sp.Restricted = release, names, sp.Restricted || len(names) > 0
	if _, err := q.Exec(ctx, `UPDATE service_providers SET release_attrs = $1, restricted = $2, require_signed_requests = $3, nameid_format = $4
		WHERE entity_id = $5`, strings.Join(release, ","), sp.Restricted, sp.RequireSignedRequests, sp.NameIDFormat, sp.EntityID); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, `DELETE FROM sp_allowed_groups WHERE sp_entity_id = $1`, sp.EntityID); err != nil {
		return err
	}
	for id := range ids {
		if _, err := q.Exec(ctx, `INSERT INTO sp_allowed_groups (sp_entity_id, group_id) VALUES ($1, $2)`, sp.EntityID, id); err != nil {
			return wrap(err, fmt.Sprintf("allowed group of %q", sp.EntityID))
		}
	}
	return nil
}

func (s *Store) UpdateServiceProvider(ctx context.Context, entityID string, fn func(*store.ServiceProvider) error) (*store.ServiceProvider, error) {
	var out *store.ServiceProvider
	err := s.db.InTx(ctx, func(q Querier) error {
		sp, err := getSP(ctx, q, entityID, s.d.ForUpdate)
		if err != nil {
			return err
		}
		id, created := sp.EntityID, sp.CreatedAt
		if err := fn(sp); err != nil {
			return err
		}
		sp.EntityID, sp.CreatedAt = id, created
		if len(sp.Metadata) == 0 {
			return store.Errorf(store.Invalid, "a service provider needs metadata")
		}
		if _, err := q.Exec(ctx, `UPDATE service_providers SET metadata = $1 WHERE entity_id = $2`, string(sp.Metadata), id); err != nil {
			return err
		}
		if err := putSPPolicy(ctx, q, sp); err != nil {
			return err
		}
		out = sp
		return nil
	})
	return out, err
}

// PairwiseNameID stores a random value on first use. A stored value, rather than one derived
// from a key, stays the same through key rotation and restores with the database.
func (s *Store) PairwiseNameID(ctx context.Context, userID int64, spEntityID string) (string, error) {
	if spEntityID == "" || len(spEntityID) > 1024 {
		return "", store.Errorf(store.Invalid, "a pairwise NameID needs an SP entity ID of at most 1024 characters")
	}
	// Of concurrent first uses, one insert wins and the others do nothing; all then read the winner's.
	_, err := s.db.Exec(ctx, `INSERT INTO sp_subjects (user_id, sp_entity_id, name_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, sp_entity_id) DO NOTHING`, userID, spEntityID, "rgp-"+strings.ToLower(rand.Text()), toDB(s.now()))
	if errors.Is(err, ErrForeignKey) {
		return "", notFound("user %d not found", userID)
	} else if err != nil {
		return "", err
	}
	var v string
	err = s.db.QueryRow(ctx, `SELECT name_id FROM sp_subjects WHERE user_id = $1 AND sp_entity_id = $2`, userID, spEntityID).Scan(&v)
	if errors.Is(err, ErrNoRows) {
		return "", notFound("user %d not found", userID) // deleted meanwhile
	}
	return v, err
}
