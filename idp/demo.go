package idp

import (
	"context"
	"crypto/rand"
	"slices"
	"time"

	"rolegate/certs"
	"rolegate/idp/password"
	"rolegate/store"
)

// Demo data: one user, one group, and three accounts whose sign-ins go to the checker: the second
// requires a second factor, the third encrypted assertions.
const (
	DemoUser             = "demo"
	DemoGroup            = "demo-engineers"
	DemoAccount          = "111122223333"
	DemoMFAAccount       = "444455556666"
	DemoEncryptedAccount = "777788889999"
	// DemoIdPID stands for the IdP ID AWS would give the encrypted demo account's SAML provider:
	// the checker plays that account's IAM, which holds its current encryption key.
	DemoIdPID = "ROLEGATE-DEMO-IDP"
)

// DemoAccounts are the demo's account IDs.
var DemoAccounts = []string{DemoAccount, DemoMFAAccount, DemoEncryptedAccount}

// SeedDemo creates the demo user, group, accounts, grants, tag rules and the encrypted account's
// key (sealed under kek) when they are missing. It returns the demo user's password when it
// created the user, for the caller to print once.
func SeedDemo(ctx context.Context, st store.Store, h *password.Hasher, kek *certs.KEK) (string, error) {
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
		func() error {
			return st.CreateAccount(ctx, &store.Account{ID: DemoEncryptedAccount, Alias: "demo-encrypted", ProviderName: "Rolegate",
				Partition: store.PartitionAWS, AWS: store.AWSLink{Encrypt: store.EncryptRequired, IdPID: DemoIdPID}})
		},
		func() error {
			return st.CreateGrant(ctx, &store.Grant{Group: DemoGroup, AccountID: DemoEncryptedAccount, Role: "DemoReadOnly"})
		},
		func() error { return seedDemoEncryptionKey(ctx, st, kek) },
	}
	for _, step := range steps {
		if err := step(); err != nil && !store.IsCode(err, store.Conflict) {
			return "", err
		}
	}
	return pw, nil
}

// seedDemoEncryptionKey gives the encrypted demo account a current key, as rolegate aws register
// would after uploading it, unless it has one.
func seedDemoEncryptionKey(ctx context.Context, st store.Store, kek *certs.KEK) error {
	keys, err := st.ListEncryptionKeys(ctx, DemoEncryptedAccount)
	if err != nil || slices.ContainsFunc(keys, func(k *store.EncryptionKey) bool { return k.State == store.KeyCurrent }) {
		return err
	}
	now := time.Now().UTC()
	k, err := certs.NewEncryptionKey(kek, DemoEncryptedAccount, "Rolegate demo encryption", now, nil)
	if err != nil {
		return err
	}
	k.State, k.ActivatedAt = store.KeyCurrent, now
	return st.CreateEncryptionKey(ctx, k)
}
