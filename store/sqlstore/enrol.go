package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rolegate/store"
)

// ---- first-factor enrolment

// globalScope is the enrol_windows row of the window that applies to every user.
const globalScope = "*"

func (s *Store) CreateEnrolInvite(ctx context.Context, inv *store.EnrolInvite) error {
	if len(inv.CodeHash) < 16 || !inv.ExpiresAt.After(inv.CreatedAt) || inv.CreatedAt.IsZero() {
		return store.Errorf(store.Invalid, "an invite needs a code hash and a lifetime")
	}
	return s.db.InTx(ctx, func(q Querier) error {
		if err := s.lockUser(ctx, q, inv.UserID); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM enrol_invites WHERE user_id = $1`, inv.UserID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO enrol_invites (user_id, code_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			inv.UserID, inv.CodeHash, toDB(inv.CreatedAt), toDB(inv.ExpiresAt))
		return err
	})
}

func (s *Store) CheckEnrolInvite(ctx context.Context, userID int64, codeHash []byte, now time.Time) (*store.EnrolInvite, error) {
	inv := store.EnrolInvite{UserID: userID}
	var created, expires int64
	err := s.db.QueryRow(ctx, `SELECT code_hash, created_at, expires_at FROM enrol_invites
		WHERE user_id = $1 AND code_hash = $2 AND expires_at > $3`, userID, codeHash, toDB(now)).Scan(&inv.CodeHash, &created, &expires)
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("that enrolment code is wrong, used, replaced or expired")
	} else if err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.ExpiresAt = fromDB(created), fromDB(expires)
	return &inv, nil
}

// firstFactorGate checks gate for the user, whom the transaction has locked, and spends its invite.
func (s *Store) firstFactorGate(ctx context.Context, q Querier, userID int64, gate store.FirstFactor) error {
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM mfa_factors WHERE user_id = $1 AND confirmed`, userID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return store.Errorf(store.Forbidden, "the user has a second factor already: adding another takes signing in with it")
	}
	if gate.Recent && gate.InviteHash == nil {
		return nil
	}
	if gate.InviteHash == nil {
		_, err := enrolWindowFor(ctx, q, userID, gate.Now)
		if store.IsCode(err, store.NotFound) {
			return store.Errorf(store.Forbidden, "no enrolment window is open for the user, and no invite was given")
		}
		return err
	}
	// One statement spends the invite: of two redemptions, one deletes it and the other finds none.
	n64, err := q.Exec(ctx, `DELETE FROM enrol_invites WHERE user_id = $1 AND code_hash = $2 AND expires_at > $3`,
		userID, gate.InviteHash, toDB(gate.Now))
	if err == nil && n64 == 0 {
		return notFound("that enrolment code is wrong, used, replaced or expired")
	}
	return err
}

func (s *Store) AddFirstFactor(ctx context.Context, f *store.MFAFactor, gate store.FirstFactor) error {
	if !f.Confirmed {
		return store.Errorf(store.Invalid, "a first factor added in one step is confirmed")
	}
	if err := f.Validate(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(q Querier) error {
		if err := s.lockUser(ctx, q, f.UserID); err != nil {
			return err
		}
		if err := s.firstFactorGate(ctx, q, f.UserID, gate); err != nil {
			return err
		}
		return s.createFactor(ctx, q, f)
	})
}

func (s *Store) ConfirmFirstTOTP(ctx context.Context, factorID, step int64, gate store.FirstFactor) error {
	return s.db.InTx(ctx, func(q Querier) error {
		var uid int64
		err := q.QueryRow(ctx, `SELECT user_id FROM mfa_factors WHERE id = $1 AND kind = 'totp' AND NOT confirmed`, factorID).Scan(&uid)
		if err != nil {
			return wrap(err, fmt.Sprintf("pending authenticator app %d", factorID))
		}
		if err := s.lockUser(ctx, q, uid); err != nil {
			return err
		}
		if err := s.firstFactorGate(ctx, q, uid, gate); err != nil {
			return err
		}
		return useTOTPStep(ctx, q, factorID, step, gate.Now)
	})
}

func (s *Store) RemoveMFAFactor(ctx context.Context, userID, factorID int64, keep int) (int, error) {
	var left int
	err := s.db.InTx(ctx, func(q Querier) error {
		if err := s.lockUser(ctx, q, userID); err != nil {
			return err
		}
		var n, mine int
		if err := q.QueryRow(ctx, `SELECT COUNT(*), COUNT(CASE WHEN id = $2 THEN 1 END) FROM mfa_factors
			WHERE user_id = $1 AND confirmed`, userID, factorID).Scan(&n, &mine); err != nil {
			return err
		}
		if mine == 0 {
			return notFound("second factor %d not found", factorID)
		}
		if left = n - 1; left < keep {
			return store.Errorf(store.Conflict, "a second factor is required: the last one cannot be removed")
		}
		if left > 0 {
			_, err := q.Exec(ctx, `DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2`, factorID, userID)
			return err
		}
		// With no factor left, recovery codes would stand in for nothing, and a pending app for no one.
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `DELETE FROM mfa_factors WHERE user_id = $1`, userID)
		return err
	})
	return left, err
}

func (s *Store) SetEnrolWindow(ctx context.Context, w *store.EnrolWindow) error {
	if w.OpenedAt.IsZero() || !w.EndsAt.After(w.OpenedAt) {
		return store.Errorf(store.Invalid, "an enrolment window ends after it opens")
	}
	return s.db.InTx(ctx, func(q Querier) error {
		scope, acct := globalScope, any(nil)
		w.AccountAlias = ""
		if w.AccountID != "" {
			a, err := scanAccount(q.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1 OR alias_key = $2`,
				w.AccountID, store.Key(w.AccountID)))
			if err != nil {
				return wrap(err, fmt.Sprintf("account %q", w.AccountID))
			}
			w.AccountID, w.AccountAlias = a.ID, a.Alias
			scope, acct = a.ID, a.ID
		}
		_, err := q.Exec(ctx, `INSERT INTO enrol_windows (scope, account_id, opened_at, ends_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (scope) DO UPDATE SET opened_at = excluded.opened_at, ends_at = excluded.ends_at`,
			scope, acct, toDB(w.OpenedAt), toDB(w.EndsAt))
		return err
	})
}

func (s *Store) CloseEnrolWindow(ctx context.Context, account string) error {
	sql, args := `DELETE FROM enrol_windows WHERE scope = $1`, []any{globalScope}
	if account != "" {
		sql = `DELETE FROM enrol_windows WHERE account_id IN (SELECT id FROM accounts WHERE id = $1 OR alias_key = $2)`
		args = []any{account, store.Key(account)}
	}
	n, err := s.db.Exec(ctx, sql, args...)
	if err == nil && n == 0 {
		if account == "" {
			return notFound("no global enrolment window is open")
		}
		return notFound("no enrolment window is open for account %q", account)
	}
	return err
}

const windowCols = `COALESCE(w.account_id, ''), COALESCE(a.alias, ''), w.opened_at, w.ends_at
	FROM enrol_windows w LEFT JOIN accounts a ON a.id = w.account_id`

func scanWindow(r Row) (*store.EnrolWindow, error) {
	var w store.EnrolWindow
	var opened, ends int64
	if err := r.Scan(&w.AccountID, &w.AccountAlias, &opened, &ends); err != nil {
		return nil, err
	}
	w.OpenedAt, w.EndsAt = fromDB(opened), fromDB(ends)
	return &w, nil
}

func (s *Store) ListEnrolWindows(ctx context.Context) ([]*store.EnrolWindow, error) {
	rows, err := s.db.Query(ctx, `SELECT `+windowCols+` ORDER BY w.account_id IS NOT NULL, a.alias_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.EnrolWindow
	for rows.Next() {
		w, err := scanWindow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func (s *Store) EnrolWindowFor(ctx context.Context, userID int64, now time.Time) (*store.EnrolWindow, error) {
	return enrolWindowFor(ctx, s.db, userID, now)
}

func enrolWindowFor(ctx context.Context, q Querier, userID int64, now time.Time) (*store.EnrolWindow, error) {
	w, err := scanWindow(q.QueryRow(ctx, `SELECT `+windowCols+` WHERE w.ends_at > $1 AND (w.scope = '*'
		OR w.account_id IN (SELECT account_id FROM grants WHERE user_id = $2
			OR group_id IN (SELECT group_id FROM group_members WHERE user_id = $2)))
		ORDER BY w.ends_at DESC LIMIT 1`, toDB(now), userID))
	if errors.Is(err, ErrNoRows) {
		return nil, notFound("no enrolment window is open for this user")
	}
	return w, err
}
