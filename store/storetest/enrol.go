package storetest

import (
	"fmt"
	"testing"
	"time"

	"rolegate/store"
)

// enrolNow is the clock of the enrolment cases.
var enrolNow = time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte { return []byte(fmt.Sprintf("%-32s", s)) }

func mkInvite(t *testing.T, s store.Store, u *store.User, code string, ttl time.Duration) {
	t.Helper()
	must(t, s.CreateEnrolInvite(ctx, &store.EnrolInvite{UserID: u.ID, CodeHash: hash(code), CreatedAt: enrolNow, ExpiresAt: enrolNow.Add(ttl)}))
}

func testEnrolInvites(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "ivy"), mkUser(t, s, "jack")
	mkInvite(t, s, u, "first", time.Hour)
	if inv, err := s.CheckEnrolInvite(ctx, u.ID, hash("first"), enrolNow); err != nil || inv.UserID != u.ID ||
		!inv.ExpiresAt.Equal(enrolNow.Add(time.Hour)) || !inv.CreatedAt.Equal(enrolNow) {
		t.Fatalf("CheckEnrolInvite = %+v, %v", inv, err)
	}
	for name, check := range map[string]func() error{
		"another user's code": func() error { _, err := s.CheckEnrolInvite(ctx, other.ID, hash("first"), enrolNow); return err },
		"a wrong code":        func() error { _, err := s.CheckEnrolInvite(ctx, u.ID, hash("second"), enrolNow); return err },
		"at its expiry": func() error {
			_, err := s.CheckEnrolInvite(ctx, u.ID, hash("first"), enrolNow.Add(time.Hour))
			return err
		},
	} {
		if err := check(); store.ErrorCode(err) != store.NotFound {
			t.Errorf("%s: %v, want NotFound", name, err)
		}
	}
	// A new invite replaces the earlier one.
	mkInvite(t, s, u, "second", time.Hour)
	if _, err := s.CheckEnrolInvite(ctx, u.ID, hash("first"), enrolNow); store.ErrorCode(err) != store.NotFound {
		t.Errorf("the replaced invite still checks: %v", err)
	}
	if _, err := s.CheckEnrolInvite(ctx, u.ID, hash("second"), enrolNow); err != nil {
		t.Errorf("the new invite: %v", err)
	}
	wantCode(t, s.CreateEnrolInvite(ctx, &store.EnrolInvite{UserID: u.ID + other.ID + 1000, CodeHash: hash("x"), CreatedAt: enrolNow,
		ExpiresAt: enrolNow.Add(time.Hour)}), store.NotFound)
	wantCode(t, s.CreateEnrolInvite(ctx, &store.EnrolInvite{UserID: u.ID, CodeHash: hash("x"), CreatedAt: enrolNow, ExpiresAt: enrolNow}), store.Invalid)
	wantCode(t, s.CreateEnrolInvite(ctx, &store.EnrolInvite{UserID: u.ID, CreatedAt: enrolNow, ExpiresAt: enrolNow.Add(time.Hour)}), store.Invalid)
	if _, err := s.CheckEnrolInvite(ctx, u.ID, hash("second"), enrolNow); err != nil {
		t.Errorf("refused invites replaced the good one: %v", err)
	}
	// It goes with its user.
	must(t, s.DeleteUser(ctx, u.Name))
	if _, err := s.CheckEnrolInvite(ctx, u.ID, hash("second"), enrolNow); store.ErrorCode(err) != store.NotFound {
		t.Errorf("a deleted user's invite still checks: %v", err)
	}
}

func testFirstFactorNeedsAnInviteOrAWindow(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "kim"), mkUser(t, s, "lou")
	gate := store.FirstFactor{Now: enrolNow}
	// No invite, no window: refused, and nothing is written.
	wantCode(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key", "cred-1"), gate), store.Forbidden)
	mkInvite(t, s, other, "lous", time.Hour)
	wantCode(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key", "cred-1"), store.FirstFactor{InviteHash: hash("lous"), Now: enrolNow}), store.NotFound)
	mkInvite(t, s, u, "kims", time.Hour)
	wantCode(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key", "cred-1"), store.FirstFactor{InviteHash: hash("kims"), Now: enrolNow.Add(time.Hour)}), store.NotFound)
	if fs := listFactors(t, s, u.ID); len(fs) != 0 {
		t.Fatalf("refused first factors were stored: %+v", fs)
	}
	// The invite works once.
	must(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key", "cred-1"), store.FirstFactor{InviteHash: hash("kims"), Now: enrolNow}))
	if _, err := s.CheckEnrolInvite(ctx, u.ID, hash("kims"), enrolNow); store.ErrorCode(err) != store.NotFound {
		t.Errorf("the spent invite still checks: %v", err)
	}
	// With a factor, no other is a first one, invite or window.
	mkInvite(t, s, u, "again", time.Hour)
	must(t, s.SetEnrolWindow(ctx, &store.EnrolWindow{OpenedAt: enrolNow, EndsAt: enrolNow.Add(time.Hour)}))
	wantCode(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key 2", "cred-2"), store.FirstFactor{InviteHash: hash("again"), Now: enrolNow}), store.Forbidden)
	wantCode(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key 2", "cred-2"), gate), store.Forbidden)
	if _, err := s.CheckEnrolInvite(ctx, u.ID, hash("again"), enrolNow); err != nil {
		t.Errorf("a refused enrolment spent the invite: %v", err)
	}
	// The global window lets the other user in, until it ends.
	wantCode(t, s.AddFirstFactor(ctx, webauthn(other.ID, "Key", "cred-3"), store.FirstFactor{Now: enrolNow.Add(time.Hour)}), store.Forbidden)
	must(t, s.AddFirstFactor(ctx, webauthn(other.ID, "Key", "cred-3"), gate))
	wantCode(t, s.AddFirstFactor(ctx, &store.MFAFactor{UserID: other.ID, Kind: store.FactorWebAuthn, Name: "K", Secret: []byte("{}"),
		CredentialID: []byte("c")}, gate), store.Invalid)

	// A pending app is confirmed as a first factor under the same rules.
	v := mkUser(t, s, "max")
	must(t, s.CloseEnrolWindow(ctx, ""))
	app := totp(v.ID, "Phone")
	must(t, s.CreateMFAFactor(ctx, app))
	wantCode(t, s.ConfirmFirstTOTP(ctx, app.ID, 59000, gate), store.Forbidden)
	mkInvite(t, s, v, "maxs", time.Hour)
	wantCode(t, s.ConfirmFirstTOTP(ctx, app.ID, 59000, store.FirstFactor{InviteHash: hash("kims"), Now: enrolNow}), store.NotFound)
	if f := listFactors(t, s, v.ID)[0]; f.Confirmed || f.LastStep != 0 {
		t.Fatalf("a refused confirmation changed the app: %+v", f)
	}
	must(t, s.ConfirmFirstTOTP(ctx, app.ID, 59000, store.FirstFactor{InviteHash: hash("maxs"), Now: enrolNow}))
	if f := listFactors(t, s, v.ID)[0]; !f.Confirmed || f.LastStep != 59000 || !f.LastUsedAt.Equal(enrolNow) {
		t.Fatalf("the confirmed app: %+v", f)
	}
	wantCode(t, s.ConfirmFirstTOTP(ctx, app.ID, 59001, gate), store.NotFound)

	// A second factor used minutes ago (since removed) needs neither invite nor window, but it
	// adds only a first factor.
	recent := store.FirstFactor{Now: enrolNow, Recent: true}
	wantCode(t, s.AddFirstFactor(ctx, webauthn(u.ID, "Key 3", "cred-4"), recent), store.Forbidden)
	rae := mkUser(t, s, "rae")
	must(t, s.AddFirstFactor(ctx, webauthn(rae.ID, "Key", "cred-5"), recent))
}

func testConcurrentFirstFactors(t *testing.T, s store.Store) {
	u := mkUser(t, s, "nell")
	mkInvite(t, s, u, "once", time.Hour)
	i := 0
	next := make(chan int, 16)
	for range 16 {
		i++
		next <- i
	}
	oneWins(t, 16, store.Forbidden, func() error {
		n := <-next
		return s.AddFirstFactor(ctx, webauthn(u.ID, fmt.Sprintf("Key %d", n), fmt.Sprintf("cred-%d", n)),
			store.FirstFactor{InviteHash: hash("once"), Now: enrolNow})
	})
	if fs := listFactors(t, s, u.ID); len(fs) != 1 {
		t.Fatalf("%d factors after racing first enrolments, want 1", len(fs))
	}
	// Under a window too: the user's lock lets one first factor in.
	v := mkUser(t, s, "olga")
	must(t, s.SetEnrolWindow(ctx, &store.EnrolWindow{OpenedAt: enrolNow, EndsAt: enrolNow.Add(time.Hour)}))
	for range 16 {
		i++
		next <- i
	}
	oneWins(t, 16, store.Forbidden, func() error {
		n := <-next
		return s.AddFirstFactor(ctx, webauthn(v.ID, fmt.Sprintf("Key %d", n), fmt.Sprintf("cred-%d", n)), store.FirstFactor{Now: enrolNow})
	})
}

func testRemoveMFAFactor(t *testing.T, s store.Store) {
	u, other := mkUser(t, s, "pia"), mkUser(t, s, "quin")
	a, b := webauthn(u.ID, "A", "cred-a"), webauthn(u.ID, "B", "cred-b")
	must(t, s.CreateMFAFactor(ctx, a))
	must(t, s.CreateMFAFactor(ctx, b))
	must(t, s.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{hash("r1"), hash("r2")}, enrolNow))
	if _, err := s.RemoveMFAFactor(ctx, other.ID, a.ID, 0); store.ErrorCode(err) != store.NotFound {
		t.Fatalf("another user removed a factor: %v", err)
	}
	left, err := s.RemoveMFAFactor(ctx, u.ID, a.ID, 1)
	if err != nil || left != 1 {
		t.Fatalf("RemoveMFAFactor = %d, %v", left, err)
	}
	if _, err := s.RemoveMFAFactor(ctx, u.ID, b.ID, 1); store.ErrorCode(err) != store.Conflict {
		t.Fatalf("removing the last required factor: %v", err)
	}
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 2 {
		t.Fatalf("%d recovery codes after removing one of two factors", n)
	}
	must(t, s.CreateMFAFactor(ctx, totp(u.ID, "Pending")))
	if left, err := s.RemoveMFAFactor(ctx, u.ID, b.ID, 0); err != nil || left != 0 {
		t.Fatalf("removing the last factor: %d, %v", left, err)
	}
	if fs := listFactors(t, s, u.ID); len(fs) != 0 {
		t.Fatalf("factors after the last went: %+v", fs)
	}
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 0 {
		t.Fatalf("%d recovery codes outlived the last factor", n)
	}
}

func testConcurrentRemovals(t *testing.T, s store.Store) {
	u := mkUser(t, s, "rita")
	a, b := webauthn(u.ID, "A", "cred-a"), webauthn(u.ID, "B", "cred-b")
	must(t, s.CreateMFAFactor(ctx, a))
	must(t, s.CreateMFAFactor(ctx, b))
	ids := make(chan int64, 2)
	ids <- a.ID
	ids <- b.ID
	oneWins(t, 2, store.Conflict, func() error { _, err := s.RemoveMFAFactor(ctx, u.ID, <-ids, 1); return err })
	if fs := listFactors(t, s, u.ID); len(fs) != 1 {
		t.Fatalf("%d factors left after racing removals under a requirement, want 1", len(fs))
	}
}

func testEnrolWindows(t *testing.T, s store.Store) {
	u, g, stranger := mkUser(t, s, "sam"), mkUser(t, s, "tess"), mkUser(t, s, "uma")
	prod, dev := mkAccount(t, s, "111111111111", "prod"), mkAccount(t, s, "222222222222", "dev")
	must(t, s.CreateGrant(ctx, &store.Grant{User: u.Name, AccountID: prod.ID, Role: "Admin"}))
	must(t, s.CreateGroup(ctx, &store.Group{Name: "eng"}))
	must(t, s.AddGroupMember(ctx, "eng", g.Name))
	must(t, s.CreateGrant(ctx, &store.Grant{Group: "eng", AccountID: prod.ID, Role: "Dev"}))
	for _, who := range []*store.User{u, g, stranger} {
		if _, err := s.EnrolWindowFor(ctx, who.ID, enrolNow); store.ErrorCode(err) != store.NotFound {
			t.Fatalf("%s: a window applies before any opened: %v", who.Name, err)
		}
	}
	w := &store.EnrolWindow{AccountID: "PROD", OpenedAt: enrolNow, EndsAt: enrolNow.Add(48 * time.Hour)}
	must(t, s.SetEnrolWindow(ctx, w))
	if w.AccountID != prod.ID || w.AccountAlias != "prod" {
		t.Fatalf("SetEnrolWindow did not resolve the alias: %+v", w)
	}
	for _, who := range []*store.User{u, g} {
		got, err := s.EnrolWindowFor(ctx, who.ID, enrolNow)
		if err != nil || got.AccountID != prod.ID || got.AccountAlias != "prod" || !got.EndsAt.Equal(w.EndsAt) {
			t.Fatalf("%s: window %+v, %v; want prod's", who.Name, got, err)
		}
	}
	if _, err := s.EnrolWindowFor(ctx, stranger.ID, enrolNow); store.ErrorCode(err) != store.NotFound {
		t.Fatalf("a user without a grant in prod got its window: %v", err)
	}
	if _, err := s.EnrolWindowFor(ctx, u.ID, w.EndsAt); store.ErrorCode(err) != store.NotFound {
		t.Fatalf("the window applies at its end: %v", err)
	}
	wantCode(t, s.SetEnrolWindow(ctx, &store.EnrolWindow{AccountID: "nosuch", OpenedAt: enrolNow, EndsAt: enrolNow.Add(time.Hour)}), store.NotFound)
	wantCode(t, s.SetEnrolWindow(ctx, &store.EnrolWindow{OpenedAt: enrolNow, EndsAt: enrolNow}), store.Invalid)
	must(t, s.SetEnrolWindow(ctx, &store.EnrolWindow{OpenedAt: enrolNow, EndsAt: enrolNow.Add(time.Hour)}))
	must(t, s.SetEnrolWindow(ctx, &store.EnrolWindow{AccountID: dev.ID, OpenedAt: enrolNow, EndsAt: enrolNow.Add(time.Minute)}))
	ws, err := s.ListEnrolWindows(ctx)
	must(t, err)
	if len(ws) != 3 || ws[0].AccountID != "" || ws[1].AccountAlias != "dev" || ws[2].AccountAlias != "prod" {
		t.Fatalf("ListEnrolWindows = %+v; want global, dev, prod", ws)
	}
	// The one that ends last wins; the global one reaches the stranger.
	if got, err := s.EnrolWindowFor(ctx, u.ID, enrolNow); err != nil || got.AccountID != prod.ID {
		t.Fatalf("sam's window %+v, %v; want prod's, which ends last", got, err)
	}
	if got, err := s.EnrolWindowFor(ctx, stranger.ID, enrolNow); err != nil || got.AccountID != "" {
		t.Fatalf("uma's window %+v, %v; want the global one", got, err)
	}
	must(t, s.CloseEnrolWindow(ctx, ""))
	wantCode(t, s.CloseEnrolWindow(ctx, ""), store.NotFound)
	must(t, s.CloseEnrolWindow(ctx, "Prod"))
	wantCode(t, s.CloseEnrolWindow(ctx, "prod"), store.NotFound)
	wantCode(t, s.CloseEnrolWindow(ctx, "nosuch"), store.NotFound)
	if _, err := s.EnrolWindowFor(ctx, u.ID, enrolNow); store.ErrorCode(err) != store.NotFound {
		t.Fatalf("a closed window applies: %v", err)
	}
	// An account's window goes with the account.
	must(t, s.DeleteAccount(ctx, "dev"))
	if ws, _ := s.ListEnrolWindows(ctx); len(ws) != 0 {
		t.Fatalf("windows after closing and removing: %+v", ws)
	}
}

func testAuditTypes(t *testing.T, s store.Store) {
	for i, typ := range []string{"mfa.enroll", "login", "mfa.remove", "mfa.enroll"} {
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: enrolNow.Add(time.Duration(i) * time.Second), Type: typ, User: "vic", Result: "ok"}))
	}
	must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: enrolNow, Type: "mfa.enroll", User: "wes", Result: "ok"}))
	es, err := s.ListAudit(ctx, store.AuditFilter{User: "VIC", Types: []string{"mfa.enroll", "mfa.remove"}, Limit: 2})
	must(t, err)
	if len(es) != 2 || es[0].Type != "mfa.remove" || es[1].Type != "mfa.enroll" || !es[1].Time.Equal(enrolNow.Add(3*time.Second)) {
		t.Fatalf("the last two factor events of vic: %+v", es)
	}
}
