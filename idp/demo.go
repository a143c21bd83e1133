package idp

import (
	"context"
	"crypto/rand"

	"rolegate/idp/password"
	"rolegate/store"
)

// Demo data: one user, one group, and two accounts whose sign-ins go to the checker, the second of
// which requires a second factor.
const (
	DemoUser       = "demo"
	DemoGroup      = "demo-engineers"
	DemoAccount    = "111122223333"
	DemoMFAAccount = "444455556666"
)

// DemoAccounts are the demo's account IDs.
var DemoAccounts = []string{DemoAccount, DemoMFAAccount}

// SeedDemo creates the demo user, group, account, grants and tag rule when they are missing. It
// returns the demo user's password when it created the user, for the caller to print once.
func SeedDemo(ctx context.Context, st store.Store, h *password.Hasher) (string, error) {
	var pw string
	if _, err := st.GetUser(ctx, DemoUser); store.IsCode(err, store.NotFound) {
		pw = rand.Text()
		hash, err := h.Hash(ctx, pw)
		if err != nil {
			return "", err
		}
		u := &store.User{Name: DemoUser, Email: "demo@example.com", DisplayName: "Demo Engineer", PasswordHash: hash,
			Attributes: map[string]string{"team": "platform", "costCenter": "4711"}}
		if err := st.CreateUser(ctx, u); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	steps := []func() error{
		func() error { return st.CreateGroup(ctx, &store.Group{Name: DemoGroup}) },
		func() error { return st.AddGroupMember(ctx, DemoGroup, DemoUser) },
		func() error {
			return st.CreateAccount(ctx, &store.Account{ID: DemoAccount, Alias: "demo", ProviderName: "Rolegate",
				Partition: store.PartitionAWS, SessionDuration: 4 * 3600e9, SourceIdentitySource: store.FromUsername})
		},
		func() error {
			return st.CreateGrant(ctx, &store.Grant{Group: DemoGroup, AccountID: DemoAccount, Role: "DemoReadOnly"})
		},
		func() error {
			return st.CreateGrant(ctx, &store.Grant{Group: DemoGroup, AccountID: DemoAccount, Role: "DemoAdmin", SessionDuration: 3600e9})
		},
		func() error {
			return st.CreateTagRule(ctx, &store.TagRule{AccountID: DemoAccount, Key: "team", FromAttr: "team", Transitive: true})
		},
		func() error {
			return st.CreateTagRule(ctx, &store.TagRule{AccountID: DemoAccount, Key: "cost-center", FromAttr: "costCenter"})
		},
		func() error {
			return st.CreateAccount(ctx, &store.Account{ID: DemoMFAAccount, Alias: "demo-mfa", ProviderName: "Rolegate",
				Partition: store.PartitionAWS, RequireMFA: true})
		},
		func() error {
			return st.CreateGrant(ctx, &store.Grant{Group: DemoGroup, AccountID: DemoMFAAccount, Role: "DemoAdmin"})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil && !store.IsCode(err, store.Conflict) {
			return "", err
		}
	}
	return pw, nil
}
