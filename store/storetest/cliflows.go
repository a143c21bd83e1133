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

func deviceCode(device, user string, now time.Time) *store.DeviceCode {
	return &store.DeviceCode{DeviceHash: []byte(device + "-0123456789abcdef"), UserHash: []byte(user + "-0123456789abcdef"),
		ClientName: "build-host", ClientAddr: "192.0.2.7", Account: "prod", CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute),
		Interval: 5 * time.Second}
}

// testDeviceCodes: the life of a device code, and what an attacker holding one of its codes gets.
func testDeviceCodes(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	now := time.Date(2026, 8, 9, 12, 0, 0, 0, time.UTC)
	wantCode(t, s.CreateDeviceCode(ctx, &store.DeviceCode{DeviceHash: []byte("short"), UserHash: []byte("short"), Interval: time.Second}), store.Invalid)
	d := deviceCode("dev-a", "user-a", now)
	must(t, s.CreateDeviceCode(ctx, d))
	// Another request may not take the same user code.
	wantCode(t, s.CreateDeviceCode(ctx, deviceCode("dev-b", "user-a", now)), store.Conflict)

	got, err := s.GetDeviceCode(ctx, d.UserHash, now)
	must(t, err)
	if got.ClientName != "build-host" || got.ClientAddr != "192.0.2.7" || got.Account != "prod" || got.Status != store.DevicePending ||
		got.Interval != 5*time.Second || !got.ExpiresAt.Equal(d.ExpiresAt) {
		t.Fatalf("got %+v", got)
	}
	// Pending: the poll says so and keeps the code.
	p, err := s.PollDeviceCode(ctx, d.DeviceHash, now)
	must(t, err)
	if p.Status != store.DevicePending || p.SlowDown {
		t.Fatalf("first poll %+v", p)
	}
	decision := &store.DeviceCode{Status: store.DeviceApproved, UserID: u.ID, Account: "111122223333", Role: "Admin",
		Methods: "pwd,otp", AuthnInstant: now, SessionIndex: "_idx"}
	wantCode(t, s.DecideDeviceCode(ctx, []byte("user-unknown-0123456789abcdef"), decision, now), store.NotFound)
	must(t, s.DecideDeviceCode(ctx, d.UserHash, decision, now.Add(time.Second)))
	// Decided: no second decision, and the code is no longer offered on the approval page.
	wantCode(t, s.DecideDeviceCode(ctx, d.UserHash, &store.DeviceCode{Status: store.DeviceDenied, UserID: u.ID}, now), store.NotFound)
	_, err = s.GetDeviceCode(ctx, d.UserHash, now)
	wantCode(t, err, store.NotFound)
	p, err = s.PollDeviceCode(ctx, d.DeviceHash, now.Add(5*time.Second))
	must(t, err)
	if p.Status != store.DeviceApproved || p.UserID != u.ID || p.Account != "111122223333" || p.Role != "Admin" ||
		p.Methods != "pwd,otp" || !p.AuthnInstant.Equal(now) || p.SessionIndex != "_idx" {
		t.Fatalf("approved poll %+v", p)
	}
	// Used once.
	_, err = s.PollDeviceCode(ctx, d.DeviceHash, now.Add(20*time.Second))
	wantCode(t, err, store.NotFound)

	// Expired: not offered, not decided; the poll returns it once, then it is gone.
	e := deviceCode("dev-e", "user-e", now)
	must(t, s.CreateDeviceCode(ctx, e))
	late := now.Add(10 * time.Minute)
	_, err = s.GetDeviceCode(ctx, e.UserHash, late)
	wantCode(t, err, store.NotFound)
	wantCode(t, s.DecideDeviceCode(ctx, e.UserHash, decision, late), store.NotFound)
	p, err = s.PollDeviceCode(ctx, e.DeviceHash, late)
	must(t, err)
	if p.Status != store.DevicePending || p.ExpiresAt.After(late) {
		t.Fatalf("expired poll %+v", p)
	}
	_, err = s.PollDeviceCode(ctx, e.DeviceHash, late.Add(time.Minute))
	wantCode(t, err, store.NotFound)
}

// testDeviceCodeSlowDown: a client polling too fast waits longer each time (RFC 8628 §3.5).
func testDeviceCodeSlowDown(t *testing.T, s store.Store) {
	now := time.Date(2026, 8, 9, 12, 0, 0, 0, time.UTC)
	d := deviceCode("dev-s", "user-s", now)
	must(t, s.CreateDeviceCode(ctx, d))
	_, err := s.PollDeviceCode(ctx, d.DeviceHash, now)
	must(t, err)
	p, err := s.PollDeviceCode(ctx, d.DeviceHash, now.Add(4*time.Second))
	must(t, err)
	if !p.SlowDown || p.Interval != 10*time.Second {
		t.Fatalf("a poll 4 s after the last: %+v", p)
	}
	// The interval counts from the last poll, and is now 10 s.
	p, err = s.PollDeviceCode(ctx, d.DeviceHash, now.Add(13*time.Second))
	must(t, err)
	if !p.SlowDown || p.Interval != 15*time.Second {
		t.Fatalf("a poll 9 s after the last: %+v", p)
	}
	p, err = s.PollDeviceCode(ctx, d.DeviceHash, now.Add(28*time.Second))
	must(t, err)
	if p.SlowDown || p.Status != store.DevicePending {
		t.Fatalf("a poll 15 s after the last: %+v", p)
	}
}

// testConcurrentDeviceDecisions: an approval and a denial racing; one of them counts.
func testConcurrentDeviceDecisions(t *testing.T, s store.Store) {
	u := mkUser(t, s, "omar")
	now := time.Date(2026, 8, 9, 12, 0, 0, 0, time.UTC)
	d := deviceCode("dev-r", "user-r", now)
	must(t, s.CreateDeviceCode(ctx, d))
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := store.DeviceApproved
			if i%2 == 1 {
				status = store.DeviceDenied
			}
			err := s.DecideDeviceCode(ctx, d.UserHash, &store.DeviceCode{Status: status, UserID: u.ID}, now)
			if err == nil {
				wins.Add(1)
			} else if !store.IsCode(err, store.NotFound) {
				t.Errorf("a losing decision: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d decisions won, want 1", wins.Load())
	}
}
