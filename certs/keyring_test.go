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

// memStore is a KeyStore in memory with the real stores' rules: at most one key in each live state
// (current, next, previous), and no activation while a previous key exists.
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

// index finds the key id in state s; -1 when there is none. The caller holds m.mu.
func (m *memStore) index(id string, s store.KeyState) int {
	return slices.IndexFunc(m.keys, func(k *store.SigningKey) bool { return k.ID == id && k.State == s })
}

func (m *memStore) PromoteSigningKey(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.index(id, store.KeyNext)
	if i < 0 {
		return store.Errorf(store.NotFound, "no next signing key %s", id)
	}
	for _, k := range m.keys {
		if k.State == store.KeyPrevious {
			return store.Errorf(store.Conflict, "signing key %s is still previous", k.ID)
		}
	}
	for _, k := range m.keys {
		if k.State == store.KeyCurrent {
			k.State = store.KeyPrevious
		}
	}
	m.keys[i].State, m.keys[i].ActivatedAt = store.KeyCurrent, now
	return nil
}

func (m *memStore) RetireSigningKey(_ context.Context, id string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.index(id, store.KeyPrevious)
	if i < 0 {
		return store.Errorf(store.Conflict, "no previous signing key %s", id)
	}
	m.keys[i].State, m.keys[i].RetiredAt = store.KeyRetired, now
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

// rotate takes a rotation step that must succeed without force, and checks its action.
func rotate(t *testing.T, r *certs.Keyring, want string) *store.SigningKey {
	t.Helper()
	step, err := r.Rotate(context.Background(), nil, false)
	if err != nil || step.Action != want || step.Overridden != nil {
		t.Fatalf("Rotate = %+v, %v; want %s", step, err, want)
	}
	return step.Key
}

// keysNow returns Current's ID and Published as ids.
func keysNow(t *testing.T, r *certs.Keyring) (string, []string) {
	t.Helper()
	cur, err := r.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := r.Published(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cur.ID, ids(pub)
}

func TestRotateStagesActivatesRetiresAndCurrentAndPublishedFollow(t *testing.T) {
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
	staged := rotate(t, r, certs.Staged)
	if staged.State != store.KeyNext {
		t.Fatalf("staged key is %s", staged.State)
	}
	cur, pub := keysNow(t, r)
	if want := []string{first.ID + ":current", staged.ID + ":next"}; cur != first.ID || !slices.Equal(pub, want) {
		t.Errorf("after staging: Current = %s, Published = %v; want %s, %v", cur, pub, first.ID, want)
	}

	c.add(time.Hour)
	activated := rotate(t, r, certs.Activated)
	if activated.ID != staged.ID || activated.State != store.KeyCurrent || !activated.ActivatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("activated %+v; want %s current since %s", activated, staged.ID, t0.Add(2*time.Hour))
	}
	cur, pub = keysNow(t, r)
	if want := []string{staged.ID + ":current", first.ID + ":previous"}; cur != staged.ID || !slices.Equal(pub, want) {
		t.Errorf("after activation: Current = %s, Published = %v; want %s, %v", cur, pub, staged.ID, want)
	}

	// Within Settle a replica may still sign with the previous key: retiring it is refused.
	c.add(r.Settle - time.Second)
	if step, err := r.Rotate(ctx, nil, false); !store.IsCode(err, store.Conflict) || !strings.Contains(err.Error(), first.ID) {
		t.Fatalf("Rotate within Settle = %+v, %v; want a conflict naming %s", step, err, first.ID)
	}
	c.add(time.Second)
	retired := rotate(t, r, certs.Retired)
	if retired.ID != first.ID || retired.State != store.KeyRetired || !retired.RetiredAt.Equal(c.now()) {
		t.Fatalf("retired %+v; want %s retired now", retired, first.ID)
	}
	cur, pub = keysNow(t, r)
	if want := []string{staged.ID + ":current"}; cur != staged.ID || !slices.Equal(pub, want) {
		t.Errorf("after retiring: Current = %s, Published = %v; want %s, %v", cur, pub, staged.ID, want)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyRetired, store.KeyCurrent}) {
		t.Errorf("stored states = %v; want retired, current", got)
	}
	rotate(t, r, certs.Staged)
}

func TestACheckRefusesAnActivationUnlessForced(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	c := &clock{t: t0}
	r := newKeyring(st, newKEK(t), c)
	no := store.Errorf(store.Conflict, "prod does not trust it")
	var asked []string
	check := func(_ context.Context, next *store.SigningKey) error {
		asked = append(asked, next.ID+":"+string(next.State))
		return no
	}
	staged, err := r.Rotate(ctx, check, false)
	if err != nil || staged.Action != certs.Staged || len(asked) != 0 {
		t.Fatalf("staging = %+v, %v, check asked %v; want staged without asking", staged, err, asked)
	}
	if step, err := r.Rotate(ctx, check, false); err != no || step != nil {
		t.Fatalf("refused activation = %+v, %v; want the check's error", step, err)
	}
	if want := []string{staged.Key.ID + ":next"}; !slices.Equal(asked, want) {
		t.Errorf("check asked about %v; want %v", asked, want)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyCurrent, store.KeyNext}) {
		t.Fatalf("a refused activation changed the keys: %v", got)
	}
	step, err := r.Rotate(ctx, check, true)
	if err != nil || step.Action != certs.Activated || step.Key.ID != staged.Key.ID || step.Overridden != no {
		t.Fatalf("forced activation = %+v, %v; want %s activated, overriding the check", step, err, staged.Key.ID)
	}
	// Forcing a retirement within Settle says what it overrode.
	step, err = r.Rotate(ctx, check, true)
	if err != nil || step.Action != certs.Retired || !store.IsCode(step.Overridden, store.Conflict) {
		t.Fatalf("forced retirement = %+v, %v; want retired, overriding the wait", step, err)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyRetired, store.KeyCurrent}) {
		t.Errorf("stored states = %v; want retired, current", got)
	}
}

func TestAPreviousKeyIsRetiredBeforeAnyActivation(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	c := &clock{t: t0}
	r := newKeyring(st, newKEK(t), c)
	rotate(t, r, certs.Staged)
	rotate(t, r, certs.Activated)
	// A next key staged behind Rotate's back, while the previous one is still published.
	k, err := certs.NewSigningKey(newKEK(t), 2048, "x", c.now(), time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSigningKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	c.add(r.Settle)
	list, _ := st.ListSigningKeys(ctx)
	if action, key := certs.NextStep(list); action != certs.Retired || key.State != store.KeyPrevious {
		t.Fatalf("NextStep = %s %+v; want the previous key retired first", action, key)
	}
}

func TestRotateOnAnEmptyStoreCreatesTheCurrentKeyAndStagesTheNext(t *testing.T) {
	st := &memStore{}
	r := newKeyring(st, newKEK(t), &clock{t: t0})
	rotate(t, r, certs.Staged)
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
	if _, err := r.Rotate(ctx, nil, false); !errors.Is(err, certs.ErrWrongKEK) {
		t.Errorf("Rotate error = %v; want ErrWrongKEK", err)
	}
	if got := st.states(); !slices.Equal(got, []store.KeyState{store.KeyCurrent}) {
		t.Errorf("stored states = %v; want only the first current key", got)
	}
	if _, err := r.Current(ctx); !errors.Is(err, certs.ErrWrongKEK) {
		t.Errorf("Current error = %v; want ErrWrongKEK", err)
	}
}

func TestEachRotationStepByAnotherProcessReachesAReplicaWithinRefresh(t *testing.T) {
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
	// seen checks the replica's view after d more seconds.
	seen := func(step string, d time.Duration, cur string, pub ...string) {
		t.Helper()
		c.add(d)
		if gotCur, gotPub := keysNow(t, replica); gotCur != cur || !slices.Equal(gotPub, pub) {
			t.Errorf("%s: Current = %s, Published = %v; want %s, %v", step, gotCur, gotPub, cur, pub)
		}
	}
	next := rotate(t, cli, certs.Staged)
	seen("9s after staging", 9*time.Second, old.ID, old.ID+":current")
	seen("10s after staging", time.Second, old.ID, old.ID+":current", next.ID+":next")

	rotate(t, cli, certs.Activated)
	seen("9s after activation", 9*time.Second, old.ID, old.ID+":current", next.ID+":next")
	seen("10s after activation", time.Second, next.ID, next.ID+":current", old.ID+":previous")

	seen("Settle after activation", cli.Settle, next.ID, next.ID+":current", old.ID+":previous")
	rotate(t, cli, certs.Retired)
	seen("9s after retirement", 9*time.Second, next.ID, next.ID+":current", old.ID+":previous")
	seen("10s after retirement", time.Second, next.ID, next.ID+":current")
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
