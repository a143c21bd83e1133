package certs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/store"
)

// memStore is a KeyStore in memory with the real stores' rule: at most one current and one next key.
type memStore struct {
	mu   sync.Mutex
	keys []*store.SigningKey
}

func (m *memStore) CreateSigningKey(_ context.Context, k *store.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.keys {
		if o.ID == k.ID || (k.State != store.KeyRetired && o.State == k.State) {
			return store.Errorf(store.Conflict, "a %s signing key already exists", o.State)
		}
	}
	c := *k
	m.keys = append(m.keys, &c)
	return nil
}

func (m *memStore) ListSigningKeys(context.Context) ([]*store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []*store.SigningKey
	for _, k := range m.keys {
		c := *k
		list = append(list, &c)
	}
	return list, nil
}

func (m *memStore) PromoteSigningKey(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := slices.IndexFunc(m.keys, func(k *store.SigningKey) bool { return k.ID == id && k.State == store.KeyNext })
	if i < 0 {
		return store.Errorf(store.NotFound, "no next signing key %s", id)
	}
	for _, k := range m.keys {
		if k.State == store.KeyCurrent {
			k.State, k.RetiredAt = store.KeyRetired, now
		}
	}
	m.keys[i].State, m.keys[i].ActivatedAt = store.KeyCurrent, now
	return nil
}

// states returns the stored keys' states in creation order.
func (m *memStore) states() []store.KeyState {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s []store.KeyState
	for _, k := range m.keys {
		s = append(s, k.State)
	}
	return s
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newKeyring(st certs.KeyStore, kek *certs.KEK, c *clock) *certs.Keyring {
	r := certs.NewKeyring(st, kek, 0, "idp.example.com", c.now)
	r.Refresh = 0
	return r
}

func ids(keys []*certs.Key) []string {
	var s []string
	for _, k := range keys {
		s = append(s, k.ID+":"+string(k.State))
	}
	return s
}

func TestEnsureFromEightReplicasAtOnceCreatesOneCurrentKey(t *testing.T) {
	st := &memStore{}
	kek := newKEK(t)
	c := &clock{t: t0}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	currents := make([]string, 8)
	for i := range errs {
		wg.Go(func() {
			r := newKeyring(st, kek, c)
			if errs[i] = r.Ensure(context.Background()); errs[i] != nil {
				return
			}
			k, err := r.Current(context.Background())
			if err != nil {
				errs[i] = err
				return
			}
			currents[i] = k.ID
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyCurrent}) {
		t.Fatalf("stored states = %v; want one current key", got)
	}
	for _, id := range currents {
		if id != st.keys[0].ID {
			t.Errorf("replicas sign with %v; want only %s", currents, st.keys[0].ID)
			break
		}
	}
	k := st.keys[0]
	if !k.ActivatedAt.Equal(t0) || k.KEKID != kek.ID() {
		t.Errorf("key activated %s by KEK %s; want %s, %s", k.ActivatedAt, k.KEKID, t0, kek.ID())
	}
}

func TestRotateStagesThenPromotesAndCurrentAndPublishedFollow(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	c := &clock{t: t0}
	r := newKeyring(st, newKEK(t), c)
	if err := r.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := r.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}

	c.add(time.Hour)
	action, staged, err := r.Rotate(ctx)
	if err != nil || action != certs.Staged || staged.State != store.KeyNext {
		t.Fatalf("first Rotate = %q, %v, %v; want staged, a next key", action, staged, err)
	}
	cur, _ := r.Current(ctx)
	pub, _ := r.Published(ctx)
	want := []string{first.ID + ":current", staged.ID + ":next"}
	if cur.ID != first.ID || !slices.Equal(ids(pub), want) {
		t.Errorf("after staging: Current = %s, Published = %v; want %s, %v", cur.ID, ids(pub), first.ID, want)
	}

	c.add(time.Hour)
	action, promoted, err := r.Rotate(ctx)
	if err != nil || action != certs.Promoted || promoted.ID != staged.ID || promoted.State != store.KeyCurrent ||
		!promoted.ActivatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("second Rotate = %q, %+v, %v; want promoted, %s current", action, promoted, err, staged.ID)
	}
	cur, _ = r.Current(ctx)
	pub, _ = r.Published(ctx)
	want = []string{staged.ID + ":current"}
	if cur.ID != staged.ID || !slices.Equal(ids(pub), want) {
		t.Errorf("after promoting: Current = %s, Published = %v; want %s, %v", cur.ID, ids(pub), staged.ID, want)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyRetired, store.KeyCurrent}) {
		t.Errorf("stored states = %v; want retired, current", got)
	}

	if action, _, err := r.Rotate(ctx); err != nil || action != certs.Staged {
		t.Errorf("third Rotate = %q, %v; want staged", action, err)
	}
}

func TestRotateOnAnEmptyStoreCreatesTheCurrentKeyAndStagesTheNext(t *testing.T) {
	st := &memStore{}
	r := newKeyring(st, newKEK(t), &clock{t: t0})
	action, _, err := r.Rotate(context.Background())
	if err != nil || action != certs.Staged {
		t.Fatalf("Rotate = %q, %v; want staged", action, err)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyCurrent, store.KeyNext}) {
		t.Errorf("stored states = %v; want current, next", got)
	}
}

func TestAReplicaWithAnotherKEKRefusesToStartOrRotate(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	c := &clock{t: t0}
	good, bad := newKEK(t), newKEK(t)
	if err := newKeyring(st, good, c).Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	r := newKeyring(st, bad, c)
	err := r.Ensure(ctx)
	if !errors.Is(err, certs.ErrWrongKEK) {
		t.Fatalf("Ensure error = %v; want ErrWrongKEK", err)
	}
	for _, s := range []string{good.ID(), bad.ID()} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name KEK id %s", err, s)
		}
	}
	if _, _, err := r.Rotate(ctx); !errors.Is(err, certs.ErrWrongKEK) {
		t.Errorf("Rotate error = %v; want ErrWrongKEK", err)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyCurrent}) {
		t.Errorf("stored states = %v; want only the first current key", got)
	}
	if _, err := r.Current(ctx); !errors.Is(err, certs.ErrWrongKEK) {
		t.Errorf("Current error = %v; want ErrWrongKEK", err)
	}
}

func TestARotationByAnotherProcessReachesAReplicaWithinRefresh(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	kek := newKEK(t)
	c := &clock{t: t0}
	replica := certs.NewKeyring(st, kek, 0, "", c.now)
	replica.Refresh = 10 * time.Second
	cli := newKeyring(st, kek, c)
	if err := replica.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := replica.Current(ctx)
	if cn := old.Cert.Subject.CommonName; cn != "Rolegate" {
		t.Errorf("common name = %q; want the default, Rolegate", cn)
	}
	if _, _, err := cli.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	_, promoted, err := cli.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}

	c.add(9 * time.Second)
	if k, _ := replica.Current(ctx); k.ID != old.ID {
		t.Errorf("within Refresh, Current = %s; want the cached %s", k.ID, old.ID)
	}
	c.add(time.Second)
	if k, _ := replica.Current(ctx); k.ID != promoted.ID {
		t.Errorf("after Refresh, Current = %s; want the promoted %s", k.ID, promoted.ID)
	}
}

func TestCurrentOnAnEmptyStoreIsNotFound(t *testing.T) {
	r := newKeyring(&memStore{}, newKEK(t), &clock{t: t0})
	if _, err := r.Current(context.Background()); !store.IsCode(err, store.NotFound) {
		t.Errorf("Current error = %v; want not found", err)
	}
	if keys, err := r.Published(context.Background()); err != nil || len(keys) != 0 {
		t.Errorf("Published = %v, %v; want none", keys, err)
	}
}
