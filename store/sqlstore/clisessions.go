package sqlstore

import (
	"context"
	"time"

	"rolegate/store"
)

// ---- CLI sessions

const cliSessionCols = `c.id, c.token_hash, c.user_id, u.name, c.account_id, c.auth_methods, c.authn_instant, c.binding,
	c.created_at, c.last_used_at, c.expires_at, c.client_addr, c.user_agent, c.host_name`

func (s *Store) CreateCLISession(ctx context.Context, cs *store.CLISession, max int) (int, error) {
	switch {
	case max < 1:
		return 0, store.Errorf(store.Invalid, "a CLI session cap is at least 1")
	case cs.ID == "" || len(cs.TokenHash) < 16 || len(cs.Binding) == 0 || cs.UserID == 0:
		return 0, store.Errorf(store.Invalid, "a CLI session needs an ID, a token hash, a user and a binding")
	case !cs.ExpiresAt.After(cs.CreatedAt):
		return 0, store.Errorf(store.Invalid, "a CLI session must expire after it is created")
	}
	ended := 0
	err := s.db.InTx(ctx, func(q Querier) error {
		ended = 0
		// The user's row serialises concurrent logins of one user, so the cap holds.
		if err := s.lockUser(ctx, q, cs.UserID); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM cli_sessions WHERE user_id = $1 AND expires_at <= $2`, cs.UserID, toDB(cs.CreatedAt)); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `INSERT INTO cli_sessions (id, token_hash, user_id, account_id, auth_methods, authn_instant, binding,
			created_at, last_used_at, expires_at, client_addr, user_agent, host_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			cs.ID, cs.TokenHash, cs.UserID, cs.AccountID, cs.AuthMethods, toDB(cs.AuthnInstant), cs.Binding,
			toDB(cs.CreatedAt), toDB(cs.LastUsedAt), toDB(cs.ExpiresAt), cs.ClientAddr, cs.UserAgent, cs.HostName); err != nil {
			return wrap(err, "CLI session")
		}
		rows, err := q.Query(ctx, `SELECT id FROM cli_sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, cs.UserID)
		if err != nil {
			return err
		}
		var old []string
		for n := 0; rows.Next(); n++ {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			if n >= max {
				old = append(old, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range old {
			if _, err := q.Exec(ctx, `DELETE FROM cli_sessions WHERE id = $1`, id); err != nil {
				return err
			}
			ended++
		}
		return nil
	})
	return ended, err
}

func scanCLISession(r interface{ Scan(...any) error }) (*store.CLISession, error) {
	var cs store.CLISession
	var authn, created, used, exp int64
	if err := r.Scan(&cs.ID, &cs.TokenHash, &cs.UserID, &cs.UserName, &cs.AccountID, &cs.AuthMethods, &authn, &cs.Binding,
		&created, &used, &exp, &cs.ClientAddr, &cs.UserAgent, &cs.HostName); err != nil {
		return nil, err
	}
	cs.AuthnInstant, cs.CreatedAt, cs.LastUsedAt, cs.ExpiresAt = fromDB(authn), fromDB(created), fromDB(used), fromDB(exp)
	return &cs, nil
}

func (s *Store) GetCLISession(ctx context.Context, tokenHash []byte, now time.Time) (*store.CLISession, error) {
	cs, err := scanCLISession(s.db.QueryRow(ctx, `SELECT `+cliSessionCols+` FROM cli_sessions c JOIN users u ON u.id = c.user_id
		WHERE c.token_hash = $1 AND c.expires_at > $2 AND NOT u.disabled`, tokenHash, toDB(now)))
	if err != nil {
		return nil, wrap(err, "CLI session")
	}
	return cs, nil
}

func (s *Store) TouchCLISession(ctx context.Context, id string, now time.Time, clientAddr string) error {
	n, err := s.db.Exec(ctx, `UPDATE cli_sessions SET last_used_at = $1, client_addr = $2 WHERE id = $3`, toDB(now), clientAddr, id)
	if err == nil && n == 0 {
		return notFound("CLI session %q not found", id)
	}
	return err
}

func (s *Store) ListCLISessions(ctx context.Context, userID int64, now time.Time) ([]*store.CLISession, error) {
	rows, err := s.db.Query(ctx, `SELECT `+cliSessionCols+` FROM cli_sessions c JOIN users u ON u.id = c.user_id
		WHERE c.expires_at > $1 AND (c.user_id = $2 OR $2 = 0) ORDER BY c.created_at DESC, c.id DESC`, toDB(now), userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.CLISession
	for rows.Next() {
		cs, err := scanCLISession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
	return out, rows.Err()
}

func (s *Store) DeleteCLISession(ctx context.Context, id string, userID int64) error {
	n, err := s.db.Exec(ctx, `DELETE FROM cli_sessions WHERE id = $1 AND (user_id = $2 OR $2 = 0)`, id, userID)
	if err == nil && n == 0 {
		return notFound("CLI session %q not found", id)
	}
	return err
}

func (s *Store) ListUserSessions(ctx context.Context, userID int64, now time.Time) ([]*store.Session, error) {
	rows, err := s.db.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = $1 AND expires_at > $2 AND idle_expires_at > $2
		ORDER BY created_at DESC, token_hash DESC`, userID, toDB(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, ss)
	}
	return out, rows.Err()
}
