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
	// PromoteSigningKey makes the next key current and retires the current one, atomically.
	PromoteSigningKey(ctx context.Context, id string, now time.Time) error
}

// DefaultRefresh is how often a Keyring rereads the key list by default.
const DefaultRefresh = 10 * time.Second

// Rotate's actions.
const (
	Staged   = "staged"
	Promoted = "promoted"
)

// Keyring gives a replica the signing keys kept in the store, opened with its KEK.
// It is safe for concurrent use; set its exported fields before first use.
type Keyring struct {
	// Refresh is the longest a key list read from the store is reused, so that a rotation
	// made by another process (the CLI, another replica) reaches this one within Refresh.
	// It is measured with the Keyring's clock. Zero or less rereads the store on every call.
	Refresh time.Duration
	// ValidFor is the lifetime of new certificates.
	ValidFor time.Duration

	st    KeyStore
	kek   *KEK
	bits  int
	cn    string
	clock func() time.Time

	mu     sync.Mutex
	list   []*store.SigningKey // as last read; never modified
	loaded time.Time           // when list was read; zero means it must be read again
	opened map[string]*Key     // opened current and next keys by ID; never modified once stored
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
	_, _, err := r.ensure(ctx)
	return err
}

// ensure is Ensure, returning the current and next keys as stored (next may be nil).
func (r *Keyring) ensure(ctx context.Context) (cur, next *store.SigningKey, err error) {
	list, err := r.load(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	cur, next = split(list)
	if cur == nil {
		now := r.clock()
		k, err := NewSigningKey(r.kek, r.bits, r.cn, now, r.ValidFor, nil)
		if err != nil {
			return nil, nil, err
		}
		k.State, k.ActivatedAt = store.KeyCurrent, now
		// On Conflict another replica won the race; its key is as good as ours.
		if err := r.st.CreateSigningKey(ctx, k); err != nil && !store.IsCode(err, store.Conflict) {
			return nil, nil, fmt.Errorf("certs: storing signing key: %w", err)
		}
		if list, err = r.load(ctx, true); err != nil {
			return nil, nil, err
		}
		if cur, next = split(list); cur == nil {
			return nil, nil, fmt.Errorf("certs: no current signing key after creating one")
		}
	}
	for _, k := range []*store.SigningKey{cur, next} {
		if k == nil {
			continue
		}
		if _, err := r.open(k); err != nil {
			return nil, nil, err
		}
	}
	return cur, next, nil
}

// Current returns the key that signs now.
func (r *Keyring) Current(ctx context.Context) (*Key, error) {
	list, err := r.load(ctx, false)
	if err != nil {
		return nil, err
	}
	cur, _ := split(list)
	if cur == nil {
		return nil, store.Errorf(store.NotFound, "no current signing key")
	}
	return r.open(cur)
}

// Published returns the keys whose certificates belong in metadata: the current key first,
// then the next one while a rotation is under way.
func (r *Keyring) Published(ctx context.Context) ([]*Key, error) {
	list, err := r.load(ctx, false)
	if err != nil {
		return nil, err
	}
	var keys []*Key
	cur, next := split(list)
	for _, k := range []*store.SigningKey{cur, next} {
		if k == nil {
			continue
		}
		o, err := r.open(k)
		if err != nil {
			return nil, err
		}
		keys = append(keys, o)
	}
	return keys, nil
}

// Rotate takes one step of a key rotation, which takes two:
//
//  1. With no next key, Rotate creates one and returns Staged. Metadata now lists the next
//     certificate beside the current one: upload the new metadata (or the certificate) to every
//     IAM SAML provider, and wait for every replica to see it (Refresh).
//  2. With a next key, Rotate promotes it and returns Promoted: it signs from now on, and the
//     old current key is retired and leaves the metadata.
//
// Rotate first does what Ensure does, so it refuses to stage a key under another KEK than the
// one that opens the current key, and on an empty store it creates the current key too.
// The returned key is the one staged or promoted, as stored.
func (r *Keyring) Rotate(ctx context.Context) (action string, key *store.SigningKey, err error) {
	_, next, err := r.ensure(ctx)
	if err != nil {
		return "", nil, err
	}
	defer r.invalidate() // so this process sees the change at once
	now := r.clock()
	if next != nil {
		if err := r.st.PromoteSigningKey(ctx, next.ID, now); err != nil {
			return "", nil, fmt.Errorf("certs: promoting signing key %s: %w", next.ID, err)
		}
		k := *next
		k.State, k.ActivatedAt = store.KeyCurrent, now
		return Promoted, &k, nil
	}
	k, err := NewSigningKey(r.kek, r.bits, r.cn, now, r.ValidFor, nil)
	if err != nil {
		return "", nil, err
	}
	if err := r.st.CreateSigningKey(ctx, k); err != nil {
		// Conflict here means another rotation staged a key at the same moment.
		return "", nil, fmt.Errorf("certs: staging signing key: %w", err)
	}
	return Staged, k, nil
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
		cur, next := split(list)
		for id := range r.opened {
			if (cur == nil || id != cur.ID) && (next == nil || id != next.ID) {
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

// split finds the current and the next key in list; either may be nil.
func split(list []*store.SigningKey) (cur, next *store.SigningKey) {
	for _, k := range list {
		switch k.State {
		case store.KeyCurrent:
			if cur == nil || k.ActivatedAt.After(cur.ActivatedAt) {
				cur = k
			}
		case store.KeyNext:
			if next == nil || k.CreatedAt.After(next.CreatedAt) {
				next = k
			}
		}
	}
	return cur, next
}
