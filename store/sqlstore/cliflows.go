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

const deviceCols = `device_hash, user_hash, client_name, client_addr, account, role, created_at, expires_at, interval_secs,
	last_poll_at, status, COALESCE(user_id, 0), methods, authn_instant, session_index`

func scanDevice(row interface{ Scan(...any) error }) (*store.DeviceCode, error) {
	var d store.DeviceCode
	var created, expires, interval, polled, authAt int64
	if err := row.Scan(&d.DeviceHash, &d.UserHash, &d.ClientName, &d.ClientAddr, &d.Account, &d.Role, &created, &expires, &interval,
		&polled, &d.Status, &d.UserID, &d.Methods, &authAt, &d.SessionIndex); err != nil {
		return nil, err
	}
	d.CreatedAt, d.ExpiresAt, d.LastPollAt, d.AuthnInstant = fromDB(created), fromDB(expires), fromDB(polled), fromDB(authAt)
	d.Interval = time.Duration(interval) * time.Second
	return &d, nil
}

func (s *Store) CreateDeviceCode(ctx context.Context, d *store.DeviceCode) error {
	if len(d.DeviceHash) < 16 || len(d.UserHash) < 16 || d.Interval < time.Second {
		return store.Errorf(store.Invalid, "a device code needs both hashes and an interval")
	}
	return s.db.InTx(ctx, func(q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM device_codes WHERE expires_at <= $1`, toDB(d.CreatedAt)); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO device_codes (device_hash, user_hash, client_name, client_addr, account, role, created_at,
			expires_at, interval_secs, last_poll_at, status, methods, authn_instant, session_index)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, '', 0, '')`,
			d.DeviceHash, d.UserHash, d.ClientName, d.ClientAddr, d.Account, d.Role, toDB(d.CreatedAt), toDB(d.ExpiresAt),
			secs(d.Interval), store.DevicePending)
		return wrap(err, "device code")
	})
}

func (s *Store) GetDeviceCode(ctx context.Context, userHash []byte, now time.Time) (*store.DeviceCode, error) {
	d, err := scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM device_codes WHERE user_hash = $1 AND status = $2
		AND expires_at > $3`, userHash, store.DevicePending, toDB(now)))
	return d, wrap(err, "device code")
}

func (s *Store) DecideDeviceCode(ctx context.Context, userHash []byte, d *store.DeviceCode, now time.Time) error {
	if d.Status != store.DeviceApproved && d.Status != store.DeviceDenied {
		return store.Errorf(store.Invalid, "a device code is approved or denied")
	}
	n, err := s.db.Exec(ctx, `UPDATE device_codes SET status = $1, user_id = $2, account = $3, role = $4, methods = $5,
		authn_instant = $6, session_index = $7 WHERE user_hash = $8 AND status = $9 AND expires_at > $10`,
		d.Status, d.UserID, d.Account, d.Role, d.Methods, toDB(d.AuthnInstant), d.SessionIndex, userHash, store.DevicePending, toDB(now))
	if err == nil && n == 0 {
		return notFound("no such device code waiting, or it expired")
	}
	return err
}

func (s *Store) PollDeviceCode(ctx context.Context, deviceHash []byte, now time.Time) (*store.DeviceCode, error) {
	var d *store.DeviceCode
	err := s.db.InTx(ctx, func(q Querier) error {
		var err error
		d, err = scanDevice(q.QueryRow(ctx, `SELECT `+deviceCols+` FROM device_codes WHERE device_hash = $1`+s.d.ForUpdate, deviceHash))
		if errors.Is(err, ErrNoRows) {
			return notFound("no such device code, or it was used")
		} else if err != nil {
			return err
		}
		if !d.LastPollAt.IsZero() && now.Sub(d.LastPollAt) < d.Interval {
			d.SlowDown, d.Interval = true, d.Interval+5*time.Second
			_, err = q.Exec(ctx, `UPDATE device_codes SET last_poll_at = $1, interval_secs = $2 WHERE device_hash = $3`,
				toDB(now), secs(d.Interval), deviceHash)
			return err
		}
		if d.Status == store.DevicePending && now.Before(d.ExpiresAt) {
			_, err = q.Exec(ctx, `UPDATE device_codes SET last_poll_at = $1 WHERE device_hash = $2`, toDB(now), deviceHash)
			return err
		}
		n, err := q.Exec(ctx, `DELETE FROM device_codes WHERE device_hash = $1`, deviceHash)
		if err == nil && n == 0 {
			return notFound("no such device code, or it was used")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
