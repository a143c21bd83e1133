// Package storetest is the conformance suite every store backend passes unchanged.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/store"
)

// Run runs the suite. open returns a new, empty, migrated store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"users are created, read case-insensitively, updated and deleted", testUsers},
		{"a user created twice is a conflict, whatever the case", testUserConflict},
		{"an invalid user is refused and nothing is written", testUserInvalid},
		{"concurrent updates of one user lose no writes", testConcurrentUpdates},
		{"concurrent creates of one name let exactly one win", testConcurrentCreates},
		{"groups hold members, and removing a group removes its memberships and grants", testGroups},
		{"accounts have unique IDs and aliases, found by either", testAccounts},
		{"grants reach users directly and through groups", testGrants},
		{"removing an account or a user removes their grants", testGrantCascade},
		{"signing keys rotate: one current, one next", testSigningKeys},
		{"signing keys go next, current, previous, retired, and every other move is refused", testKeyRotation},
		{"concurrent activations or retirements of one signing key let exactly one win", testConcurrentKeyRotation},
		{"sessions expire when idle or old, and vanish with a disabled user", testSessions},
		{"audit events are listed by user and time", testAudit},
		{"throttle counters count, expire and reset", testThrottles},
		{"concurrent throttle hits are all counted", testConcurrentThrottle},
		{"every user gets an opaque subject that never changes", testSubjects},
		{"accounts are updated atomically and validated", testUpdateAccount},
		{"tag rules are unique per account regardless of case, capped, and go with their account", testTagRules},
		{"service providers are stored by entity ID", testServiceProviders},
		{"a pending request is accepted once and consumed once", testPendingRequests},
		{"an account's MFA requirement is kept through create, get, list and update", testAccountRequireMFA},
		{"an account's IAM side is kept, validated, and cleared", testAccountAWSLink},
		{"an account's signing mode is kept and an unknown one refused", testAccountSignMode},
		{"second factors are created, listed oldest first and deleted only by their user", testMFAFactors},
		{"an invalid second factor is refused and nothing is written", testMFAFactorInvalid},
		{"factor names are unique per user regardless of case", testMFAFactorNames},
		{"a user has at most one authenticator app", testOneTOTP},
		{"an unconfirmed authenticator app is replaced by a new one", testUnconfirmedTOTPReplaced},
		{"a security key's credential ID is registered once across all users", testCredentialIDUnique},
		{"a user registers at most MaxMFAFactors factors", testMFAFactorLimit},
		{"a TOTP step confirms the app and is accepted once, older steps never", testUseTOTPStep},
		{"concurrent uses of one TOTP step let exactly one win", testConcurrentTOTPStep},
		{"a security key's state is updated after each use", testUpdateWebAuthnFactor},
		{"deleting a user removes their factors and recovery codes", testMFACascade},
		{"resetting MFA removes every factor and recovery code and counts the factors", testResetMFA},
		{"a recovery code is spent once and the rest are counted", testRecoveryCodes},
		{"concurrent uses of one recovery code let exactly one win", testConcurrentRecoveryCode},
		{"replacing recovery codes drops the old ones, used or not", testReplaceRecoveryCodes},
		{"replacing a session moves it to a new token, once", testReplaceSession},
		{"a session challenge is taken once, before it expires, and goes with its session", testSessionChallenge},
		{"concurrent takes of one challenge let exactly one win", testConcurrentChallengeTake},
		{"an SP's release list and allowed groups are validated, stored, listed and updated atomically", testSPPolicy},
		{"an SP whose every allowed group is deleted admits no one, even a new group of the same name", testSPAllowedGroupDeleted},
		{"pairwise NameIDs differ per SP and from the subject, repeat for one SP, and go with their user", testPairwiseNameIDs},
		{"concurrent first uses of a pairwise NameID agree on one value", testConcurrentPairwiseNameID},
		{"an enrolment invite checks only for its user, until it expires or is replaced", testEnrolInvites},
		{"a first factor needs a live invite, spent with it, or a window, and no factor yet", testFirstFactorNeedsAnInviteOrAWindow},
		{"concurrent first enrolments let exactly one factor in", testConcurrentFirstFactors},
		{"removing a factor keeps the required number and takes the recovery codes with the last", testRemoveMFAFactor},
		{"concurrent removals of the last two required factors let one go", testConcurrentRemovals},
		{"enrolment windows apply globally or through an account's grants, until they end", testEnrolWindows},
		{"audit events are filtered by type", testAuditTypes},
		{"an SP's demand for signed requests is kept and changed only for a registered SP", testSPRequireSignedRequests},
		{"a pending request keeps ForceAuthn and its authentication context classes", testPendingRequestAuthnOptions},
		{"a backoff lets its free attempts through, then doubles its delay up to the cap", testBackoffDelays},
		{"a throttle take counts on every counter or on none", testTakeThrottles},
		{"concurrent takes of shared counters let exactly the free attempts through", testConcurrentTakes},
		{"a server secret is stored once and read by everyone after", testServerSecret},
		{"pending requests are capped per client address", testPendingRequestCap},
		{"sessions are capped per user, ending the oldest", testSessionCap},
		{"audit events are filtered by account and an end time, the limit keeping the newest that match", testAuditAccountUntil},
		{"two users cannot share an e-mail address, whatever its case", testUniqueEmail},
		{"concurrent creates of one e-mail address let exactly one win", testConcurrentEmail},
		{"a one-time password's expiry is kept and cleared", testPasswordExpiry},
		{"a CLI authorization code is taken once, live, and goes with its user", testCLIAuthCodes},
		{"concurrent takes of one CLI authorization code let exactly one win", testConcurrentCLIAuthCodeTake},
		{"a device code is found by its user code while pending, decided once and used at one poll", testDeviceCodes},
		{"polling a device code sooner than its interval slows it down by 5 s", testDeviceCodeSlowDown},
		{"concurrent decisions on one device code let exactly one win", testConcurrentDeviceDecisions},
		{"a CLI session is found by its token until it expires or is revoked, by its own user only", testCLISessions},
		{"a user's live web sessions are listed, newest first, and no one else's", testListUserSessions},
		{"a user's CLI sessions end with their web sessions, when disabled, beyond the cap and with the user", testCLISessionsEnd},
		{"an account's CLI session lifetime is kept, changed, and refused beyond 15m to 12h", testAccountCLISessionMax},
		{"encryption keys: one current and one next per account, promoted atomically, with their AWS key ID, gone with their account", testEncryptionKeys},
		{"concurrent promotions of one encryption key, and concurrent next keys, let exactly one win", testConcurrentEncryptionKeyPromotions},
		{"favourites are kept per user, capped, removed once, and go with their account and user", testFavourites},
		{"racing favourites of one user never pass the cap", testConcurrentFavourites},
		{"an account's label is kept, changed, listed, and refused when not plain text", testAccountLabels},
		{"a setting is set once by the first start, kept by later ones, and replaced only on purpose", testSettings},
		{"concurrent first starts agree on one value of a setting", testConcurrentInitSetting},
		{"audit events are paged by ID with the filters, each page bounded", testPageAudit},
		{"old audit events are counted and pruned in bounded batches, oldest first, the rest kept", testPruneAudit},
		{"a prune of many events lets concurrent appends through, every one kept", testPruneWhileAppending},
		{"an SP's fixed NameID format and a pending request's format are kept, changed and checked", testNameIDFormats},
		{"a pairwise NameID is found once made, and looking for it makes none", testFindPairwiseNameID},
		{"accounts and their tag rules are read by many IDs at once, in order, across chunks", testListByID},
		{"concurrent audit appends are each written once, with their IDs, in each writer's order", testConcurrentAppends},
		{"an audit append whose context has ended returns its error and writes nothing", testAppendCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			tt.fn(t, s)
		})
	}
}

var ctx = context.Background()

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code store.Code) {
	t.Helper()
	if got := store.ErrorCode(err); err == nil || got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

func mkUser(t *testing.T, s store.Store, name string) *store.User {
	t.Helper()
	u := &store.User{Name: name, Email: name + "@example.com", Attributes: map[string]string{"dept": "eng"}}
	must(t, s.CreateUser(ctx, u))
	return u
}

func mkAccount(t *testing.T, s store.Store, id, alias string) *store.Account {
	t.Helper()
	a := &store.Account{ID: id, Alias: alias, ProviderName: "Rolegate", Partition: store.PartitionAWS}
	must(t, s.CreateAccount(ctx, a))
	return a
}

func testUsers(t *testing.T, s store.Store) {
	u := &store.User{Name: "Alice", Email: "alice@example.com", DisplayName: "Alice A.",
		Attributes: map[string]string{"costCenter": "42", "team": "platform"}, PasswordHash: "$argon2id$x"}
	must(t, s.CreateUser(ctx, u))
	if u.ID == 0 || u.CreatedAt.IsZero() {
		t.Fatalf("create did not set ID and CreatedAt: %+v", u)
	}
	got, err := s.GetUser(ctx, "aLiCe")
	must(t, err)
	if got.Name != "Alice" || got.Email != u.Email || got.DisplayName != u.DisplayName || got.PasswordHash != u.PasswordHash ||
		got.Attributes["costCenter"] != "42" || got.Attributes["team"] != "platform" || len(got.Attributes) != 2 {
		t.Fatalf("read back %+v, want %+v", got, u)
	}
	if byID, err := s.GetUserByID(ctx, u.ID); err != nil || byID.Name != "Alice" {
		t.Fatalf("GetUserByID: %v %v", byID, err)
	}
	updated, err := s.UpdateUser(ctx, "alice", func(u *store.User) error {
		u.Disabled = true
		u.Attributes["team"] = "security"
		delete(u.Attributes, "costCenter")
		return nil
	})
	must(t, err)
	if !updated.Disabled || updated.Attributes["team"] != "security" {
		t.Fatalf("update returned %+v", updated)
	}
	got, err = s.GetUser(ctx, "ALICE")
	must(t, err)
	if !got.Disabled || len(got.Attributes) != 1 || got.Attributes["team"] != "security" {
		t.Fatalf("after update read %+v", got)
	}
	mkUser(t, s, "bob")
	list, err := s.ListUsers(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "Alice" || list[1].Name != "bob" || list[1].Attributes["dept"] != "eng" {
		t.Fatalf("list = %+v", list)
	}
	must(t, s.DeleteUser(ctx, "ALICE"))
	_, err = s.GetUser(ctx, "alice")
	wantCode(t, err, store.NotFound)
	wantCode(t, s.DeleteUser(ctx, "alice"), store.NotFound)
	_, err = s.UpdateUser(ctx, "alice", func(*store.User) error { return nil })
	wantCode(t, err, store.NotFound)
}

func testUserConflict(t *testing.T, s store.Store) {
	mkUser(t, s, "carol")
	wantCode(t, s.CreateUser(ctx, &store.User{Name: "carol"}), store.Conflict)
	wantCode(t, s.CreateUser(ctx, &store.User{Name: "CAROL"}), store.Conflict)
	mkUser(t, s, "dave")
	_, err := s.UpdateUser(ctx, "dave", func(u *store.User) error { u.Name = "Carol"; return nil })
	wantCode(t, err, store.Conflict)
	if _, err := s.GetUser(ctx, "dave"); err != nil {
		t.Fatalf("dave after a failed rename: %v", err)
	}
}

func testUserInvalid(t *testing.T, s store.Store) {
	bad := []*store.User{
		{Name: ""},
		{Name: "has space"},
		{Name: "-leading"},
		{Name: "ok", Email: "not-an-email"},
		{Name: "ok", Attributes: map[string]string{"bad key": "v"}},
		{Name: "ok", Attributes: map[string]string{"k": "line\nbreak"}},
	}
	for _, u := range bad {
		wantCode(t, s.CreateUser(ctx, u), store.Invalid)
	}
	if list, err := s.ListUsers(ctx); err != nil || len(list) != 0 {
		t.Fatalf("invalid users were written: %v %v", list, err)
	}
	mkUser(t, s, "erin")
	_, err := s.UpdateUser(ctx, "erin", func(u *store.User) error { u.Email = "bad"; u.Disabled = true; return nil })
	wantCode(t, err, store.Invalid)
	got, err := s.GetUser(ctx, "erin")
	must(t, err)
	if got.Disabled || got.Email != "erin@example.com" {
		t.Fatalf("a refused update changed the user: %+v", got)
	}
	_, err = s.UpdateUser(ctx, "erin", func(u *store.User) error {
		u.Disabled = true
		return store.Errorf(store.Invalid, "changed my mind")
	})
	wantCode(t, err, store.Invalid)
	if got, _ := s.GetUser(ctx, "erin"); got.Disabled {
		t.Fatal("an update whose function failed was written")
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	mkUser(t, s, "frank")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateUser(ctx, "frank", func(u *store.User) error {
				u.Attributes[fmt.Sprintf("k%d", i)] = "v"
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := s.GetUser(ctx, "frank")
	must(t, err)
	if len(got.Attributes) != n+1 {
		t.Fatalf("after %d concurrent updates the user has %d attributes, want %d: %v", n, len(got.Attributes), n+1, got.Attributes)
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	exactlyOneWins(t, 8, func(i int) error {
		name := "grace"
		if i%2 == 1 {
			name = "GRACE"
		}
		return s.CreateUser(ctx, &store.User{Name: name})
	}, "")
}

func testGroups(t *testing.T, s store.Store) {
	mkUser(t, s, "heidi")
	mkUser(t, s, "ivan")
	g := &store.Group{Name: "Admins"}
	must(t, s.CreateGroup(ctx, g))
	wantCode(t, s.CreateGroup(ctx, &store.Group{Name: "admins"}), store.Conflict)
	wantCode(t, s.CreateGroup(ctx, &store.Group{Name: "bad name"}), store.Invalid)
	must(t, s.AddGroupMember(ctx, "admins", "IVAN"))
	must(t, s.AddGroupMember(ctx, "Admins", "heidi"))
	wantCode(t, s.AddGroupMember(ctx, "admins", "ivan"), store.Conflict)
	wantCode(t, s.AddGroupMember(ctx, "nope", "ivan"), store.NotFound)
	wantCode(t, s.AddGroupMember(ctx, "admins", "nobody"), store.NotFound)
	got, err := s.GetGroup(ctx, "ADMINS")
	must(t, err)
	if got.Name != "Admins" || fmt.Sprint(got.Members) != "[heidi ivan]" {
		t.Fatalf("group = %+v", got)
	}
	groups, err := s.UserGroups(ctx, "ivan")
	must(t, err)
	if fmt.Sprint(groups) != "[Admins]" {
		t.Fatalf("UserGroups = %v", groups)
	}
	must(t, s.CreateGroup(ctx, &store.Group{Name: "empty"}))
	list, err := s.ListGroups(ctx)
	must(t, err)
	if len(list) != 2 || fmt.Sprint(list[0].Members) != "[heidi ivan]" || list[1].Name != "empty" || len(list[1].Members) != 0 {
		t.Fatalf("ListGroups = %+v %+v", list[0], list[1])
	}
	must(t, s.RemoveGroupMember(ctx, "admins", "heidi"))
	wantCode(t, s.RemoveGroupMember(ctx, "admins", "heidi"), store.NotFound)

	mkAccount(t, s, "111122223333", "prod")
	must(t, s.CreateGrant(ctx, &store.Grant{Group: "admins", AccountID: "prod", Role: "Admin"}))
	must(t, s.DeleteGroup(ctx, "ADMINS"))
	wantCode(t, s.DeleteGroup(ctx, "admins"), store.NotFound)
	if groups, _ := s.UserGroups(ctx, "ivan"); len(groups) != 0 {
		t.Fatalf("membership survived its group: %v", groups)
	}
	if grants, _ := s.ListGrants(ctx, store.GrantFilter{}); len(grants) != 0 {
		t.Fatalf("grant survived its group: %+v", grants)
	}
	// A new group of the same name starts empty.
	must(t, s.CreateGroup(ctx, &store.Group{Name: "admins"}))
	if g, _ := s.GetGroup(ctx, "admins"); len(g.Members) != 0 {
		t.Fatalf("recreated group inherited members %v", g.Members)
	}
}

func testAccounts(t *testing.T, s store.Store) {
	a := mkAccount(t, s, "111122223333", "Prod")
	if a.CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	wantCode(t, s.CreateAccount(ctx, &store.Account{ID: "111122223333", Alias: "other", ProviderName: "p", Partition: "aws"}), store.Conflict)
	wantCode(t, s.CreateAccount(ctx, &store.Account{ID: "444455556666", Alias: "prod", ProviderName: "p", Partition: "aws"}), store.Conflict)
	bad := []store.Account{
		{ID: "12345678901", Alias: "short", ProviderName: "p", Partition: "aws"},
		{ID: "1234567890123", Alias: "long", ProviderName: "p", Partition: "aws"},
		{ID: "12345678901a", Alias: "letter", ProviderName: "p", Partition: "aws"},
		{ID: "444455556666", Alias: "777788889999", ProviderName: "p", Partition: "aws"},
		{ID: "444455556666", Alias: "x", ProviderName: "bad name", Partition: "aws"},
		{ID: "444455556666", Alias: "x", ProviderName: "p", Partition: "aws-iso"},
		{ID: "444455556666", Alias: "x", ProviderName: "p", Partition: "aws", Region: "cn-north-1"},
		{ID: "444455556666", Alias: "x", ProviderName: "p", Partition: "aws", SessionDuration: 899 * time.Second},
		{ID: "444455556666", Alias: "x", ProviderName: "p", Partition: "aws", SessionDuration: 43201 * time.Second},
	}
	for _, b := range bad {
		wantCode(t, s.CreateAccount(ctx, &b), store.Invalid)
	}
	gov := &store.Account{ID: "444455556666", Alias: "gov", ProviderName: "Rolegate", Partition: store.PartitionGovCloud,
		Region: "us-gov-west-1", SessionDuration: 43200 * time.Second}
	must(t, s.CreateAccount(ctx, gov))
	for _, key := range []string{"444455556666", "GOV"} {
		got, err := s.GetAccount(ctx, key)
		must(t, err)
		if got.ID != gov.ID || got.Alias != "gov" || got.Partition != store.PartitionGovCloud || got.Region != "us-gov-west-1" ||
			got.SessionDuration != 12*time.Hour || got.ProviderName != "Rolegate" {
			t.Fatalf("GetAccount(%q) = %+v", key, got)
		}
	}
	list, err := s.ListAccounts(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Alias != "gov" || list[1].Alias != "Prod" {
		t.Fatalf("ListAccounts = %+v", list)
	}
	must(t, s.DeleteAccount(ctx, "prod"))
	_, err = s.GetAccount(ctx, "111122223333")
	wantCode(t, err, store.NotFound)
	wantCode(t, s.DeleteAccount(ctx, "prod"), store.NotFound)
}

func testGrants(t *testing.T, s store.Store) {
	mkUser(t, s, "judy")
	mkUser(t, s, "mallory")
	must(t, s.CreateGroup(ctx, &store.Group{Name: "devs"}))
	must(t, s.AddGroupMember(ctx, "devs", "judy"))
	mkAccount(t, s, "111122223333", "prod")
	mkAccount(t, s, "444455556666", "dev")

	g := &store.Grant{Group: "DEVS", AccountID: "dev", Role: "path/Developer", SessionDuration: time.Hour}
	must(t, s.CreateGrant(ctx, g))
	if g.ID == 0 || g.AccountID != "444455556666" || g.AccountAlias != "dev" || g.Group != "devs" {
		t.Fatalf("grant after create: %+v", g)
	}
	must(t, s.CreateGrant(ctx, &store.Grant{User: "Judy", AccountID: "111122223333", Role: "ReadOnly"}))
	wantCode(t, s.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: "444455556666", Role: "path/Developer"}), store.Conflict)
	wantCode(t, s.CreateGrant(ctx, &store.Grant{Group: "nope", AccountID: "dev", Role: "R"}), store.NotFound)
	wantCode(t, s.CreateGrant(ctx, &store.Grant{User: "nobody", AccountID: "dev", Role: "R"}), store.NotFound)
	wantCode(t, s.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: "missing", Role: "R"}), store.NotFound)
	wantCode(t, s.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: "dev", Role: "bad role!"}), store.Invalid)
	wantCode(t, s.CreateGrant(ctx, &store.Grant{Group: "devs", User: "judy", AccountID: "dev", Role: "R"}), store.Invalid)
	wantCode(t, s.CreateGrant(ctx, &store.Grant{Group: "devs", AccountID: "dev", Role: "R", SessionDuration: time.Minute}), store.Invalid)

	eff, err := s.ListGrants(ctx, store.GrantFilter{User: "JUDY", Effective: true})
	must(t, err)
	if len(eff) != 2 || eff[0].AccountAlias != "dev" || eff[0].Role != "path/Developer" || eff[0].SessionDuration != time.Hour ||
		eff[1].AccountAlias != "prod" || eff[1].User != "judy" {
		t.Fatalf("effective grants = %+v", eff)
	}
	direct, err := s.ListGrants(ctx, store.GrantFilter{User: "judy"})
	must(t, err)
	if len(direct) != 1 || direct[0].Role != "ReadOnly" {
		t.Fatalf("direct grants = %+v", direct)
	}
	if none, _ := s.ListGrants(ctx, store.GrantFilter{User: "mallory", Effective: true}); len(none) != 0 {
		t.Fatalf("mallory has grants: %+v", none)
	}
	byAcct, err := s.ListGrants(ctx, store.GrantFilter{Account: "444455556666"})
	must(t, err)
	if len(byAcct) != 1 || byAcct[0].Group != "devs" {
		t.Fatalf("grants by account = %+v", byAcct)
	}
	must(t, s.DeleteGrant(ctx, g.ID))
	wantCode(t, s.DeleteGrant(ctx, g.ID), store.NotFound)
	must(t, s.RemoveGroupMember(ctx, "devs", "judy"))
	if eff, _ := s.ListGrants(ctx, store.GrantFilter{User: "judy", Effective: true}); len(eff) != 1 {
		t.Fatalf("after leaving the group: %+v", eff)
	}
}

func testGrantCascade(t *testing.T, s store.Store) {
	mkUser(t, s, "niaj")
	mkAccount(t, s, "111122223333", "prod")
	must(t, s.CreateGrant(ctx, &store.Grant{User: "niaj", AccountID: "prod", Role: "Admin"}))
	must(t, s.DeleteAccount(ctx, "prod"))
	if gs, _ := s.ListGrants(ctx, store.GrantFilter{}); len(gs) != 0 {
		t.Fatalf("grant survived its account: %+v", gs)
	}
	mkAccount(t, s, "111122223333", "prod")
	must(t, s.CreateGrant(ctx, &store.Grant{User: "niaj", AccountID: "prod", Role: "Admin"}))
	must(t, s.DeleteUser(ctx, "niaj"))
	if gs, _ := s.ListGrants(ctx, store.GrantFilter{}); len(gs) != 0 {
		t.Fatalf("grant survived its user: %+v", gs)
	}
	// A new user of the same name does not inherit the old one's grants.
	mkUser(t, s, "niaj")
	if gs, _ := s.ListGrants(ctx, store.GrantFilter{User: "niaj", Effective: true}); len(gs) != 0 {
		t.Fatalf("new user inherited grants: %+v", gs)
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	key := func(id string, state store.KeyState) *store.SigningKey {
		return &store.SigningKey{ID: id, State: state, Certificate: []byte("cert-" + id), SealedKey: []byte("sealed-" + id),
			KEKID: "kek1", CreatedAt: now, ActivatedAt: now}
	}
	must(t, s.CreateSigningKey(ctx, key("a", store.KeyCurrent)))
	wantCode(t, s.CreateSigningKey(ctx, key("b", store.KeyCurrent)), store.Conflict)
	wantCode(t, s.CreateSigningKey(ctx, key("b", store.KeyRetired)), store.Invalid)
	nk := key("b", store.KeyNext)
	nk.CreatedAt, nk.ActivatedAt = now.Add(time.Minute), time.Time{}
	must(t, s.CreateSigningKey(ctx, nk))
	wantCode(t, s.CreateSigningKey(ctx, key("c", store.KeyNext)), store.Conflict)
	wantCode(t, s.PromoteSigningKey(ctx, "a", now), store.Conflict)
	wantCode(t, s.PromoteSigningKey(ctx, "zzz", now), store.NotFound)
	later := now.Add(time.Hour)
	must(t, s.PromoteSigningKey(ctx, "b", later))
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if len(keys) != 2 || keys[0].ID != "a" || keys[0].State != store.KeyPrevious || !keys[0].RetiredAt.IsZero() ||
		keys[1].State != store.KeyCurrent || !keys[1].ActivatedAt.Equal(later) || string(keys[1].SealedKey) != "sealed-b" ||
		string(keys[1].Certificate) != "cert-b" || keys[1].KEKID != "kek1" {
		t.Fatalf("keys after promotion: %+v %+v", keys[0], keys[1])
	}
	must(t, s.CreateSigningKey(ctx, key("c", store.KeyNext)))
}

func testSessions(t *testing.T, s store.Store) {
	u := mkUser(t, s, "olivia")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sess := func(h string) *store.Session {
		return &store.Session{TokenHash: []byte(h + "-0123456789abcdef"), UserID: u.ID, AuthMethods: "pwd", AuthenticatedAt: now,
			CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(8 * time.Hour),
			ClientAddr: "192.0.2.1", UserAgent: "test"}
	}
	a := sess("a")
	must(t, s.CreateSession(ctx, a))
	wantCode(t, s.CreateSession(ctx, sess("a")), store.Conflict)
	got, err := s.GetSession(ctx, a.TokenHash, now.Add(29*time.Minute))
	must(t, err)
	if got.UserID != u.ID || got.AuthMethods != "pwd" || !got.ExpiresAt.Equal(a.ExpiresAt) || got.ClientAddr != "192.0.2.1" {
		t.Fatalf("session = %+v", got)
	}
	_, err = s.GetSession(ctx, a.TokenHash, now.Add(30*time.Minute))
	wantCode(t, err, store.NotFound)
	must(t, s.TouchSession(ctx, a.TokenHash, now.Add(29*time.Minute), now.Add(59*time.Minute)))
	_, err = s.GetSession(ctx, a.TokenHash, now.Add(58*time.Minute))
	must(t, err)
	// The absolute timeout holds however recently the session was used.
	must(t, s.TouchSession(ctx, a.TokenHash, now.Add(8*time.Hour), now.Add(9*time.Hour)))
	_, err = s.GetSession(ctx, a.TokenHash, now.Add(8*time.Hour))
	wantCode(t, err, store.NotFound)
	n, err := s.DeleteExpiredSessions(ctx, now.Add(8*time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions removed %d, want 1", n)
	}
	wantCode(t, s.TouchSession(ctx, a.TokenHash, now, now), store.NotFound)

	b, c := sess("b"), sess("c")
	must(t, s.CreateSession(ctx, b))
	must(t, s.CreateSession(ctx, c))
	must(t, s.DeleteSession(ctx, b.TokenHash))
	_, err = s.GetSession(ctx, b.TokenHash, now)
	wantCode(t, err, store.NotFound)
	_, err = s.UpdateUser(ctx, "olivia", func(u *store.User) error { u.Disabled = true; return nil })
	must(t, err)
	_, err = s.GetSession(ctx, c.TokenHash, now)
	wantCode(t, err, store.NotFound)
	_, err = s.UpdateUser(ctx, "olivia", func(u *store.User) error { u.Disabled = false; return nil })
	must(t, err)
	_, err = s.GetSession(ctx, c.TokenHash, now)
	wantCode(t, err, store.NotFound) // disabling revoked it for good

	d := sess("d")
	must(t, s.CreateSession(ctx, d))
	must(t, s.DeleteUserSessions(ctx, u.ID))
	_, err = s.GetSession(ctx, d.TokenHash, now)
	wantCode(t, err, store.NotFound)
	wantCode(t, s.CreateSession(ctx, &store.Session{TokenHash: []byte("short"), UserID: u.ID}), store.Invalid)
}

func testAudit(t *testing.T, s store.Store) {
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, who := range []string{"Peggy", "victor", "peggy", "walter"} {
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: base.Add(time.Duration(i) * time.Hour), Type: "login", User: who,
			Result: "ok", ClientAddr: "198.51.100.7", Details: map[string]string{"n": fmt.Sprint(i)}}))
	}
	wantCode(t, s.AppendAudit(ctx, &store.AuditEvent{User: "x"}), store.Invalid)
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(all) != 4 || all[0].User != "Peggy" || all[3].User != "walter" || all[2].Details["n"] != "2" || !all[1].Time.Equal(base.Add(time.Hour)) {
		t.Fatalf("ListAudit = %+v", all)
	}
	peggy, err := s.ListAudit(ctx, store.AuditFilter{User: "PEGGY"})
	must(t, err)
	if len(peggy) != 2 {
		t.Fatalf("by user: %+v", peggy)
	}
	since, err := s.ListAudit(ctx, store.AuditFilter{Since: base.Add(2 * time.Hour)})
	must(t, err)
	if len(since) != 2 || since[0].User != "peggy" {
		t.Fatalf("since: %+v", since)
	}
	last, err := s.ListAudit(ctx, store.AuditFilter{Limit: 1})
	must(t, err)
	if len(last) != 1 || last[0].User != "walter" {
		t.Fatalf("limit keeps the newest: %+v", last)
	}
}

func testThrottles(t *testing.T, s store.Store) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	w := 15 * time.Minute
	for i := 1; i <= 3; i++ {
		th, err := s.HitThrottle(ctx, "user:quinn", w, now.Add(time.Duration(i)*time.Minute))
		must(t, err)
		if th.Count != i || !th.ResetAt.Equal(now.Add(time.Minute+w)) {
			t.Fatalf("hit %d: %+v", i, th)
		}
	}
	th, err := s.GetThrottle(ctx, "user:quinn", now.Add(time.Minute+w-time.Microsecond))
	must(t, err)
	if th.Count != 3 {
		t.Fatalf("get before the window ends: %+v", th)
	}
	th, err = s.GetThrottle(ctx, "user:quinn", now.Add(time.Minute+w))
	must(t, err)
	if th.Count != 0 {
		t.Fatalf("get after the window ends: %+v", th)
	}
	th, err = s.HitThrottle(ctx, "user:quinn", w, now.Add(time.Minute+w))
	must(t, err)
	if th.Count != 1 || !th.ResetAt.Equal(now.Add(time.Minute+2*w)) {
		t.Fatalf("hit after the window restarts it: %+v", th)
	}
	if n, err := s.DeleteThrottles(ctx, "user:quinn"); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	if th, _ := s.GetThrottle(ctx, "user:quinn", now); th.Count != 0 {
		t.Fatalf("after delete: %+v", th)
	}
	_, err = s.HitThrottle(ctx, "ip:a", w, now)
	must(t, err)
	_, err = s.HitThrottle(ctx, "ip:b", 2*w, now)
	must(t, err)
	n, err := s.DeleteExpiredThrottles(ctx, now.Add(w))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredThrottles removed %d, want 1", n)
	}
	if th, _ := s.GetThrottle(ctx, "ip:b", now.Add(w)); th.Count != 1 {
		t.Fatalf("live counter was removed: %+v", th)
	}
	_, err = s.HitThrottle(ctx, "k", 0, now)
	wantCode(t, err, store.Invalid)
}

func testConcurrentThrottle(t *testing.T, s store.Store) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	const n = 24
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.HitThrottle(ctx, "ip:storm", time.Hour, now); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	th, err := s.GetThrottle(ctx, "ip:storm", now)
	must(t, err)
	if th.Count != n {
		t.Fatalf("count = %d after %d concurrent hits", th.Count, n)
	}
}

func testSubjects(t *testing.T, s store.Store) {
	a, b := mkUser(t, s, "sub1"), mkUser(t, s, "sub2")
	if !strings.HasPrefix(a.Subject, "rg-") || len(a.Subject) < 20 || a.Subject == b.Subject || strings.Contains(a.Subject, "sub1") {
		t.Fatalf("subjects %q and %q must be opaque, long and distinct", a.Subject, b.Subject)
	}
	u, err := s.UpdateUser(ctx, "sub1", func(u *store.User) error { u.Subject = "hijack"; u.Name = "renamed"; return nil })
	must(t, err)
	if u.Subject != a.Subject {
		t.Fatalf("an update changed the subject to %q", u.Subject)
	}
	if got, _ := s.GetUser(ctx, "renamed"); got.Subject != a.Subject {
		t.Fatalf("stored subject %q, want %q", got.Subject, a.Subject)
	}
}

func testUpdateAccount(t *testing.T, s store.Store) {
	mkAccount(t, s, "111122223333", "prod")
	mkAccount(t, s, "444455556666", "dev")
	got, _ := s.GetAccount(ctx, "prod")
	if got.SessionNameSource != store.FromUsername || got.SourceIdentitySource != store.FromNone {
		t.Fatalf("defaults: %+v", got)
	}
	a, err := s.UpdateAccount(ctx, "PROD", func(a *store.Account) error {
		a.ID = "999999999999"
		a.SessionNameSource, a.SourceIdentitySource, a.Region = store.FromEmail, store.FromUsername, "eu-west-1"
		return nil
	})
	must(t, err)
	if a.ID != "111122223333" || a.SessionNameSource != store.FromEmail || a.Region != "eu-west-1" {
		t.Fatalf("updated: %+v", a)
	}
	got, _ = s.GetAccount(ctx, "111122223333")
	if got.SourceIdentitySource != store.FromUsername || got.Region != "eu-west-1" {
		t.Fatalf("stored: %+v", got)
	}
	_, err = s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.Alias = "DEV"; return nil })
	wantCode(t, err, store.Conflict)
	_, err = s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.SourceIdentitySource = "nickname"; a.Region = "us-east-1"; return nil })
	wantCode(t, err, store.Invalid)
	if got, _ := s.GetAccount(ctx, "prod"); got.Region != "eu-west-1" {
		t.Fatalf("a refused update was written: %+v", got)
	}
	_, err = s.UpdateAccount(ctx, "nope", func(*store.Account) error { return nil })
	wantCode(t, err, store.NotFound)
}

func testTagRules(t *testing.T, s store.Store) {
	mkAccount(t, s, "111122223333", "prod")
	r := &store.TagRule{AccountID: "PROD", Key: "Team", FromAttr: "team", Transitive: true}
	must(t, s.CreateTagRule(ctx, r))
	if r.ID == 0 || r.AccountID != "111122223333" || r.AccountAlias != "prod" {
		t.Fatalf("rule after create: %+v", r)
	}
	wantCode(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: "prod", Key: "team", Value: "x"}), store.Conflict)
	wantCode(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: "prod", Key: "k", Value: "x", FromAttr: "team"}), store.Invalid)
	empty := &store.TagRule{AccountID: "prod", Key: "empty"}
	must(t, s.CreateTagRule(ctx, empty)) // an empty literal is a legal tag value
	wantCode(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: "nope", Key: "k", Value: "v"}), store.NotFound)
	for i := 2; i < store.MaxTagRules; i++ {
		must(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: "prod", Key: fmt.Sprintf("k%02d", i), Value: "v"}))
	}
	wantCode(t, s.CreateTagRule(ctx, &store.TagRule{AccountID: "prod", Key: "one-too-many", Value: "v"}), store.Conflict)
	rules, err := s.ListTagRules(ctx, "111122223333")
	must(t, err)
	if len(rules) != store.MaxTagRules || rules[len(rules)-1].Key != "Team" || !rules[len(rules)-1].Transitive || rules[len(rules)-1].FromAttr != "team" {
		t.Fatalf("%d rules, last %+v", len(rules), rules[len(rules)-1])
	}
	if rules[0].Key != "empty" || rules[0].Value != "" || rules[0].FromAttr != "" {
		t.Fatalf("first rule %+v", rules[0])
	}
	must(t, s.DeleteTagRule(ctx, r.ID))
	wantCode(t, s.DeleteTagRule(ctx, r.ID), store.NotFound)
	must(t, s.DeleteAccount(ctx, "prod"))
	if rules, _ := s.ListTagRules(ctx, ""); len(rules) != 0 {
		t.Fatalf("%d rules survived their account", len(rules))
	}
}

func testServiceProviders(t *testing.T, s store.Store) {
	sp := &store.ServiceProvider{EntityID: "https://sp.example.com/saml", Metadata: []byte("<EntityDescriptor/>")}
	must(t, s.CreateServiceProvider(ctx, sp))
	wantCode(t, s.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: sp.EntityID, Metadata: []byte("x")}), store.Conflict)
	wantCode(t, s.CreateServiceProvider(ctx, &store.ServiceProvider{EntityID: "", Metadata: []byte("x")}), store.Invalid)
	got, err := s.GetServiceProvider(ctx, sp.EntityID)
	must(t, err)
	if string(got.Metadata) != "<EntityDescriptor/>" {
		t.Fatalf("metadata %q", got.Metadata)
	}
	list, err := s.ListServiceProviders(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("list: %d", len(list))
	}
	must(t, s.DeleteServiceProvider(ctx, sp.EntityID))
	_, err = s.GetServiceProvider(ctx, sp.EntityID)
	wantCode(t, err, store.NotFound)
}

func testPendingRequests(t *testing.T, s store.Store) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	req := func(h, id string) *store.PendingRequest {
		return &store.PendingRequest{HandleHash: []byte(h + "-0123456789abcdef"), SPEntityID: "https://sp.example.com", RequestID: id,
			ACSURL: "https://sp.example.com/acs", RelayState: "rs", CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
	}
	a := req("a", "id-1")
	must(t, savePending(ctx, s, a))
	wantCode(t, savePending(ctx, s, req("b", "id-1")), store.Conflict)
	got, err := s.GetPendingRequest(ctx, a.HandleHash, now.Add(time.Minute))
	must(t, err)
	if got.RequestID != "id-1" || got.ACSURL != a.ACSURL || got.RelayState != "rs" || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("pending request: %+v", got)
	}
	_, err = s.GetPendingRequest(ctx, a.HandleHash, now.Add(30*time.Minute))
	wantCode(t, err, store.NotFound)

	const n = 6
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); results <- s.ConsumePendingRequest(ctx, a.HandleHash, now.Add(time.Minute)) }()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		} else if store.ErrorCode(err) != store.NotFound {
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent consumers succeeded, want 1", ok)
	}
	_, err = s.GetPendingRequest(ctx, a.HandleHash, now.Add(time.Minute))
	wantCode(t, err, store.NotFound)
	c := req("c", "id-2")
	must(t, savePending(ctx, s, c))
	wantCode(t, s.ConsumePendingRequest(ctx, c.HandleHash, now.Add(31*time.Minute)), store.NotFound)
	deleted, err := s.DeleteExpiredPendingRequests(ctx, now.Add(30*time.Minute))
	must(t, err)
	if deleted != 2 {
		t.Fatalf("deleted %d expired requests, want 2", deleted)
	}
}

// oneWins runs fn n times at once and checks that exactly one call succeeds and the others fail with loser.
func oneWins(t *testing.T, n int, loser store.Code, fn func() error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{}) // all calls start together, to overlap as much as they can
	results := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; results <- fn() }()
	}
	close(start)
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		} else if store.ErrorCode(err) != loser {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent calls succeeded, want 1", ok, n)
	}
}

func testAccountRequireMFA(t *testing.T, s store.Store) {
	a := &store.Account{ID: "111122223333", Alias: "prod", ProviderName: "Rolegate", Partition: store.PartitionAWS, RequireMFA: true}
	must(t, s.CreateAccount(ctx, a))
	mkAccount(t, s, "444455556666", "dev")
	got, err := s.GetAccount(ctx, "prod")
	must(t, err)
	if !got.RequireMFA {
		t.Fatalf("created with RequireMFA, read back %+v", got)
	}
	list, err := s.ListAccounts(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Alias != "dev" || list[0].RequireMFA || !list[1].RequireMFA {
		t.Fatalf("ListAccounts = %+v %+v", list[0], list[1])
	}
	updated, err := s.UpdateAccount(ctx, "prod", func(a *store.Account) error { a.RequireMFA = false; return nil })
	must(t, err)
	if updated.RequireMFA {
		t.Fatalf("update returned %+v", updated)
	}
	if got, _ := s.GetAccount(ctx, "prod"); got.RequireMFA {
		t.Fatal("RequireMFA still set after an update cleared it")
	}
	_, err = s.UpdateAccount(ctx, "dev", func(a *store.Account) error { a.RequireMFA = true; return nil })
	must(t, err)
	if got, _ := s.GetAccount(ctx, "444455556666"); !got.RequireMFA {
		t.Fatal("RequireMFA not set by an update")
	}
}

func totp(userID int64, name string) *store.MFAFactor {
	return &store.MFAFactor{UserID: userID, Kind: store.FactorTOTP, Name: name, Secret: []byte("sealed-" + name)}
}

func webauthn(userID int64, name, credID string) *store.MFAFactor {
	return &store.MFAFactor{UserID: userID, Kind: store.FactorWebAuthn, Name: name, Secret: []byte(`{"key":"` + name + `"}`),
		CredentialID: []byte(credID), Confirmed: true}
}

func listFactors(t *testing.T, s store.Store, userID int64) []*store.MFAFactor {
	t.Helper()
	fs, err := s.ListMFAFactors(ctx, userID)
	must(t, err)
	return fs
}

func testMFAFactors(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "rupert"), mkUser(t, s, "sybil")
	if fs := listFactors(t, s, u.ID); len(fs) != 0 {
		t.Fatalf("a new user has factors: %+v", fs)
	}
	app := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, app))
	if app.ID == 0 || app.CreatedAt.IsZero() {
		t.Fatalf("create did not set ID and CreatedAt: %+v", app)
	}
	key := webauthn(u.ID, "YubiKey 5", "cred-1")
	must(t, s.CreateMFAFactor(ctx, key))
	fs := listFactors(t, s, u.ID)
	if len(fs) != 2 {
		t.Fatalf("ListMFAFactors = %+v", fs)
	}
	a, k := fs[0], fs[1]
	if a.ID != app.ID || a.UserID != u.ID || a.Kind != store.FactorTOTP || a.Name != "Phone" || string(a.Secret) != "sealed-Phone" ||
		a.CredentialID != nil || a.Confirmed || a.LastStep != 0 || !a.CreatedAt.Equal(app.CreatedAt) || !a.LastUsedAt.IsZero() {
		t.Fatalf("authenticator app read back %+v, want %+v", a, app)
	}
	if k.ID != key.ID || k.Kind != store.FactorWebAuthn || k.Name != "YubiKey 5" || string(k.Secret) != `{"key":"YubiKey 5"}` ||
		string(k.CredentialID) != "cred-1" || !k.Confirmed {
		t.Fatalf("security key read back %+v, want %+v", k, key)
	}
	if fs := listFactors(t, s, other.ID); len(fs) != 0 {
		t.Fatalf("another user sees factors: %+v", fs)
	}
	wantCode(t, s.DeleteMFAFactor(ctx, other.ID, key.ID), store.NotFound)
	must(t, s.DeleteMFAFactor(ctx, u.ID, key.ID))
	wantCode(t, s.DeleteMFAFactor(ctx, u.ID, key.ID), store.NotFound)
	if fs := listFactors(t, s, u.ID); len(fs) != 1 || fs[0].ID != app.ID {
		t.Fatalf("after delete: %+v", fs)
	}
	wantCode(t, s.CreateMFAFactor(ctx, totp(u.ID+other.ID+1000, "Phone")), store.NotFound)
}

func testMFAFactorInvalid(t *testing.T, s store.Store) {
	u := mkUser(t, s, "trent")
	long := strings.Repeat("é", 64)
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, long, "cred-long-name"))) // 64 characters, more than 64 bytes
	big := webauthn(u.ID, "big", strings.Repeat("x", store.MaxCredentialIDLen))
	must(t, s.CreateMFAFactor(ctx, big))
	bad := []*store.MFAFactor{
		webauthn(u.ID, "", "c1"),
		webauthn(u.ID, long+"é", "c2"),
		webauthn(u.ID, "tab\there", "c3"),
		webauthn(u.ID, "bad\xffutf8", "c4"),
		webauthn(u.ID, "no credential", ""),
		webauthn(u.ID, "huge credential", strings.Repeat("x", store.MaxCredentialIDLen+1)),
		{UserID: u.ID, Kind: store.FactorTOTP, Name: "with credential", Secret: []byte("s"), CredentialID: []byte("c5")},
		{UserID: u.ID, Kind: store.FactorTOTP, Name: "no secret"},
		{UserID: u.ID, Kind: "sms", Name: "sms", Secret: []byte("s")},
	}
	for _, f := range bad {
		wantCode(t, s.CreateMFAFactor(ctx, f), store.Invalid)
	}
	if fs := listFactors(t, s, u.ID); len(fs) != 2 {
		t.Fatalf("invalid factors were written: %+v", fs)
	}
}

func testMFAFactorNames(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "uma"), mkUser(t, s, "victor")
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "YubiKey", "cred-1")))
	err := s.CreateMFAFactor(ctx, webauthn(u.ID, "yubikey", "cred-2"))
	wantCode(t, err, store.Conflict)
	if !strings.Contains(store.ErrorMessage(err), "yubikey") {
		t.Fatalf("the conflict does not name the factor: %v", err)
	}
	wantCode(t, s.CreateMFAFactor(ctx, totp(u.ID, "YUBIKEY")), store.Conflict)
	must(t, s.CreateMFAFactor(ctx, webauthn(other.ID, "yubikey", "cred-2")))
}

func testOneTOTP(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "wendy"), mkUser(t, s, "xavier")
	app := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, app))
	must(t, s.UseTOTPStep(ctx, app.ID, 1000, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)))
	err := s.CreateMFAFactor(ctx, totp(u.ID, "Tablet"))
	wantCode(t, err, store.Conflict)
	if !strings.Contains(store.ErrorMessage(err), "authenticator app") {
		t.Fatalf("the conflict does not say why: %v", err)
	}
	if fs := listFactors(t, s, u.ID); len(fs) != 1 || fs[0].ID != app.ID || !fs[0].Confirmed {
		t.Fatalf("a refused app changed the factors: %+v", fs)
	}
	// Another user's app, with its NULL credential ID, is no clash.
	must(t, s.CreateMFAFactor(ctx, totp(other.ID, "Phone")))
	// Security keys sit beside the app.
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "Key", "cred-1")))
}

func testUnconfirmedTOTPReplaced(t *testing.T, s store.Store) {
	u := mkUser(t, s, "yolanda")
	key := webauthn(u.ID, "Key", "cred-1")
	must(t, s.CreateMFAFactor(ctx, key))
	first := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, first))
	second := totp(u.ID, "phone")
	second.Secret = []byte("sealed-second")
	must(t, s.CreateMFAFactor(ctx, second))
	fs := listFactors(t, s, u.ID)
	if len(fs) != 2 || fs[0].ID != key.ID || fs[1].ID != second.ID || string(fs[1].Secret) != "sealed-second" {
		t.Fatalf("after re-enrolling: %+v", fs)
	}
	wantCode(t, s.UseTOTPStep(ctx, first.ID, 1, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)), store.NotFound)
	// A new app whose name clashes with a security key fails, and the unconfirmed one stays.
	wantCode(t, s.CreateMFAFactor(ctx, totp(u.ID, "KEY")), store.Conflict)
	if fs := listFactors(t, s, u.ID); len(fs) != 2 || fs[1].ID != second.ID {
		t.Fatalf("a refused app removed the pending one: %+v", fs)
	}
}

func testCredentialIDUnique(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "zack"), mkUser(t, s, "amy")
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "Key", "cred-1")))
	err := s.CreateMFAFactor(ctx, webauthn(other.ID, "Key", "cred-1"))
	wantCode(t, err, store.Conflict)
	if !strings.Contains(store.ErrorMessage(err), "already registered") {
		t.Fatalf("the conflict does not say why: %v", err)
	}
	wantCode(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "Same key again", "cred-1")), store.Conflict)
	must(t, s.CreateMFAFactor(ctx, webauthn(other.ID, "Key", "CRED-1"))) // IDs are bytes, compared exactly
}

func testMFAFactorLimit(t *testing.T, s store.Store) {
	u := mkUser(t, s, "bea")
	pending := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, pending))
	for i := 2; i <= store.MaxMFAFactors; i++ {
		must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, fmt.Sprintf("key %02d", i), fmt.Sprintf("cred-%02d", i))))
	}
	err := s.CreateMFAFactor(ctx, webauthn(u.ID, "one too many", "cred-x"))
	wantCode(t, err, store.Conflict)
	if !strings.Contains(store.ErrorMessage(err), fmt.Sprint(store.MaxMFAFactors)) {
		t.Fatalf("the conflict does not name the limit: %v", err)
	}
	// At the limit, a new app still replaces the unconfirmed one.
	must(t, s.CreateMFAFactor(ctx, totp(u.ID, "New phone")))
	if fs := listFactors(t, s, u.ID); len(fs) != store.MaxMFAFactors {
		t.Fatalf("%d factors, want %d", len(fs), store.MaxMFAFactors)
	}
	fs := listFactors(t, s, u.ID)
	must(t, s.DeleteMFAFactor(ctx, u.ID, fs[0].ID))
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "one too many", "cred-x")))
	wantCode(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "another", "cred-y")), store.Conflict)
}

func testUseTOTPStep(t *testing.T, s store.Store) {
	u := mkUser(t, s, "cleo")
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	app := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, app))
	must(t, s.UseTOTPStep(ctx, app.ID, 59000, now))
	f := listFactors(t, s, u.ID)[0]
	if !f.Confirmed || f.LastStep != 59000 || !f.LastUsedAt.Equal(now) {
		t.Fatalf("after the first code: %+v", f)
	}
	err := s.UseTOTPStep(ctx, app.ID, 59000, now.Add(time.Second))
	wantCode(t, err, store.Conflict)
	wantCode(t, s.UseTOTPStep(ctx, app.ID, 58999, now.Add(time.Second)), store.Conflict)
	if f := listFactors(t, s, u.ID)[0]; f.LastStep != 59000 || !f.LastUsedAt.Equal(now) {
		t.Fatalf("a refused code changed the factor: %+v", f)
	}
	must(t, s.UseTOTPStep(ctx, app.ID, 59001, now.Add(30*time.Second)))
	if f := listFactors(t, s, u.ID)[0]; f.LastStep != 59001 || !f.LastUsedAt.Equal(now.Add(30*time.Second)) {
		t.Fatalf("after the next code: %+v", f)
	}
	key := webauthn(u.ID, "Key", "cred-1")
	must(t, s.CreateMFAFactor(ctx, key))
	wantCode(t, s.UseTOTPStep(ctx, key.ID, 59002, now), store.NotFound)
	wantCode(t, s.UseTOTPStep(ctx, app.ID+key.ID+1000, 59002, now), store.NotFound)
}

func testConcurrentTOTPStep(t *testing.T, s store.Store) {
	u := mkUser(t, s, "dora")
	app := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, app))
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	oneWins(t, 16, store.Conflict, func() error { return s.UseTOTPStep(ctx, app.ID, 59000, now) })
}

func testUpdateWebAuthnFactor(t *testing.T, s store.Store) {
	u := mkUser(t, s, "edna")
	now := time.Date(2026, 8, 2, 0, 0, 0, 0, time.UTC)
	key := webauthn(u.ID, "Key", "cred-1")
	must(t, s.CreateMFAFactor(ctx, key))
	app := totp(u.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, app))
	must(t, s.UpdateWebAuthnFactor(ctx, key.ID, key.Secret, []byte(`{"signCount":7}`), now))
	f := listFactors(t, s, u.ID)[0]
	if f.ID != key.ID || string(f.Secret) != `{"signCount":7}` || !f.LastUsedAt.Equal(now) || string(f.CredentialID) != "cred-1" {
		t.Fatalf("after update: %+v", f)
	}
	// A sign-in that read the state before that update must not overwrite it.
	wantCode(t, s.UpdateWebAuthnFactor(ctx, key.ID, key.Secret, []byte(`{"signCount":5}`), now.Add(time.Second)), store.Conflict)
	if f := listFactors(t, s, u.ID)[0]; string(f.Secret) != `{"signCount":7}` || !f.LastUsedAt.Equal(now) {
		t.Fatalf("a stale update was written: %+v", f)
	}
	wantCode(t, s.UpdateWebAuthnFactor(ctx, app.ID, app.Secret, []byte("x"), now), store.NotFound)
	wantCode(t, s.UpdateWebAuthnFactor(ctx, key.ID+app.ID+1000, nil, []byte("x"), now), store.NotFound)
	// Of concurrent updates from the same state, one wins.
	cur := []byte(`{"signCount":7}`)
	oneWins(t, 16, store.Conflict, func() error {
		return s.UpdateWebAuthnFactor(ctx, key.ID, cur, []byte(`{"signCount":8}`), now)
	})
	if f := listFactors(t, s, u.ID)[1]; string(f.Secret) != "sealed-Phone" {
		t.Fatalf("an app was changed as a security key: %+v", f)
	}
}

func codes(names ...string) [][]byte {
	var out [][]byte
	for _, n := range names {
		out = append(out, []byte("hash-"+n))
	}
	return out
}

func countCodes(t *testing.T, s store.Store, userID int64) int {
	t.Helper()
	n, err := s.CountRecoveryCodes(ctx, userID)
	must(t, err)
	return n
}

func testMFACascade(t *testing.T, s store.Store) {
	u := mkUser(t, s, "fay")
	now := time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)
	must(t, s.CreateMFAFactor(ctx, totp(u.ID, "Phone")))
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "Key", "cred-1")))
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("a", "b"), now))
	must(t, s.DeleteUser(ctx, "fay"))
	if fs := listFactors(t, s, u.ID); len(fs) != 0 {
		t.Fatalf("factors survived their user: %+v", fs)
	}
	if n := countCodes(t, s, u.ID); n != 0 {
		t.Fatalf("%d recovery codes survived their user", n)
	}
	// The key is free for whoever holds it next; a new user of the old name starts without factors.
	again := mkUser(t, s, "fay")
	if fs := listFactors(t, s, again.ID); len(fs) != 0 {
		t.Fatalf("a new user inherited factors: %+v", fs)
	}
	must(t, s.CreateMFAFactor(ctx, webauthn(again.ID, "Key", "cred-1")))
}

func testResetMFA(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "gus"), mkUser(t, s, "hana")
	now := time.Date(2026, 8, 4, 0, 0, 0, 0, time.UTC)
	must(t, s.CreateMFAFactor(ctx, totp(u.ID, "Phone")))
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "Key", "cred-1")))
	must(t, s.CreateMFAFactor(ctx, webauthn(u.ID, "Backup key", "cred-2")))
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("a", "b"), now))
	must(t, s.CreateMFAFactor(ctx, webauthn(other.ID, "Key", "cred-3")))
	must(t, s.ReplaceRecoveryCodes(ctx, other.ID, codes("a"), now))
	n, err := s.ResetMFA(ctx, u.ID)
	must(t, err)
	if n != 3 {
		t.Fatalf("ResetMFA removed %d factors, want 3", n)
	}
	if fs := listFactors(t, s, u.ID); len(fs) != 0 || countCodes(t, s, u.ID) != 0 {
		t.Fatalf("after reset: %d codes, factors %+v", countCodes(t, s, u.ID), fs)
	}
	if fs := listFactors(t, s, other.ID); len(fs) != 1 || countCodes(t, s, other.ID) != 1 {
		t.Fatalf("another user's MFA was reset: %d codes, factors %+v", countCodes(t, s, other.ID), fs)
	}
	n, err = s.ResetMFA(ctx, u.ID)
	must(t, err)
	if n != 0 {
		t.Fatalf("a second reset removed %d factors", n)
	}
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "ines"), mkUser(t, s, "jack")
	now := time.Date(2026, 8, 5, 0, 0, 0, 0, time.UTC)
	if n := countCodes(t, s, u.ID); n != 0 {
		t.Fatalf("a new user has %d recovery codes", n)
	}
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("a", "b", "c"), now))
	must(t, s.ReplaceRecoveryCodes(ctx, other.ID, codes("a", "z"), now))
	if n := countCodes(t, s, u.ID); n != 3 {
		t.Fatalf("%d recovery codes, want 3", n)
	}
	left, err := s.UseRecoveryCode(ctx, u.ID, []byte("hash-b"), now)
	must(t, err)
	if left != 2 || countCodes(t, s, u.ID) != 2 {
		t.Fatalf("%d codes left (counted %d), want 2", left, countCodes(t, s, u.ID))
	}
	_, err = s.UseRecoveryCode(ctx, u.ID, []byte("hash-b"), now.Add(time.Minute))
	wantCode(t, err, store.NotFound)
	_, err = s.UseRecoveryCode(ctx, u.ID, []byte("hash-z"), now) // another user's
	wantCode(t, err, store.NotFound)
	_, err = s.UseRecoveryCode(ctx, u.ID, []byte("hash-nope"), now)
	wantCode(t, err, store.NotFound)
	if n := countCodes(t, s, other.ID); n != 2 {
		t.Fatalf("another user's codes were spent: %d left", n)
	}
	for _, c := range []string{"a", "c"} {
		_, err := s.UseRecoveryCode(ctx, u.ID, []byte("hash-"+c), now)
		must(t, err)
	}
	if n := countCodes(t, s, u.ID); n != 0 {
		t.Fatalf("%d codes left after spending all", n)
	}
	wantCode(t, s.ReplaceRecoveryCodes(ctx, u.ID, nil, now), store.Invalid)
	wantCode(t, s.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{[]byte("hash-d"), {}}, now), store.Invalid)
	wantCode(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("d", "d"), now), store.Invalid)
	wantCode(t, s.ReplaceRecoveryCodes(ctx, u.ID+other.ID+1000, codes("d"), now), store.NotFound)
}

func testConcurrentRecoveryCode(t *testing.T, s store.Store) {
	u := mkUser(t, s, "kate")
	now := time.Date(2026, 8, 5, 0, 0, 0, 0, time.UTC)
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("a", "b"), now))
	oneWins(t, 16, store.NotFound, func() error {
		left, err := s.UseRecoveryCode(ctx, u.ID, []byte("hash-a"), now)
		if err == nil && left != 1 {
			return fmt.Errorf("%d codes left, want 1", left)
		}
		return err
	})
	if n := countCodes(t, s, u.ID); n != 1 {
		t.Fatalf("%d codes left, want 1", n)
	}
}

func testReplaceRecoveryCodes(t *testing.T, s store.Store) {
	u := mkUser(t, s, "liam")
	now := time.Date(2026, 8, 6, 0, 0, 0, 0, time.UTC)
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("a", "b"), now))
	_, err := s.UseRecoveryCode(ctx, u.ID, []byte("hash-a"), now)
	must(t, err)
	// The new set may repeat an old hash, used or not; it starts unused.
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("a", "c", "d"), now.Add(time.Hour)))
	if n := countCodes(t, s, u.ID); n != 3 {
		t.Fatalf("%d codes after replacing, want 3", n)
	}
	_, err = s.UseRecoveryCode(ctx, u.ID, []byte("hash-b"), now)
	wantCode(t, err, store.NotFound)
	left, err := s.UseRecoveryCode(ctx, u.ID, []byte("hash-a"), now)
	must(t, err)
	if left != 2 {
		t.Fatalf("%d codes left, want 2", left)
	}
	// A refused replacement keeps the old codes.
	wantCode(t, s.ReplaceRecoveryCodes(ctx, u.ID, codes("e", "e"), now), store.Invalid)
	if n := countCodes(t, s, u.ID); n != 2 {
		t.Fatalf("a refused replacement changed the codes: %d left", n)
	}
}

func mkSession(u *store.User, h string, now time.Time) *store.Session {
	return &store.Session{TokenHash: []byte(h + "-0123456789abcdef"), UserID: u.ID, AuthMethods: "pwd", AuthenticatedAt: now,
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(8 * time.Hour),
		ClientAddr: "192.0.2.1", UserAgent: "test"}
}

func testReplaceSession(t *testing.T, s store.Store) {
	u := mkUser(t, s, "mona")
	now := time.Date(2026, 8, 7, 12, 0, 0, 0, time.UTC)
	old := mkSession(u, "old", now)
	must(t, s.CreateSession(ctx, old))
	next := mkSession(u, "new", now.Add(time.Minute))
	next.AuthMethods, next.AuthenticatedAt, next.ClientAddr, next.UserAgent = "pwd,otp", now.Add(time.Minute), "192.0.2.2", "agent"
	must(t, s.ReplaceSession(ctx, old.TokenHash, next))
	_, err := s.GetSession(ctx, old.TokenHash, now.Add(2*time.Minute))
	wantCode(t, err, store.NotFound)
	got, err := s.GetSession(ctx, next.TokenHash, now.Add(2*time.Minute))
	must(t, err)
	if string(got.TokenHash) != string(next.TokenHash) || got.UserID != u.ID || got.AuthMethods != "pwd,otp" ||
		!got.AuthenticatedAt.Equal(next.AuthenticatedAt) || !got.CreatedAt.Equal(next.CreatedAt) || !got.LastSeenAt.Equal(next.LastSeenAt) ||
		!got.IdleExpiresAt.Equal(next.IdleExpiresAt) || !got.ExpiresAt.Equal(next.ExpiresAt) || got.ClientAddr != "192.0.2.2" ||
		got.UserAgent != "agent" {
		t.Fatalf("replaced session = %+v, want %+v", got, next)
	}
	// The old token is gone: a second replacement from it fails and creates nothing.
	third := mkSession(u, "third", now)
	wantCode(t, s.ReplaceSession(ctx, old.TokenHash, third), store.NotFound)
	_, err = s.GetSession(ctx, third.TokenHash, now)
	wantCode(t, err, store.NotFound)
	// A refused new session keeps the old one.
	wantCode(t, s.ReplaceSession(ctx, next.TokenHash, &store.Session{TokenHash: []byte("short"), UserID: u.ID}), store.Invalid)
	if _, err := s.GetSession(ctx, next.TokenHash, now.Add(2*time.Minute)); err != nil {
		t.Fatalf("a refused replacement removed the session: %v", err)
	}
}

func testSessionChallenge(t *testing.T, s store.Store) {
	u := mkUser(t, s, "nora")
	now := time.Date(2026, 8, 8, 12, 0, 0, 0, time.UTC)
	sess := mkSession(u, "a", now)
	must(t, s.CreateSession(ctx, sess))
	h := sess.TokenHash
	_, err := s.TakeSessionChallenge(ctx, h, now)
	wantCode(t, err, store.NotFound)

	must(t, s.SetSessionChallenge(ctx, h, []byte("first"), now.Add(5*time.Minute)))
	must(t, s.SetSessionChallenge(ctx, h, []byte("second"), now.Add(5*time.Minute)))
	got, err := s.TakeSessionChallenge(ctx, h, now.Add(time.Minute))
	must(t, err)
	if string(got) != "second" {
		t.Fatalf("took %q, want the latest challenge", got)
	}
	_, err = s.TakeSessionChallenge(ctx, h, now.Add(time.Minute))
	wantCode(t, err, store.NotFound)

	must(t, s.SetSessionChallenge(ctx, h, []byte("late"), now.Add(5*time.Minute)))
	_, err = s.TakeSessionChallenge(ctx, h, now.Add(5*time.Minute))
	wantCode(t, err, store.NotFound)
	got, err = s.TakeSessionChallenge(ctx, h, now.Add(5*time.Minute-time.Microsecond))
	must(t, err)
	if string(got) != "late" {
		t.Fatalf("took %q just before expiry", got)
	}

	wantCode(t, s.SetSessionChallenge(ctx, []byte("unknown-0123456789abcdef"), []byte("x"), now.Add(time.Minute)), store.NotFound)

	// A replaced session leaves its challenge behind.
	must(t, s.SetSessionChallenge(ctx, h, []byte("old"), now.Add(5*time.Minute)))
	next := mkSession(u, "b", now)
	must(t, s.ReplaceSession(ctx, h, next))
	_, err = s.TakeSessionChallenge(ctx, next.TokenHash, now)
	wantCode(t, err, store.NotFound)

	// The challenge goes with its session: a new session under the same token starts without one.
	must(t, s.SetSessionChallenge(ctx, next.TokenHash, []byte("gone"), now.Add(5*time.Minute)))
	must(t, s.DeleteSession(ctx, next.TokenHash))
	_, err = s.TakeSessionChallenge(ctx, next.TokenHash, now)
	wantCode(t, err, store.NotFound)
	must(t, s.CreateSession(ctx, mkSession(u, "b", now)))
	_, err = s.TakeSessionChallenge(ctx, next.TokenHash, now)
	wantCode(t, err, store.NotFound)
}

func testConcurrentChallengeTake(t *testing.T, s store.Store) {
	u := mkUser(t, s, "omar")
	now := time.Date(2026, 8, 9, 12, 0, 0, 0, time.UTC)
	sess := mkSession(u, "a", now)
	must(t, s.CreateSession(ctx, sess))
	must(t, s.SetSessionChallenge(ctx, sess.TokenHash, []byte("challenge"), now.Add(5*time.Minute)))
	oneWins(t, 16, store.NotFound, func() error {
		got, err := s.TakeSessionChallenge(ctx, sess.TokenHash, now)
		if err == nil && string(got) != "challenge" {
			return fmt.Errorf("took %q", got)
		}
		return err
	})
}

// savePending saves a pending request under a cap no test reaches, as the SSO handler saves them.
func savePending(ctx context.Context, s store.Store, r *store.PendingRequest) error {
	_, err := s.SavePendingRequestCapped(ctx, r, 1000)
	return err
}
