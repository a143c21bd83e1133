package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rolegate/store"
)

// ---- tag rules

func (s *Store) CreateTagRule(ctx context.Context, r *store.TagRule) error {
	return s.db.InTx(ctx, func(q Querier) error {
		acct, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 OR alias_key = $2`,
			r.AccountID, store.Key(r.AccountID)))
		if err != nil {
			return wrap(err, fmt.Sprintf("account %q", r.AccountID))
		}
		r.AccountID, r.AccountAlias = acct.ID, acct.Alias
		if err := r.Validate(); err != nil {
			return err
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM tag_rules WHERE account_id = $1`, r.AccountID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxTagRules {
			return store.Errorf(store.Conflict, "account %s has %d tag rules already: AWS accepts at most %d session tags", acct.Alias, n, store.MaxTagRules)
		}
		now := s.now()
		err = q.QueryRow(ctx, `INSERT INTO tag_rules (account_id, key, key_lower, from_attr, value, transitive, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, r.AccountID, r.Key, store.Key(r.Key), r.FromAttr, r.Value,
			r.Transitive, toDB(now)).Scan(&r.ID)
		if errors.Is(err, ErrUnique) {
			return store.Errorf(store.Conflict, "account %s already has a tag rule for key %q (AWS compares keys regardless of case)", acct.Alias, r.Key)
		}
		r.CreatedAt = fromDB(toDB(now))
		return err
	})
}

func (s *Store) ListTagRules(ctx context.Context, account string) ([]*store.TagRule, error) {
	sql := `SELECT t.id, t.account_id, a.alias, t.key, t.from_attr, t.value, t.transitive, t.created_at
		FROM tag_rules t JOIN accounts a ON a.id = t.account_id`
	var args []any
	if account != "" {
		sql += ` WHERE a.id = $1 OR a.alias_key = $2`
		args = []any{account, store.Key(account)}
	}
	rows, err := s.db.Query(ctx, sql+` ORDER BY a.alias_key, t.key_lower`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.TagRule
	for rows.Next() {
		var r store.TagRule
		var created int64
		if err := rows.Scan(&r.ID, &r.AccountID, &r.AccountAlias, &r.Key, &r.FromAttr, &r.Value, &r.Transitive, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = fromDB(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}

func (s *Store) DeleteTagRule(ctx context.Context, id int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM tag_rules WHERE id = $1`, id)
	if err == nil && n == 0 {
		return notFound("tag rule %d not found", id)
	}
	return err
}

// ---- service providers

func (s *Store) CreateServiceProvider(ctx context.Context, sp *store.ServiceProvider) error {
	if sp.EntityID == "" || len(sp.EntityID) > 1024 || len(sp.Metadata) == 0 {
		return store.Errorf(store.Invalid, "a service provider needs an entity ID (at most 1024 characters) and metadata")
	}
	now := s.now()
	_, err := s.db.Exec(ctx, `INSERT INTO service_providers (entity_id, metadata, created_at) VALUES ($1, $2, $3)`,
		sp.EntityID, string(sp.Metadata), toDB(now))
	if err != nil {
		return wrap(err, fmt.Sprintf("service provider %q", sp.EntityID))
	}
	sp.CreatedAt = fromDB(toDB(now))
	return nil
}

func (s *Store) GetServiceProvider(ctx context.Context, entityID string) (*store.ServiceProvider, error) {
	var sp store.ServiceProvider
	var md string
	var created int64
	err := s.db.QueryRow(ctx, `SELECT entity_id, metadata, created_at FROM service_providers WHERE entity_id = $1`, entityID).
		Scan(&sp.EntityID, &md, &created)
	if err != nil {
		return nil, wrap(err, fmt.Sprintf("service provider %q", entityID))
	}
	sp.Metadata, sp.CreatedAt = []byte(md), fromDB(created)
	return &sp, nil
}

func (s *Store) ListServiceProviders(ctx context.Context) ([]*store.ServiceProvider, error) {
	rows, err := s.db.Query(ctx, `SELECT entity_id, metadata, created_at FROM service_providers ORDER BY entity_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.ServiceProvider
	for rows.Next() {
		var sp store.ServiceProvider
		var md string
		var created int64
		if err := rows.Scan(&sp.EntityID, &md, &created); err != nil {
			return nil, err
		}
		sp.Metadata, sp.CreatedAt = []byte(md), fromDB(created)
		out = append(out, &sp)
	}
	return out, rows.Err()
}

func (s *Store) DeleteServiceProvider(ctx context.Context, entityID string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM service_providers WHERE entity_id = $1`, entityID)
	if err == nil && n == 0 {
		return notFound("service provider %q not found", entityID)
	}
	return err
}

// ---- pending AuthnRequests

func (s *Store) SavePendingRequest(ctx context.Context, r *store.PendingRequest) error {
	if len(r.HandleHash) < 16 || r.SPEntityID == "" || r.RequestID == "" || r.ACSURL == "" || !r.ExpiresAt.After(r.CreatedAt) {
		return store.Errorf(store.Invalid, "incomplete pending request")
	}
	_, err := s.db.Exec(ctx, `INSERT INTO saml_requests (handle_hash, sp_entity_id, request_id, acs_url, relay_state, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.HandleHash, r.SPEntityID, r.RequestID, r.ACSURL, r.RelayState,
		toDB(r.CreatedAt), toDB(r.ExpiresAt))
	if errors.Is(err, ErrUnique) {
		return store.Errorf(store.Conflict, "request %q from %q was seen before: a request is accepted once", r.RequestID, r.SPEntityID)
	}
	return err
}

func (s *Store) GetPendingRequest(ctx context.Context, handleHash []byte, now time.Time) (*store.PendingRequest, error) {
	var r store.PendingRequest
	var created, expires int64
	err := s.db.QueryRow(ctx, `SELECT handle_hash, sp_entity_id, request_id, acs_url, relay_state, created_at, expires_at
		FROM saml_requests WHERE handle_hash = $1 AND consumed_at = 0 AND expires_at > $2`, handleHash, toDB(now)).
		Scan(&r.HandleHash, &r.SPEntityID, &r.RequestID, &r.ACSURL, &r.RelayState, &created, &expires)
	if err != nil {
		return nil, wrap(err, "sign-in request")
	}
	r.CreatedAt, r.ExpiresAt = fromDB(created), fromDB(expires)
	return &r, nil
}

func (s *Store) ConsumePendingRequest(ctx context.Context, handleHash []byte, now time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE saml_requests SET consumed_at = $1 WHERE handle_hash = $2 AND consumed_at = 0 AND expires_at > $1`,
		toDB(now), handleHash)
	if err == nil && n == 0 {
		return notFound("sign-in request not found, expired or already used")
	}
	return err
}

func (s *Store) DeleteExpiredPendingRequests(ctx context.Context, now time.Time) (int64, error) {
	return s.db.Exec(ctx, `DELETE FROM saml_requests WHERE expires_at <= $1`, toDB(now))
}
