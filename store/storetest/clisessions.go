package storetest

import (
	"fmt"
	"testing"
	"time"

	"rolegate/store"
)

func cliSession(u *store.User, id string, created time.Time) *store.CLISession {
	return &store.CLISession{ID: id, TokenHash: []byte(id + "-token-hash-0123456789"), UserID: u.ID, AuthMethods: "pwd,otp",
		AuthnInstant: created, Binding: []byte("binding"), CreatedAt: created, LastUsedAt: created, ExpiresAt: created.Add(12 * time.Hour),
		ClientAddr: "198.51.100.7", UserAgent: "rolegate/1", HostName: "laptop"}
}

func testCLISessions(t *testing.T, s store.Store) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	ann, bob := mkUser(t, s, "ann"), mkUser(t, s, "bob")
	a := cliSession(ann, "cs-a", now)
	a.AccountID = "123456789012"
	_, err := s.CreateCLISession(ctx, a, 5)
	must(t, err)
	got, err := s.GetCLISession(ctx, a.TokenHash, now.Add(time.Hour))
	must(t, err)
	if got.ID != "cs-a" || got.UserName != "ann" || got.AccountID != "123456789012" || got.AuthMethods != "pwd,otp" ||
		!got.AuthnInstant.Equal(now) || string(got.Binding) != "binding" || got.HostName != "laptop" || !got.ExpiresAt.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("read back %+v", got)
	}
	// A guessed token, an expired session and another user's revocation all fail.
	_, err = s.GetCLISession(ctx, []byte("cs-a-token-hash-0123456788"), now)
	wantCode(t, err, store.NotFound)
	_, err = s.GetCLISession(ctx, a.TokenHash, now.Add(12*time.Hour))
	wantCode(t, err, store.NotFound)
	wantCode(t, s.DeleteCLISession(ctx, "cs-a", bob.ID), store.NotFound)
	if _, err := s.GetCLISession(ctx, a.TokenHash, now); err != nil {
		t.Fatalf("another user's revocation ended ann's session: %v", err)
	}
	must(t, s.TouchCLISession(ctx, "cs-a", now.Add(time.Minute), "203.0.113.9"))
	if got, _ := s.GetCLISession(ctx, a.TokenHash, now); got == nil || !got.LastUsedAt.Equal(now.Add(time.Minute)) || got.ClientAddr != "203.0.113.9" {
		t.Fatalf("touch not kept: %+v", got)
	}
	b := cliSession(bob, "cs-b", now.Add(time.Second))
	_, err = s.CreateCLISession(ctx, b, 5)
	must(t, err)
	all, err := s.ListCLISessions(ctx, 0, now)
	must(t, err)
	if len(all) != 2 || all[0].ID != "cs-b" || all[0].UserName != "bob" {
		t.Fatalf("list of everyone: %d", len(all))
	}
	mine, err := s.ListCLISessions(ctx, ann.ID, now)
	must(t, err)
	if len(mine) != 1 || mine[0].ID != "cs-a" {
		t.Fatalf("ann's list: %d", len(mine))
	}
	if late, _ := s.ListCLISessions(ctx, 0, now.Add(13*time.Hour)); len(late) != 0 {
		t.Fatalf("expired sessions listed: %d", len(late))
	}
	must(t, s.DeleteCLISession(ctx, "cs-a", ann.ID))
	_, err = s.GetCLISession(ctx, a.TokenHash, now)
	wantCode(t, err, store.NotFound)
	wantCode(t, s.DeleteCLISession(ctx, "cs-a", 0), store.NotFound)
	wantCode(t, s.TouchCLISession(ctx, "cs-a", now, ""), store.NotFound)

	bad := cliSession(ann, "cs-bad", now)
	bad.Binding = nil
	_, err = s.CreateCLISession(ctx, bad, 5)
	wantCode(t, err, store.Invalid)
	bad = cliSession(ann, "cs-bad", now)
	bad.ExpiresAt = now
	_, err = s.CreateCLISession(ctx, bad, 5)
	wantCode(t, err, store.Invalid)
	if l, _ := s.ListCLISessions(ctx, ann.ID, now); len(l) != 0 {
		t.Fatalf("an invalid session was written")
	}
}

func testCLISessionsEnd(t *testing.T, s store.Store) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	ann := mkUser(t, s, "ann")
	a := cliSession(ann, "cs-a", now)
	_, err := s.CreateCLISession(ctx, a, 5)
	must(t, err)
	must(t, s.DeleteUserSessions(ctx, ann.ID))
	_, err = s.GetCLISession(ctx, a.TokenHash, now)
	wantCode(t, err, store.NotFound)

	b := cliSession(ann, "cs-b", now)
	_, err = s.CreateCLISession(ctx, b, 5)
	must(t, err)
	_, err = s.UpdateUser(ctx, "ann", func(u *store.User) error { u.Disabled = true; return nil })
	must(t, err)
	_, err = s.UpdateUser(ctx, "ann", func(u *store.User) error { u.Disabled = false; return nil })
	must(t, err)
	_, err = s.GetCLISession(ctx, b.TokenHash, now)
	wantCode(t, err, store.NotFound) // disabling ended it for good

	for i := range 4 {
		_, err := s.CreateCLISession(ctx, cliSession(ann, fmt.Sprintf("cs-%d", i), now.Add(time.Duration(i)*time.Second)), 3)
		must(t, err)
	}
	l, err := s.ListCLISessions(ctx, ann.ID, now)
	must(t, err)
	if len(l) != 3 || l[2].ID != "cs-1" {
		t.Fatalf("the cap kept %d sessions", len(l))
	}
	must(t, s.DeleteUser(ctx, "ann"))
	if l, _ := s.ListCLISessions(ctx, 0, now); len(l) != 0 {
		t.Fatalf("a deleted user's CLI sessions remain")
	}
}

func testListUserSessions(t *testing.T, s store.Store) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	ann, bob := mkUser(t, s, "ann"), mkUser(t, s, "bob")
	web := func(u *store.User, name string, created time.Time, idle time.Duration) *store.Session {
		ss := &store.Session{TokenHash: []byte(name + "-web-token-hash-0123456"), UserID: u.ID, AuthMethods: "pwd", AuthenticatedAt: created,
			CreatedAt: created, LastSeenAt: created, IdleExpiresAt: created.Add(idle), ExpiresAt: created.Add(12 * time.Hour), UserAgent: name}
		must(t, s.CreateSession(ctx, ss))
		return ss
	}
	web(ann, "old", now, time.Hour)
	web(ann, "new", now.Add(time.Minute), time.Hour)
	web(ann, "idle", now, time.Minute)
	web(bob, "bob", now, time.Hour)
	got, err := s.ListUserSessions(ctx, ann.ID, now.Add(10*time.Minute))
	must(t, err)
	if len(got) != 2 || got[0].UserAgent != "new" || got[1].UserAgent != "old" || !got[1].CreatedAt.Equal(now) {
		t.Fatalf("ann's web sessions: %d", len(got))
	}
	if none, _ := s.ListUserSessions(ctx, ann.ID, now.Add(13*time.Hour)); len(none) != 0 {
		t.Fatalf("expired web sessions listed")
	}
}
