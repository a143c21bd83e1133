package storetest

import (
	"fmt"
	"slices"
	"strings"
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

// KeyRotationMigration checks migration 13 on s, a store migrated to nothing yet, with exec running
// SQL on its database directly: signing keys stored before it come through whole, one key per live
// state still holds, and the state previous works after it.
func KeyRotationMigration(t *testing.T, s Migrator, exec func(sql string, args ...any) error) {
	t.Helper()
	if _, err := s.MigrateTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		id, state       string
		created, active int64
		retired         int64
	}{{"a", "retired", 1, 2, 3}, {"b", "current", 2, 3, 0}, {"c", "next", 4, 0, 0}} {
		must(t, exec(`INSERT INTO signing_keys (id, state, certificate, sealed_key, kek_id, created_at, activated_at, retired_at)
			VALUES ($1, $2, $3, $4, 'kek1', $5, $6, $7)`, k.id, k.state, []byte("cert-"+k.id), []byte("sealed-"+k.id), k.created, k.active, k.retired))
	}
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) == 0 || applied[0] != 13 {
		t.Fatalf("migrate applied %v, %v; want 13 onwards", applied, err)
	}
	keys, err := s.ListSigningKeys(ctx)
	must(t, err)
	us := func(t time.Time) int64 { // as stored: microseconds, 0 for none
		if t.IsZero() {
			return 0
		}
		return t.UnixMicro()
	}
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%s:%s:%s:%s:%s:%d:%d:%d", k.ID, k.State, k.Certificate, k.SealedKey, k.KEKID,
			us(k.CreatedAt), us(k.ActivatedAt), us(k.RetiredAt)))
	}
	want := []string{"a:retired:cert-a:sealed-a:kek1:1:2:3", "b:current:cert-b:sealed-b:kek1:2:3:0", "c:next:cert-c:sealed-c:kek1:4:0:0"}
	if !slices.Equal(got, want) {
		t.Fatalf("keys after migration 13: %v; want %v", got, want)
	}
	wantCode(t, s.CreateSigningKey(ctx, signingKey("d", store.KeyNext, time.Unix(5, 0))), store.Conflict)
	must(t, s.PromoteSigningKey(ctx, "c", time.Unix(6, 0)))
	err = exec(`INSERT INTO signing_keys (id, state, certificate, sealed_key, kek_id, created_at) VALUES ('e', 'previous', $1, $1, 'kek1', 7)`, []byte("x"))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unique") {
		t.Fatalf("a second previous key: %v; want the unique index to refuse it", err)
	}
	err = exec(`UPDATE signing_keys SET state = 'gone' WHERE id = 'a'`)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "check") {
		t.Fatalf("the state gone: %v; want the check constraint to refuse it", err)
	}
	wantKeyStates(t, s, "a:retired", "b:previous", "c:current")
}
