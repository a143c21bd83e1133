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

// testUniqueEmail: two people with one address would share a RoleSessionName or SourceIdentity in AWS.
func testUniqueEmail(t *testing.T, s store.Store) {
	must(t, s.CreateUser(ctx, &store.User{Name: "alice", Email: "ALICE@Example.com"}))
	err := s.CreateUser(ctx, &store.User{Name: "mallory", Email: "alice@example.COM"})
	wantCode(t, err, store.Conflict)
	if !strings.Contains(err.Error(), "alice@example.COM") || !strings.Contains(err.Error(), `"alice"`) {
		t.Errorf("the conflict %q does not name the address and its holder", err)
	}
	if _, err := s.GetUser(ctx, "mallory"); !store.IsCode(err, store.NotFound) {
		t.Fatalf("a refused user was written: %v", err)
	}

	must(t, s.CreateUser(ctx, &store.User{Name: "bob", Email: "bob@example.com"}))
	_, err = s.UpdateUser(ctx, "bob", func(u *store.User) error { u.Email = "Alice@EXAMPLE.com"; return nil })
	wantCode(t, err, store.Conflict)
	if bob, err := s.GetUser(ctx, "bob"); err != nil || bob.Email != "bob@example.com" {
		t.Fatalf("bob after a refused update: %+v %v", bob, err)
	}

	// Users without an address are many; a user may change the case of their own.
	must(t, s.CreateUser(ctx, &store.User{Name: "carol"}))
	must(t, s.CreateUser(ctx, &store.User{Name: "dave"}))
	_, err = s.UpdateUser(ctx, "alice", func(u *store.User) error { u.Email = "alice@example.com"; return nil })
	must(t, err)
	// Once alice lets it go, the address is free.
	_, err = s.UpdateUser(ctx, "alice", func(u *store.User) error { u.Email = ""; return nil })
	must(t, err)
	_, err = s.UpdateUser(ctx, "bob", func(u *store.User) error { u.Email = "ALICE@example.com"; return nil })
	must(t, err)
	must(t, s.DeleteUser(ctx, "bob"))
	must(t, s.CreateUser(ctx, &store.User{Name: "erin", Email: "alice@example.com"}))
}

// testConcurrentEmail: writers racing for one address, in different cases, let exactly one win.
func testConcurrentEmail(t *testing.T, s store.Store) {
	exactlyOneWins(t, 8, func(i int) error {
		email := "grace@example.com"
		if i%2 == 1 {
			email = "GRACE@example.com"
		}
		return s.CreateUser(ctx, &store.User{Name: fmt.Sprintf("grace%d", i), Email: email})
	}, "email address")
}

// exactlyOneWins runs n writes at once and fails unless exactly one succeeds and every other gets
// a Conflict whose message contains want.
func exactlyOneWins(t *testing.T, n int, write func(i int) error, want string) {
	t.Helper()
	var wg sync.WaitGroup
	results := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- write(i)
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		} else if store.ErrorCode(err) != store.Conflict || !strings.Contains(err.Error(), want) {
			t.Fatalf("a losing writer got %v; want a conflict mentioning %q", err, want)
		}
	}
	if ok != 1 {
		t.Fatalf("%d writes succeeded, want 1", ok)
	}
}

// testPasswordExpiry: a one-time password's expiry is kept, and cleared with the password.
func testPasswordExpiry(t *testing.T, s store.Store) {
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	must(t, s.CreateUser(ctx, &store.User{Name: "admin", PasswordHash: "$argon2id$x", MustChangePassword: true, PasswordExpiresAt: at}))
	u, err := s.GetUser(ctx, "admin")
	must(t, err)
	if !u.MustChangePassword || !u.PasswordExpiresAt.Equal(at) {
		t.Fatalf("read back %+v; want a one-time password expiring at %s", u, at)
	}
	_, err = s.UpdateUser(ctx, "admin", func(u *store.User) error {
		u.MustChangePassword, u.PasswordExpiresAt = false, time.Time{}
		return nil
	})
	must(t, err)
	if u, err := s.GetUser(ctx, "admin"); err != nil || u.MustChangePassword || !u.PasswordExpiresAt.IsZero() {
		t.Fatalf("after the change %+v %v", u, err)
	}
}

// Migrator is a store whose schema migrations can be run again.
type Migrator interface {
	store.Store
	Migrate(ctx context.Context) ([]int, error)
	MigrateTo(ctx context.Context, version int) ([]int, error)
}

// EmailMigration checks migration 7 on a database, not yet migrated, that has users sharing an
// address when it reaches version 6: it fails, names them, writes nothing, and passes once they no
// longer share one.
func EmailMigration(t *testing.T, s Migrator, exec func(sql string, args ...any) error) {
	t.Helper()
	if _, err := s.MigrateTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	for i, u := range [][2]string{{"alice", "Alice@Example.com"}, {"mallory", "alice@example.com"}, {"bob", "bob@example.com"}, {"carol", ""}} {
		must(t, exec(`INSERT INTO users (name, name_key, subject, email, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, 1)`,
			u[0], u[0], "rg-"+u[0]+string(rune('a'+i)), u[1]))
	}
	_, err := s.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "alice <Alice@Example.com>") || !strings.Contains(err.Error(), "mallory <alice@example.com>") ||
		strings.Contains(err.Error(), "bob") {
		t.Fatalf("migrating users who share an address: %v; want an error naming alice and mallory only", err)
	}
	if err := exec(`SELECT email_key FROM users`); err == nil {
		t.Fatal("the failed migration left its column behind")
	}
	must(t, exec(`UPDATE users SET email = '' WHERE name = 'mallory'`))
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) == 0 || applied[0] != 7 {
		t.Fatalf("migrating after the fix: %v %v", applied, err)
	}
	wantCode(t, s.CreateUser(ctx, &store.User{Name: "eve", Email: "ALICE@example.com"}), store.Conflict)
	must(t, s.CreateUser(ctx, &store.User{Name: "frank"}))
}
