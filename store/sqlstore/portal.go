package sqlstore

import (
	"context"
	"fmt"

	"rolegate/store"
)

// ---- portal

func (s *Store) AddFavourite(ctx context.Context, f *store.Favourite, max int) error {
	if max < 1 {
		return store.Errorf(store.Invalid, "a favourites cap is at least 1")
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.now()
	}
	return s.db.InTx(ctx, func(q Querier) error {
		// The user's row serialises one user's concurrent stars, so the cap holds.
		if err := s.lockUser(ctx, q, f.UserID); err != nil {
			return err
		}
		var acct string
		if err := q.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1`, f.AccountID).Scan(&acct); err != nil {
			return wrap(err, fmt.Sprintf("account %q", f.AccountID))
		}
		var n, have int
		if err := q.QueryRow(ctx, `SELECT COUNT(*), COUNT(CASE WHEN account_id = $2 AND role = $3 THEN 1 END)
			FROM portal_favourites WHERE user_id = $1`, f.UserID, f.AccountID, f.Role).Scan(&n, &have); err != nil {
			return err
		}
		switch {
		case have > 0:
			return nil
		case n >= max:
			return store.Errorf(store.Conflict, "you have %d favourites, the most there may be; take the star off one first", n)
		}
		_, err := q.Exec(ctx, `INSERT INTO portal_favourites (user_id, account_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			f.UserID, f.AccountID, f.Role, toDB(f.CreatedAt))
		return wrap(err, "favourite")
	})
}

func (s *Store) RemoveFavourite(ctx context.Context, userID int64, accountID, role string) error {
	n, err := s.db.Exec(ctx, `DELETE FROM portal_favourites WHERE user_id = $1 AND account_id = $2 AND role = $3`, userID, accountID, role)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("role %s in account %s is not a favourite", role, accountID)
	}
	return nil
}

func (s *Store) ListFavourites(ctx context.Context, userID int64) ([]*store.Favourite, error) {
	rows, err := s.db.Query(ctx, `SELECT user_id, account_id, role, created_at FROM portal_favourites WHERE user_id = $1
		ORDER BY created_at, account_id, role`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*store.Favourite{}
	for rows.Next() {
		var f store.Favourite
		var created int64
		if err := rows.Scan(&f.UserID, &f.AccountID, &f.Role, &created); err != nil {
			return nil, err
		}
		f.CreatedAt = fromDB(created)
		out = append(out, &f)
	}
	return out, rows.Err()
}
