package sqlstore

import (
	"context"
	"errors"
	"time"

	"rolegate/store"
)

// ---- CLI flows

const cliAuthCodeCols = `code_hash, challenge, redirect_uri, user_id, account, role, methods, authn_instant,
	session_index, created_at, expires_at`

func (s *Store) CreateCLIAuthCode(ctx context.Context, c *store.CLIAuthCode) error {
	if len(c.CodeHash) < 16 {
		return store.Errorf(store.Invalid, "authorization code hash too short")
	}
	return s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM cli_auth_codes WHERE expires_at <= $1`, toDB(c.CreatedAt)); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO cli_auth_codes (`+cliAuthCodeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			c.CodeHash, c.Challenge, c.RedirectURI, c.UserID, c.Account, c.Role, c.Methods, toDB(c.AuthnInstant),
			c.SessionIndex, toDB(c.CreatedAt), toDB(c.ExpiresAt))
		return wrap(err, "authorization code")
	})
}

func (s *Store) TakeCLIAuthCode(ctx context.Context, codeHash []byte, now time.Time) (*store.CLIAuthCode, error) {
	var c store.CLIAuthCode
	err := s.db.InTx(ctx, func(q Querier) error {
		var authAt, created, expires int64
		err := q.QueryRow(ctx, `SELECT `+cliAuthCodeCols+` FROM cli_auth_codes WHERE code_hash = $1`+s.d.ForUpdate, codeHash).Scan(
			&c.CodeHash, &c.Challenge, &c.RedirectURI, &c.UserID, &c.Account, &c.Role, &c.Methods, &authAt,
			&c.SessionIndex, &created, &expires)
		if errors.Is(err, ErrNoRows) {
			return notFound("no such authorization code, or it was used")
		} else if err != nil {
			return err
		}
		c.AuthnInstant, c.CreatedAt, c.ExpiresAt = fromDB(authAt), fromDB(created), fromDB(expires)
		// Deleted, live or expired; the conditional delete keeps the take exactly-once.
		n, err := q.Exec(ctx, `DELETE FROM cli_auth_codes WHERE code_hash = $1`, codeHash)
		if err == nil && n == 0 {
			return notFound("no such authorization code, or it was used")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !now.Before(c.ExpiresAt) {
		return nil, notFound("the authorization code expired")
	}
	return &c, nil
}
