package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"rolegate/store"
)

// signingKey is a stored key as the conformance cases make them, created at created.
func signingKey(id string, state store.KeyState, created time.Time) *store.SigningKey {
	k := &store.SigningKey{ID: id, State: state, Certificate: []byte("cert-" + id), SealedKey: []byte("sealed-" + id),
		KEKID: "kek1", CreatedAt: created}
	if state == store.KeyCurrent {
		k.ActivatedAt = created
	}
	return k
}

// keyStates returns the stored keys as "id:state", in creation order.
func keyStates(t *testing.T, s store.Store) []string {
	t.Helper()
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	var out []string
	for _, k := range keys {
		out = append(out, k.ID+":"+string(k.State))
	}
	return out
}

func wantKeyStates(t *testing.T, s store.Store, want ...string) {
	t.Helper()
	if got := keyStates(t, s); !slices.Equal(got, want) {
		t.Fatalf("signing keys %v; want %v", got, want)
	}
}

func testKeyRotation(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	wantCode(t, s.CreateSigningKey(ctx, signingKey("p", store.KeyPrevious, t0)), store.Invalid)
	must(t, s.CreateSigningKey(ctx, signingKey("a", store.KeyCurrent, t0)))
	wantCode(t, s.RetireSigningKey(ctx, "a", at(1)), store.Conflict) // current
	wantCode(t, s.RetireSigningKey(ctx, "zzz", at(1)), store.NotFound)

	// stage, activate: the old current becomes previous, keeping its dates.
	must(t, s.CreateSigningKey(ctx, signingKey("b", store.KeyNext, at(1))))
	wantCode(t, s.RetireSigningKey(ctx, "b", at(2)), store.Conflict) // next
	must(t, s.PromoteSigningKey(ctx, "b", at(2)))
	wantKeyStates(t, s, "a:previous", "b:current")
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	if a, b := keys[0], keys[1]; !a.ActivatedAt.Equal(t0) || !a.RetiredAt.IsZero() || string(a.SealedKey) != "sealed-a" ||
		!b.ActivatedAt.Equal(at(2)) || !b.RetiredAt.IsZero() {
		t.Fatalf("after activation: %+v %+v", a, b)
	}

	// While a previous key exists: a next key may be staged, but not activated.
	wantCode(t, s.PromoteSigningKey(ctx, "b", at(3)), store.Conflict) // current
	wantCode(t, s.PromoteSigningKey(ctx, "a", at(3)), store.Conflict) // previous
	must(t, s.CreateSigningKey(ctx, signingKey("c", store.KeyNext, at(3))))
	wantCode(t, s.PromoteSigningKey(ctx, "c", at(3)), store.Conflict)
	wantCode(t, s.CreateSigningKey(ctx, signingKey("d", store.KeyNext, at(3))), store.Conflict)
	wantKeyStates(t, s, "a:previous", "b:current", "c:next")

	// retire the previous key: then c can be activated, and b becomes previous.
	must(t, s.RetireSigningKey(ctx, "a", at(4)))
	wantCode(t, s.RetireSigningKey(ctx, "a", at(5)), store.Conflict) // retired already
	wantCode(t, s.PromoteSigningKey(ctx, "a", at(5)), store.Conflict)
	must(t, s.PromoteSigningKey(ctx, "c", at(5)))
	wantKeyStates(t, s, "a:retired", "b:previous", "c:current")
	keys, err = s.ListSigningKeys(ctx)
	must(t, err)
	if a := keys[0]; !a.RetiredAt.Equal(at(4)) || !a.ActivatedAt.Equal(t0) {
		t.Fatalf("retired key: %+v", a)
	}
	must(t, s.RetireSigningKey(ctx, "b", at(6)))
	wantKeyStates(t, s, "a:retired", "b:retired", "c:current")
}

func testConcurrentKeyRotation(t *testing.T, s store.Store) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	must(t, s.CreateSigningKey(ctx, signingKey("a", store.KeyCurrent, t0)))
	must(t, s.CreateSigningKey(ctx, signingKey("b", store.KeyNext, t0.Add(time.Hour))))
	race := func(fn func() error) (won int) {
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = fn() })
		}
		wg.Wait()
		for _, err := range errs {
			if err == nil {
				won++
			} else if !store.IsCode(err, store.Conflict) {
				t.Errorf("a losing call failed with %v; want conflict", err)
			}
		}
		return won
	}
	if won := race(func() error { return s.PromoteSigningKey(ctx, "b", t0.Add(2*time.Hour)) }); won != 1 {
		t.Fatalf("%d concurrent activations won; want 1", won)
	}
	wantKeyStates(t, s, "a:previous", "b:current")
	if won := race(func() error { return s.RetireSigningKey(ctx, "a", t0.Add(3*time.Hour)) }); won != 1 {
		t.Fatalf("%d concurrent retirements won; want 1", won)
	}
	wantKeyStates(t, s, "a:retired", "b:current")
}
