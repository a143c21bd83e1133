package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rolegate/store"
)

// ---- key rotation

// signingKeyState locks the key id in q's transaction and returns its state.
func (s *Store) signingKeyState(ctx context.Context, q Querier, id string) (store.KeyState, error) {
	var state string
	if err := q.QueryRow(ctx, `SELECT state FROM signing_keys WHERE id = $1`+s.d.ForUpdate, id).Scan(&state); err != nil {
		return "", wrap(err, fmt.Sprintf("signing key %q", id))
	}
	return store.KeyState(state), nil
}

func (s *Store) PromoteSigningKey(ctx context.Context, id string, now time.Time) error {
	err := s.db.InTx(ctx, func(q Querier) error {
		state, err := s.signingKeyState(ctx, q, id)
		if err != nil {
			return err
		}
		if state != store.KeyNext {
			return store.Errorf(store.Conflict, "signing key %s is %s, not next: only the next key can be activated", id, state)
		}
		var prev string
		switch err := q.QueryRow(ctx, `SELECT id FROM signing_keys WHERE state = 'previous'`).Scan(&prev); {
		case err == nil:
			return store.Errorf(store.Conflict, "signing key %s is still previous: retire it before activating another", prev)
		case !errors.Is(err, ErrNoRows):
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE signing_keys SET state = 'previous' WHERE state = 'current'`); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `UPDATE signing_keys SET state = 'current', activated_at = $1 WHERE id = $2`, toDB(now), id)
		return err
	})
	if errors.Is(err, ErrUnique) { // a concurrent activation made a previous key first
		return store.Errorf(store.Conflict, "another signing key was activated at the same time")
	}
	return err
}

func (s *Store) RetireSigningKey(ctx context.Context, id string, now time.Time) error {
	return s.db.InTx(ctx, func(q Querier) error {
		state, err := s.signingKeyState(ctx, q, id)
		if err != nil {
			return err
		}
		if state != store.KeyPrevious {
			return store.Errorf(store.Conflict, "signing key %s is %s, not previous: only the previous key can be retired", id, state)
		}
		_, err = q.Exec(ctx, `UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE id = $2`, toDB(now), id)
		return err
	})
}
