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
// loser sees Conflict and creates nothing.
func BootstrapAdmin(ctx context.Context, st store.Store, h *password.Hasher, now time.Time) (string, error) {
	users, err := st.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return "", err
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
