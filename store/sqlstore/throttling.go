package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"rolegate/store"
)

// ---- throttling

// errWait rolls back a TakeThrottles that some counter refused.
var errWait = errors.New("sqlstore: a counter makes the attempt wait")

func (s *Store) TakeThrottles(ctx context.Context, now time.Time, takes ...store.Take) ([]store.Throttle, bool, error) {
	out := make([]store.Throttle, len(takes))
	// Rows are locked in key order, so two takes of overlapping counters cannot deadlock.
	order := make([]int, len(takes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(takes[a].Key, takes[b].Key) })
	err := s.db.InTx(ctx, func(q Querier) error {
		wait := false
		for _, i := range order {
			k := takes[i]
			if k.Key == "" || k.Backoff.Window <= 0 {
				return store.Errorf(store.Invalid, "a throttle needs a key and a positive window")
			}
			if _, err := q.Exec(ctx, `INSERT INTO throttles (key, count, reset_at, next_at) VALUES ($1, 0, 0, 0)
				ON CONFLICT (key) DO NOTHING`, k.Key); err != nil {
				return err
			}
			var reset, next int64
			t := store.Throttle{Key: k.Key}
			if err := q.QueryRow(ctx, `SELECT count, reset_at, next_at FROM throttles WHERE key = $1`+s.d.ForUpdate, k.Key).
				Scan(&t.Count, &reset, &next); err != nil {
				return err
			}
			t.ResetAt, t.NextAt = fromDB(reset), fromDB(next)
			if !t.ResetAt.After(now) {
				t = store.Throttle{Key: k.Key}
			}
			wait = wait || t.NextAt.After(now)
			out[i] = t
		}
		if wait {
			return errWait
		}
		for i, k := range takes {
			t := &out[i]
			t.Count++
			// A free attempt sets no wait at all, not one until now: a concurrent attempt whose
			// clock read came a moment earlier would find that in its future and be refused.
			t.NextAt = time.Time{}
			if d := k.Backoff.Delay(t.Count); d > 0 {
				t.NextAt = now.Add(d)
			}
			t.ResetAt = now.Add(max(k.Backoff.Window, k.Backoff.Max))
			if _, err := q.Exec(ctx, `UPDATE throttles SET count = $1, reset_at = $2, next_at = $3 WHERE key = $4`,
				t.Count, toDB(t.ResetAt), toDB(t.NextAt), k.Key); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errWait) {
		return out, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// likePrefix is a LIKE pattern matching strings that start with p.
func likePrefix(p string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(p) + "%"
}

func (s *Store) ListThrottles(ctx context.Context, prefix string, now time.Time) ([]store.Throttle, error) {
	rows, err := s.db.Query(ctx, `SELECT key, count, reset_at, next_at FROM throttles WHERE key LIKE $1 ESCAPE '!'
		AND reset_at > $2 ORDER BY key`, likePrefix(prefix), toDB(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Throttle
	for rows.Next() {
		var t store.Throttle
		var reset, next int64
		if err := rows.Scan(&t.Key, &t.Count, &reset, &next); err != nil {
			return nil, err
		}
		t.ResetAt, t.NextAt = fromDB(reset), fromDB(next)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (s *Store) DeleteThrottles(ctx context.Context, keys ...string) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(q Querier) error {
		n = 0
		for _, k := range keys {
			d, err := q.Exec(ctx, `DELETE FROM throttles WHERE key = $1`, k)
			if err != nil {
				return err
			}
			n += d
		}
		return nil
	})
	return n, err
}

// ---- deployment secrets

func (s *Store) ServerSecret(ctx context.Context, name string, fresh []byte, now time.Time) ([]byte, error) {
	if name == "" || len(fresh) < 16 {
		return nil, store.Errorf(store.Invalid, "a server secret needs a name and at least 16 bytes")
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, fresh, toDB(now)); err != nil {
		return nil, err
	}
	var v []byte
	err := s.db.QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = $1`, name).Scan(&v)
	return v, err
}

// ---- caps

func (s *Store) SavePendingRequestCapped(ctx context.Context, r *store.PendingRequest, max int) (bool, error) {
	if err := checkPendingRequest(r); err != nil {
		return false, err
	}
	saved := false
	err := s.db.InTx(ctx, func(q Querier) error {
		saved = false
		if s.d.KeyLock != "" {
			if _, err := q.Exec(ctx, s.d.KeyLock, "saml_requests:"+r.ClientAddr); err != nil {
				return err
			}
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM saml_requests WHERE client_addr = $1 AND consumed_at = 0
			AND expires_at > $2`, r.ClientAddr, toDB(r.CreatedAt)).Scan(&n); err != nil {
			return err
		}
		if n >= max {
			return nil
		}
		err := insertPendingRequest(ctx, q, r)
		saved = err == nil
		return err
	})
	return saved, err
}

func (s *Store) CreateSessionCapped(ctx context.Context, ss *store.Session, max int) (int, error) {
	if max < 1 {
		return 0, store.Errorf(store.Invalid, "a session cap is at least 1")
	}
	ended := 0
	err := s.db.InTx(ctx, func(q Querier) error {
		ended = 0
		// The user's row serialises concurrent sign-ins of one user, so the cap holds.
		if err := s.lockUser(ctx, q, ss.UserID); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND (expires_at <= $2 OR idle_expires_at <= $2)`,
			ss.UserID, toDB(ss.CreatedAt)); err != nil {
			return err
		}
		if err := insertSession(ctx, q, ss); err != nil {
			return err
		}
		// Sessions that used a second factor outlast those of a password alone: whoever holds only
		// the password cannot sign the user out of finished sessions by signing in again and again.
		rows, err := q.Query(ctx, `SELECT token_hash FROM sessions WHERE user_id = $1 AND token_hash <> $2
			ORDER BY CASE WHEN auth_methods LIKE '%,%' THEN 0 ELSE 1 END, created_at DESC, token_hash DESC`, ss.UserID, ss.TokenHash)
		if err != nil {
			return err
		}
		var old [][]byte
		for i := 0; rows.Next(); i++ {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			if i >= max-1 { // the new session is the max-th
				old = append(old, h)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, h := range old {
			if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, h); err != nil {
				return err
			}
		}
		ended = len(old)
		return nil
	})
	return ended, err
}
