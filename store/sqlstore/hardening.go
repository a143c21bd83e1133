package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"rolegate/store"
)

// ---- unique e-mail addresses

// emailKey is the folded address that must be unique, NULL for a user without one.
func emailKey(email string) any {
	if email == "" {
		return nil
	}
	return store.Key(email)
}

// emailFree returns Conflict when another user than u has u's address, in any case: two people
// with one address would share a session name or source identity in AWS.
func emailFree(ctx context.Context, q Querier, u *User) error {
	if u.Email == "" {
		return nil
	}
	var other string
	err := q.QueryRow(ctx, `SELECT name FROM users WHERE email_key = $1 AND id <> $2`, emailKey(u.Email), u.ID).Scan(&other)
	switch {
	case err == nil:
		return store.Errorf(store.Conflict, "email address %q is already used by user %q", u.Email, other)
	case errors.Is(err, ErrNoRows):
		return nil
	}
	return err
}

// emailTaken turns a unique-index violation on the address (a concurrent writer took it between
// emailFree and the write) into the same Conflict; other errors pass through.
func emailTaken(err error, u *User) error {
	if errors.Is(err, ErrUnique) && strings.Contains(err.Error(), "email_key") {
		return &store.Error{Code: store.Conflict, Message: fmt.Sprintf("email address %q is already used by another user", u.Email), Err: err}
	}
	return err
}

// afterMigration holds the steps that SQL alone cannot do well, run right after a migration's
// file in its transaction.
var afterMigration = map[int]func(ctx context.Context, q Querier) error{
	7: fillEmailKeys,
}

// fillEmailKeys sets email_key for existing users with the same folding as new writes get. When
// users share an address it writes nothing and fails, naming them, for an admin to resolve.
func fillEmailKeys(ctx context.Context, q Querier) error {
	rows, err := q.Query(ctx, `SELECT id, name, email FROM users WHERE email <> '' ORDER BY id`)
	if err != nil {
		return err
	}
	type row struct {
		id          int64
		name, email string
	}
	byKey := map[string][]row{}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.email); err != nil {
			rows.Close()
			return err
		}
		k := store.Key(r.email)
		byKey[k] = append(byKey[k], r)
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var dups []string
	for _, rs := range byKey {
		if len(rs) > 1 {
			var names []string
			for _, r := range rs {
				names = append(names, fmt.Sprintf("%s <%s>", r.name, r.email))
			}
			dups = append(dups, strings.Join(names, ", "))
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		return store.Errorf(store.Conflict, "e-mail addresses must now be unique regardless of case, and these users share one: %s; "+
			"nothing was changed: clear all but one user's address (for example in SQL: UPDATE users SET email = '' WHERE name = 'NAME'), "+
			"then run rolegate again", strings.Join(dups, "; "))
	}
	for _, r := range all {
		if _, err := q.Exec(ctx, `UPDATE users SET email_key = $1 WHERE id = $2`, emailKey(r.email), r.id); err != nil {
			return err
		}
	}
	return nil
}
