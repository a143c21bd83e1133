package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"rolegate/store"
)

var testBackoff = store.Backoff{Free: 2, Base: time.Minute, Max: 4 * time.Minute, Window: time.Hour}

func testBackoffDelays(t *testing.T, _ store.Store) {
	for n, want := range []time.Duration{0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		if got := testBackoff.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	if got := testBackoff.Delay(1 << 30); got != 4*time.Minute {
		t.Errorf("a huge count waits %v, want the cap", got)
	}
}

func testTakeThrottles(t *testing.T, s store.Store) {
	now := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	a, b := store.Take{Key: "t:a", Backoff: testBackoff}, store.Take{Key: "t:b", Backoff: testBackoff}
	take := func(at time.Time, ks ...store.Take) ([]store.Throttle, bool) {
		t.Helper()
		ts, ok, err := s.TakeThrottles(ctx, at, ks...)
		must(t, err)
		return ts, ok
	}
	for i := 1; i <= 2; i++ {
		// The first's clock a moment ahead of the second's, as with two concurrent attempts.
		if ts, ok := take(now.Add(time.Duration(2-i)*time.Millisecond), a); !ok || ts[0].Count != i {
			t.Fatalf("free attempt %d: %v %+v", i, ok, ts)
		}
	}
	ts, ok := take(now, b, a)
	if ok || ts[1].Count != 2 || !ts[1].NextAt.Equal(now.Add(time.Minute)) || ts[0].Count != 0 {
		t.Fatalf("the third attempt at once: %v %+v", ok, ts)
	}
	if ts, _ := s.ListThrottles(ctx, "t:", now); len(ts) != 1 || ts[0].Key != "t:a" {
		t.Fatalf("a refused take wrote a counter: %+v", ts)
	}
	now = now.Add(time.Minute)
	if ts, ok := take(now, a, b); !ok || ts[0].Count != 3 || !ts[0].NextAt.Equal(now.Add(2*time.Minute)) || ts[1].Count != 1 {
		t.Fatalf("after the wait: %v %+v", ok, ts)
	}
	// Forgotten a window after the last attempt.
	now = now.Add(time.Hour)
	if ts, ok := take(now, a, b); !ok || ts[0].Count != 1 || ts[1].Count != 1 {
		t.Fatalf("after the window: %v %+v", ok, ts)
	}
	if _, _, err := s.TakeThrottles(ctx, now, store.Take{Key: "t:c"}); store.ErrorCode(err) != store.Invalid {
		t.Fatalf("a take without a window: %v", err)
	}

	ls, err := s.ListThrottles(ctx, "t:", now)
	must(t, err)
	if len(ls) != 2 || ls[0].Key != "t:a" || ls[1].Key != "t:b" {
		t.Fatalf("list: %+v", ls)
	}
	// A prefix is literal: LIKE's wildcards in it match only themselves.
	must(t, firstErr(s.HitThrottle(ctx, "t_x", time.Hour, now)))
	if ls, _ := s.ListThrottles(ctx, "t_", now); len(ls) != 1 || ls[0].Key != "t_x" {
		t.Fatalf("list t_: %+v", ls)
	}
	n, err := s.DeleteThrottles(ctx, "t:a", "t:none", "t_x")
	must(t, err)
	if ls, _ := s.ListThrottles(ctx, "", now); n != 2 || len(ls) != 1 || ls[0].Key != "t:b" {
		t.Fatalf("after deleting 2: %d %+v", n, ls)
	}
}

func firstErr[T any](_ T, err error) error { return err }

func testConcurrentTakes(t *testing.T, s store.Store) {
	now := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	const n = 12
	var wg sync.WaitGroup
	passed := make(chan bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half take the counters in one order, half in the other: no deadlock, no lost count.
			ks := []store.Take{{Key: "c:user", Backoff: testBackoff}, {Key: fmt.Sprintf("c:client:%d", i%2), Backoff: testBackoff}}
			if i%2 == 1 {
				ks[0], ks[1] = ks[1], ks[0]
			}
			_, ok, err := s.TakeThrottles(ctx, now, ks...)
			if err != nil {
				t.Error(err)
			}
			passed <- ok
		}()
	}
	wg.Wait()
	close(passed)
	got := 0
	for ok := range passed {
		if ok {
			got++
		}
	}
	if got != testBackoff.Free {
		t.Fatalf("%d concurrent attempts passed; the counter lets %d through", got, testBackoff.Free)
	}
}

func testServerSecret(t *testing.T, s store.Store) {
	now := time.Now()
	first, err := s.ServerSecret(ctx, "device", bytes.Repeat([]byte{1}, 32), now)
	must(t, err)
	again, err := s.ServerSecret(ctx, "device", bytes.Repeat([]byte{2}, 32), now)
	must(t, err)
	if !bytes.Equal(first, bytes.Repeat([]byte{1}, 32)) || !bytes.Equal(again, first) {
		t.Fatalf("the second call did not read the first secret: %x %x", first, again)
	}
	other, err := s.ServerSecret(ctx, "other", bytes.Repeat([]byte{3}, 32), now)
	must(t, err)
	if bytes.Equal(other, first) {
		t.Fatal("two names share a secret")
	}
	_, err = s.ServerSecret(ctx, "short", []byte("x"), now)
	wantCode(t, err, store.Invalid)
}

func testPendingRequestCap(t *testing.T, s store.Store) {
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	req := func(i int, addr string) *store.PendingRequest {
		return &store.PendingRequest{HandleHash: []byte(fmt.Sprintf("%s-%d-0123456789abcdef", addr, i)), SPEntityID: "https://sp.example.com",
			RequestID: fmt.Sprintf("%s-%d", addr, i), ACSURL: "https://sp.example.com/acs", CreatedAt: now,
			ExpiresAt: now.Add(30 * time.Minute), ClientAddr: addr}
	}
	save := func(r *store.PendingRequest) bool {
		t.Helper()
		ok, err := s.SavePendingRequestCapped(ctx, r, 3)
		must(t, err)
		return ok
	}
	for i := range 3 {
		if !save(req(i, "192.0.2.1")) {
			t.Fatalf("request %d refused under the cap", i)
		}
	}
	if save(req(3, "192.0.2.1")) {
		t.Fatal("a fourth live request from one address was stored")
	}
	if _, err := s.GetPendingRequest(ctx, req(3, "192.0.2.1").HandleHash, now); store.ErrorCode(err) != store.NotFound {
		t.Fatalf("the refused request was written: %v", err)
	}
	if !save(req(0, "192.0.2.2")) {
		t.Fatal("another address is refused")
	}
	_, err := s.SavePendingRequestCapped(ctx, req(0, "192.0.2.1"), 3)
	if store.ErrorCode(err) != store.Conflict {
		// Under the cap or not, a replayed request ID is a conflict.
		must(t, s.ConsumePendingRequest(ctx, req(0, "192.0.2.1").HandleHash, now))
		_, err = s.SavePendingRequestCapped(ctx, req(0, "192.0.2.1"), 4)
		wantCode(t, err, store.Conflict)
	}
	// A used request frees its place; so does an expired one.
	must(t, s.ConsumePendingRequest(ctx, req(1, "192.0.2.1").HandleHash, now))
	if !save(req(4, "192.0.2.1")) {
		t.Fatal("a used request still counts")
	}
	later := req(5, "192.0.2.1")
	later.CreatedAt, later.ExpiresAt = now.Add(30*time.Minute), now.Add(time.Hour)
	if !save(later) {
		t.Fatal("expired requests still count")
	}
}

func testSessionCap(t *testing.T, s store.Store) {
	u := mkUser(t, s, "sam")
	other := mkUser(t, s, "tess")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sess := func(uid int64, i int) *store.Session {
		at := now.Add(time.Duration(i) * time.Second)
		return &store.Session{TokenHash: []byte(fmt.Sprintf("%d-%d-0123456789abcdef", uid, i)), UserID: uid, AuthMethods: "pwd",
			AuthenticatedAt: at, CreatedAt: at, LastSeenAt: at, IdleExpiresAt: at.Add(time.Hour), ExpiresAt: at.Add(8 * time.Hour)}
	}
	must(t, s.CreateSession(ctx, sess(other.ID, 0)))
	for i := range 5 {
		ended, err := s.CreateSessionCapped(ctx, sess(u.ID, i), 3)
		must(t, err)
		if want := min(1, max(0, i-2)); ended != want {
			t.Fatalf("session %d ended %d, want %d", i, ended, want)
		}
	}
	at := now.Add(5 * time.Second)
	for i := range 5 {
		_, err := s.GetSession(ctx, sess(u.ID, i).TokenHash, at)
		if live := i >= 2; live != (err == nil) {
			t.Fatalf("session %d: %v; the 3 newest live", i, err)
		}
	}
	if _, err := s.GetSession(ctx, sess(other.ID, 0).TokenHash, at); err != nil {
		t.Fatalf("another user's session ended: %v", err)
	}
	// Created at the same instant as older ones, the new session is never the one ended.
	same := sess(u.ID, 9)
	same.TokenHash = []byte("0-low-hash-0123456789abcdef")
	same.CreatedAt = now.Add(4 * time.Second)
	_, err := s.CreateSessionCapped(ctx, same, 1)
	must(t, err)
	if _, err := s.GetSession(ctx, same.TokenHash, at); err != nil {
		t.Fatalf("the new session was ended: %v", err)
	}
	if _, err := s.GetSession(ctx, sess(u.ID, 4).TokenHash, at); err == nil {
		t.Fatal("a cap of 1 kept an older session")
	}
	_, err = s.CreateSessionCapped(ctx, sess(u.ID, 20), 0)
	wantCode(t, err, store.Invalid)

	// Sessions that used a second factor outlast newer ones of a password alone.
	mfa := mkUser(t, s, "uma")
	full := sess(mfa.ID, 0)
	full.AuthMethods = "pwd,otp"
	must(t, s.CreateSession(ctx, full))
	for i := 1; i <= 4; i++ {
		_, err := s.CreateSessionCapped(ctx, sess(mfa.ID, i), 2)
		must(t, err)
	}
	for i, live := range []bool{true, false, false, false, true} {
		if _, err := s.GetSession(ctx, sess(mfa.ID, i).TokenHash, at); live != (err == nil) {
			t.Fatalf("uma's session %d: %v; want the one with a second factor and the newest live", i, err)
		}
	}
}
