package certs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"rolegate/store"
)

// KeyStore is the part of store.Store that a Keyring uses.
type KeyStore interface {
	// CreateSigningKey fails with code store.Conflict when a key in the same state exists.
	CreateSigningKey(ctx context.Context, k *store.SigningKey) error
	ListSigningKeys(ctx context.Context) ([]*store.SigningKey, error)
	// PromoteSigningKey makes the next key current and the current one previous, atomically;
	// store.Conflict while a previous key exists.
	PromoteSigningKey(ctx context.Context, id string, now time.Time) error
	// RetireSigningKey makes the previous key retired.
	RetireSigningKey(ctx context.Context, id string, now time.Time) error
}

// DefaultRefresh is how often a Keyring rereads the key list by default.
const DefaultRefresh = 10 * time.Second

// The steps of a rotation, in order; Rotate takes the one NextStep names.
const (
	Staged    = "staged"    // a new next key: published, not signing
	Activated = "activated" // the next key signs; the old current key is previous, still published
	Retired   = "retired"   // the previous key leaves the metadata
)

// DefaultSettle is how long after an activation Rotate waits before it retires the previous key:
// twice the replicas' DefaultRefresh, since a replica may have read the key list just before the
// activation and go on signing with the previous key until it reads the list again.
const DefaultSettle = 2 * DefaultRefresh

// Keyring gives a replica the signing keys kept in the store, opened with its KEK.
// It is safe for concurrent use; set its exported fields before first use.
type Keyring struct {
	// Refresh is the longest a key list read from the store is reused, so that a rotation
	// made by another process (the CLI, another replica) reaches this one within Refresh.
	// It is measured with the Keyring's clock. Zero or less rereads the store on every call.
	Refresh time.Duration
	// ValidFor is the lifetime of new certificates.
	ValidFor time.Duration
	// Settle is how long after an activation Rotate refuses to retire the previous key, unless forced.
	Settle time.Duration

	st    KeyStore
	kek   *KEK
	bits  int
	cn    string
	clock func() time.Time

	mu     sync.Mutex
	list   []*store.SigningKey // as last read; never modified
	loaded time.Time           // when list was read; zero means it must be read again
	opened map[string]*Key     // opened published keys by ID; never modified once stored
}

// NewKeyring returns a Keyring over st that makes bits-bit RSA keys (0 means DefaultBits) with
// certificates for commonName (empty means "Rolegate"). clock nil means time.Now.
func NewKeyring(st KeyStore, kek *KEK, bits int, commonName string, clock func() time.Time) *Keyring {
	if bits == 0 {
		bits = DefaultBits
	}
	if commonName == "" {
		commonName = "Rolegate"
	}
	if clock == nil {
		clock = time.Now
	}
	return &Keyring{
		Refresh:  DefaultRefresh,
		ValidFor: DefaultValidFor,
		Settle:   DefaultSettle,
		st:       st,
		kek:      kek,
		bits:     bits,
		cn:       commonName,
		clock:    clock,
		opened:   make(map[string]*Key),
	}
}

// Ensure makes sure a current signing key exists, creating one if none does, and that this
// replica's KEK opens the current and next keys. Replicas may call it at the same time: one
// creates the key and the others use it. With the wrong KEK it fails with an error wrapping
// ErrWrongKEK, so a misconfigured replica refuses to start instead of signing with its own key.
func (r *Keyring) Ensure(ctx context.Context) error {
	_, err := r.ensure(ctx)
	return err
}

// ensure is Ensure, returning the key list as stored.
func (r *Keyring) ensure(ctx context.Context) (list []*store.SigningKey, err error) {
	if list, err = r.load(ctx, true); err != nil {
		return nil, err
	}
	if live(list).cur == nil {
		now := r.clock()
		k, err := NewSigningKey(r.kek, r.bits, r.cn, now, r.ValidFor, nil)
		if err != nil {
			return nil, err
		}
		k.State, k.ActivatedAt = store.KeyCurrent, now
		// On Conflict another replica won the race; its key is as good as ours.
		if err := r.st.CreateSigningKey(ctx, k); err != nil && !store.IsCode(err, store.Conflict) {
			return nil, fmt.Errorf("certs: storing signing key: %w", err)
		}
		if list, err = r.load(ctx, true); err != nil {
			return nil, err
		}
		if live(list).cur == nil {
			return nil, fmt.Errorf("certs: no current signing key after creating one")
		}
	}
	for _, k := range live(list).published() {
		if _, err := r.open(k); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// Current returns the key that signs now.
func (r *Keyring) Current(ctx context.Context) (*Key, error) {
	list, err := r.load(ctx, false)
	if err != nil {
		return nil, err
	}
	cur := live(list).cur
	if cur == nil {
		return nil, store.Errorf(store.NotFound, "no current signing key")
	}
	return r.open(cur)
}

// Published returns the keys whose certificates belong in metadata: the current key first, then
// the next one (staged, not yet signing) and the previous one (activated away, not yet retired).
func (r *Keyring) Published(ctx context.Context) ([]*Key, error) {
	list, err := r.load(ctx, false)
	if err != nil {
		return nil, err
	}
	var keys []*Key
	for _, k := range live(list).published() {
		o, err := r.open(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, o)
	}
	return keys, nil
}

// Check may refuse to activate next with an error.
type Check func(ctx context.Context, next *store.SigningKey) error

// Step is a rotation step that Rotate took.
type Step struct {
	Action string
	Key    *store.SigningKey // the key staged, activated or retired, as stored after the step
	// Overridden is the refusal that force overrode: check's, or the wait before a retirement.
	Overridden error
}

// NextStep names the step Rotate takes on list, and the key it acts on (nil for Staged):
//
//  1. Staged: with no next and no previous key, a new next key. Metadata lists it beside the
//     current one: upload the metadata to every IAM SAML provider, and check that each holds it.
//  2. Activated: with a next key, it signs from now on; the current key becomes previous and stays
//     in the metadata, so that sign-ins signed by replicas that have not yet seen the change verify.
//  3. Retired: with a previous key and no next one, the previous key leaves the metadata.
//
// With both a next and a previous key (not made by Rotate), the previous one is retired first.
func NextStep(list []*store.SigningKey) (action string, key *store.SigningKey) {
	l := live(list)
	switch {
	case l.prev != nil:
		return Retired, l.prev
	case l.next != nil:
		return Activated, l.next
	}
	return Staged, nil
}

// Rotate takes the next step of a key rotation (see NextStep). Before an activation it asks check
// (when not nil); before a retirement it waits Settle after the activation, so that no replica
// still signs with the key. Either refusal is an error unless force is set; then the step is taken
// and Step.Overridden holds the refusal.
//
// Rotate first does what Ensure does, so it refuses to stage a key under another KEK than the
// one that opens the current key, and on an empty store it creates the current key too.
func (r *Keyring) Rotate(ctx context.Context, check Check, force bool) (*Step, error) {
	list, err := r.ensure(ctx)
	if err != nil {
		return nil, err
	}
	defer r.invalidate() // so this process sees the change at once
	now := r.clock()
	action, key := NextStep(list)
	var refusal error
	switch {
	case action == Retired:
		if cur := live(list).cur; cur != nil && now.Before(cur.ActivatedAt.Add(r.Settle)) {
			refusal = store.Errorf(store.Conflict, "signing key %s was activated at %s; replicas may still sign with %s until %s: rotate again then",
				cur.ID, cur.ActivatedAt.Format(time.RFC3339), key.ID, cur.ActivatedAt.Add(r.Settle).Format(time.RFC3339))
		}
	case action == Activated && check != nil:
		refusal = check(ctx, key)
	}
	if refusal != nil && !force {
		return nil, refusal
	}
	step := &Step{Action: action, Overridden: refusal}
	switch action {
	case Retired:
		if err := r.st.RetireSigningKey(ctx, key.ID, now); err != nil {
			return nil, fmt.Errorf("certs: retiring signing key %s: %w", key.ID, err)
		}
		k := *key
		k.State, k.RetiredAt = store.KeyRetired, now
		step.Key = &k
	case Activated:
		if err := r.st.PromoteSigningKey(ctx, key.ID, now); err != nil {
			return nil, fmt.Errorf("certs: activating signing key %s: %w", key.ID, err)
		}
		k := *key
		k.State, k.ActivatedAt = store.KeyCurrent, now
		step.Key = &k
	default:
		k, err := NewSigningKey(r.kek, r.bits, r.cn, now, r.ValidFor, nil)
		if err != nil {
			return nil, err
		}
		if err := r.st.CreateSigningKey(ctx, k); err != nil {
			// Conflict here means another rotation staged a key at the same moment.
			return nil, fmt.Errorf("certs: staging signing key: %w", err)
		}
		step.Key = k
	}
	return step, nil
}

// load returns the key list, read from the store when force is set or the last read is older
// than Refresh.
func (r *Keyring) load(ctx context.Context, force bool) ([]*store.SigningKey, error) {
	now := r.clock()
	r.mu.Lock()
	if !force && !r.loaded.IsZero() && r.Refresh > 0 && now.Sub(r.loaded) < r.Refresh {
		list := r.list
		r.mu.Unlock()
		return list, nil
	}
	r.mu.Unlock()

	// Read without the lock, so that a slow store does not hold up callers with a fresh list.
	list, err := r.st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("certs: listing signing keys: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded.IsZero() || !now.Before(r.loaded) { // a slower, older read must not win
		r.list, r.loaded = list, now
		keep := map[string]bool{}
		for _, k := range live(list).published() {
			keep[k.ID] = true
		}
		for id := range r.opened {
			if !keep[id] {
				delete(r.opened, id)
			}
		}
	}
	return list, nil
}

// invalidate makes the next load read the store.
func (r *Keyring) invalidate() {
	r.mu.Lock()
	r.loaded = time.Time{}
	r.mu.Unlock()
}

// open returns k opened, from the cache when it holds k's ID.
func (r *Keyring) open(k *store.SigningKey) (*Key, error) {
	r.mu.Lock()
	o, ok := r.opened[k.ID]
	r.mu.Unlock()
	if ok && o.State == k.State {
		return o, nil
	}
	if ok {
		// Promoted since it was opened: the same key in a new state.
		c := *o
		c.State = k.State
		o = &c
	} else {
		var err error
		if o, err = Open(r.kek, k); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.opened[k.ID] = o
	r.mu.Unlock()
	return o, nil
}

// liveKeys are the published keys of a list; any may be nil.
type liveKeys struct{ cur, next, prev *store.SigningKey }

// live finds the current, next and previous keys in list (the newest of each, should there be two).
func live(list []*store.SigningKey) liveKeys {
	var l liveKeys
	for _, k := range list {
		switch k.State {
		case store.KeyCurrent:
			if l.cur == nil || k.ActivatedAt.After(l.cur.ActivatedAt) {
				l.cur = k
			}
		case store.KeyNext:
			if l.next == nil || k.CreatedAt.After(l.next.CreatedAt) {
				l.next = k
			}
		case store.KeyPrevious:
			if l.prev == nil || k.ActivatedAt.After(l.prev.ActivatedAt) {
				l.prev = k
			}
		}
	}
	return l
}

// published lists the keys whose certificates belong in metadata: current, next, previous.
func (l liveKeys) published() []*store.SigningKey {
	var out []*store.SigningKey
	for _, k := range []*store.SigningKey{l.cur, l.next, l.prev} {
		if k != nil {
			out = append(out, k)
		}
	}
	return out
}
