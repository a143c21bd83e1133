package idp

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"rolegate/idp/password"
	"rolegate/store"
)

// AdminName is the user created on a store that has none.
const AdminName = "admin"

// BootstrapAdmin creates the admin user with a random one-time password, valid for
// OneTimePasswordTTL from now, when the store has no users at all. It returns the password only
// when it created the user: the caller shows it once. Replicas starting together race safely: the
// loser sees Conflict and creates nothing. On a store with users, a one-time password that has no
// expiry (set before one-time passwords expired) gets OneTimePasswordTTL from now: it may well be in
// a log that is kept.
func BootstrapAdmin(ctx context.Context, st store.Store, h *password.Hasher, now time.Time) (string, error) {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return "", err
	}
	if len(users) > 0 {
		return "", expireOneTime(ctx, st, users, now)
	}
	pw := rand.Text() // 26 base32 characters, 130 bits
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		return "", err
	}
	u := &store.User{Name: AdminName, DisplayName: "Administrator", PasswordHash: hash, MustChangePassword: true,
		PasswordExpiresAt: now.Add(OneTimePasswordTTL)}
	if err := st.CreateUser(ctx, u); err != nil {
		if store.IsCode(err, store.Conflict) {
			return "", nil
		}
		return "", fmt.Errorf("create admin user: %w", err)
	}
	if err := st.AppendAudit(ctx, &store.AuditEvent{Type: "user.bootstrap", User: AdminName, Result: "ok"}); err != nil {
		return "", err
	}
	return pw, nil
}

// expireOneTime gives each of users' one-time passwords without an expiry one that ends
// OneTimePasswordTTL from now.
func expireOneTime(ctx context.Context, st store.Store, users []*store.User, now time.Time) error {
	for _, u := range users {
		if !u.MustChangePassword || !u.PasswordExpiresAt.IsZero() {
			continue
		}
		_, err := st.UpdateUser(ctx, u.Name, func(cur *store.User) error {
			if cur.MustChangePassword && cur.PasswordExpiresAt.IsZero() {
				cur.PasswordExpiresAt = now.Add(OneTimePasswordTTL)
			}
			return nil
		})
		if err != nil && !store.IsCode(err, store.NotFound) {
			return fmt.Errorf("expire the one-time password of %s: %w", u.Name, err)
		}
	}
	return nil
}
