package storetest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rolegate/store"
)

func cliCode(u *store.User, hash string, now time.Time) *store.CLIAuthCode {
	return &store.CLIAuthCode{CodeHash: []byte(hash), Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		RedirectURI: "http://127.0.0.1:4711/cb", UserID: u.ID, Account: "111122223333", Role: "Admin", Methods: "pwd,otp",
		AuthnInstant: now.Add(-time.Minute), SessionIndex: "_idx", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
}

// testCLIAuthCodes: a code is redeemed once, never after its expiry, and not after its user is gone.
func testCLIAuthCodes(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	now := time.Date(2026, 8, 9, 12, 0, 0, 0, time.UTC)
	wantCode(t, s.CreateCLIAuthCode(ctx, &store.CLIAuthCode{CodeHash: []byte("short"), UserID: u.ID}), store.Invalid)

	in := cliCode(u, "code-hash-0123456789abcdef", now)
	must(t, s.CreateCLIAuthCode(ctx, in))
	wantCode(t, s.CreateCLIAuthCode(ctx, cliCode(u, "code-hash-0123456789abcdef", now)), store.Conflict)
	_, err := s.TakeCLIAuthCode(ctx, []byte("code-hash-unknown-0123456789"), now)
	wantCode(t, err, store.NotFound)
	got, err := s.TakeCLIAuthCode(ctx, in.CodeHash, now.Add(59*time.Second))
	must(t, err)
	if !bytes.Equal(got.CodeHash, in.CodeHash) || got.Challenge != in.Challenge || got.RedirectURI != in.RedirectURI ||
		got.UserID != u.ID || got.Account != in.Account || got.Role != in.Role || got.Methods != in.Methods ||
		!got.AuthnInstant.Equal(in.AuthnInstant) || got.SessionIndex != in.SessionIndex || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Fatalf("took %+v, stored %+v", got, in)
	}
	_, err = s.TakeCLIAuthCode(ctx, in.CodeHash, now)
	wantCode(t, err, store.NotFound) // a replay

	// Expired: refused, and gone for good.
	old := cliCode(u, "code-hash-expired-0123456789", now)
	must(t, s.CreateCLIAuthCode(ctx, old))
	_, err = s.TakeCLIAuthCode(ctx, old.CodeHash, now.Add(time.Minute))
	wantCode(t, err, store.NotFound)
	_, err = s.TakeCLIAuthCode(ctx, old.CodeHash, now)
	wantCode(t, err, store.NotFound)

	// A deleted user's codes go with them.
	b := mkUser(t, s, "bob")
	must(t, s.CreateCLIAuthCode(ctx, cliCode(b, "code-hash-of-bob-0123456789", now)))
	must(t, s.DeleteUser(ctx, "bob"))
	_, err = s.TakeCLIAuthCode(ctx, []byte("code-hash-of-bob-0123456789"), now)
	wantCode(t, err, store.NotFound)
}

// testConcurrentCLIAuthCodeTake: two clients racing with one stolen code; one Response at most.
func testConcurrentCLIAuthCodeTake(t *testing.T, s store.Store) {
	u := mkUser(t, s, "omar")
	now := time.Date(2026, 8, 9, 12, 0, 0, 0, time.UTC)
	must(t, s.CreateCLIAuthCode(ctx, cliCode(u, "code-hash-raced-0123456789", now)))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.TakeCLIAuthCode(ctx, []byte("code-hash-raced-0123456789"), now)
			if err == nil {
				wins.Add(1)
			} else if !store.IsCode(err, store.NotFound) {
				t.Errorf("a losing take: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d takes won, want 1", wins.Load())
	}
}
