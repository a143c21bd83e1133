// Package password hashes and verifies passwords with argon2id, stored as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64. A Hasher bounds how many hashes run at once,
// so that a storm of logins cannot exhaust memory, and how many may queue behind them (Admit), so
// that a storm cannot make everyone's sign-in wait for seconds either.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"rolegate/store"
)

// Params are argon2id's cost parameters and output sizes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams is OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 thread. Never lower it.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// MaxLen bounds a password, in bytes.
const MaxLen = 1024

// Bounds a stored hash must respect; a crafted hash in the database must not make a login
// allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 100
	minSaltLen = 8
	maxSaltLen = 1024
	minKeyLen  = 16 // a shorter key would make collisions cheap
	maxKeyLen  = 1024
	maxPHCLen  = 4096 // longer than any hash within the bounds above
)

// ErrMalformed is wrapped by the error Verify returns for a stored hash it refuses to use.
var ErrMalformed = errors.New("password: malformed or unsupported password hash")

// ErrBusy is Admit's answer when the queue is full or its wait would be too long.
var ErrBusy = errors.New("password: too many passwords waiting to be checked")

// DefaultConcurrency is how many hashes a server runs at once: one per CPU the Go scheduler uses
// (GOMAXPROCS, which follows the container's CPU limit), at most 16. More than one a CPU only
// interleaves them: each hash's 19 MiB then waits for a core while it holds its memory, and the
// caches thrash between them. The cap bounds the memory of a very large machine (16 x 19 MiB).
func DefaultConcurrency() int { return min(max(runtime.GOMAXPROCS(0), 1), 16) }

// Default queue bounds of Admit (see SetQueue).
const (
	DefaultWaiting = 64
	DefaultMaxWait = 5 * time.Second
)

// Hasher hashes and verifies passwords with fixed parameters. It is safe for concurrent use.
type Hasher struct {
	p     Params
	slots chan struct{} // a semaphore: one token per running hash
	dummy *hash         // what DummyVerify checks against

	admitted atomic.Int64 // admitted and not done: running or waiting
	waiting  int64        // how many admitted hashes may wait behind the running ones
	maxWait  time.Duration
	avg      atomic.Int64 // a moving average of one hash's duration, in nanoseconds
	hashes   atomic.Int64 // hashes computed, for tests and metrics
	// waits are told how long each hash waited for its slot (OnWait).
	waits atomic.Pointer[[]func(time.Duration)]
}

// hash is a parsed PHC string.
type hash struct {
	p    Params
	salt []byte
	key  []byte
}

// New returns a Hasher that hashes with p and runs at most maxConcurrent hashes at once
// (at least 1). It panics if p is outside the bounds Verify accepts, as that is a programming
// error. Tests may use parameters below DefaultParams; production code must not.
func New(p Params, maxConcurrent int) *Hasher {
	if err := p.check(); err != nil {
		panic(fmt.Errorf("password: invalid params: %w", err))
	}
	maxConcurrent = max(maxConcurrent, 1)
	// The dummy key never matches: DummyVerify only spends the work.
	d := &hash{p: p, salt: make([]byte, p.SaltLen), key: make([]byte, p.KeyLen)}
	if _, err := rand.Read(d.salt); err != nil {
		panic(fmt.Errorf("password: reading random salt: %w", err))
	}
	return &Hasher{p: p, slots: make(chan struct{}, maxConcurrent), dummy: d, waiting: DefaultWaiting, maxWait: DefaultMaxWait}
}

// SetQueue sets Admit's bounds: at most waiting admitted hashes wait behind the running ones, and
// none is admitted while the expected wait exceeds maxWait. Call it before the Hasher is used.
func (h *Hasher) SetQueue(waiting int, maxWait time.Duration) *Hasher {
	h.waiting, h.maxWait = int64(max(waiting, 0)), maxWait
	return h
}

// Admit takes a place in the queue for the hashes of one request, or returns ErrBusy at once when
// the queue is full or its wait would exceed the bound. Call done when the request has hashed.
// Waiting hashes get their slot in the order they asked (Go's channel senders queue in order),
// so one client's loop cannot push others back for long.
func (h *Hasher) Admit() (done func(), err error) {
	n := h.admitted.Add(1)
	running := int64(cap(h.slots))
	if n > running+h.waiting || h.expectedWait(n-running) > h.maxWait {
		h.admitted.Add(-1)
		return nil, ErrBusy
	}
	var once sync.Once
	return func() { once.Do(func() { h.admitted.Add(-1) }) }, nil
}

// RetryAfter is how long a request that Admit refused should wait before it tries again.
func (h *Hasher) RetryAfter() time.Duration {
	return max(time.Second, h.expectedWait(h.admitted.Load()-int64(cap(h.slots))+1))
}

// expectedWait estimates how long a hash with ahead others waiting before it waits for its slot.
func (h *Hasher) expectedWait(ahead int64) time.Duration {
	if ahead <= 0 {
		return 0
	}
	rounds := (ahead + int64(cap(h.slots)) - 1) / int64(cap(h.slots))
	return time.Duration(rounds * h.avg.Load())
}

// Hashes is how many hashes h has computed.
func (h *Hasher) Hashes() int64 { return h.hashes.Load() }

// Running is how many hashes are being computed now.
func (h *Hasher) Running() int { return len(h.slots) }

// OnWait has f told how long each hash from now on waited for its slot (zero when one was free).
// Every server over h adds its own f.
func (h *Hasher) OnWait(f func(time.Duration)) {
	for {
		old := h.waits.Load()
		var fs []func(time.Duration)
		if old != nil {
			fs = append(fs, *old...)
		}
		fs = append(fs, f)
		if h.waits.CompareAndSwap(old, &fs) {
			return
		}
	}
}

// check reports whether p is within the bounds a stored hash must respect.
func (p Params) check() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("parallelism %d below 1", p.Threads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB outside %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hash returns the PHC string of password under a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := checkLen(password); err != nil {
		return "", err
	}
	salt := make([]byte, h.p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading random salt: %w", err)
	}
	key, err := h.derive(ctx, password, salt, h.p)
	if err != nil {
		return "", err
	}
	return encode(h.p, salt, key), nil
}

// Verify reports whether password matches the PHC string phc, and, when it does, whether phc
// was made with weaker parameters than h's and should be replaced by a new Hash.
// A malformed or out-of-bounds phc is an error wrapping ErrMalformed; a wrong password is not an error.
// An empty or over-long password never matches, and costs no hashing (DummyVerify likewise).
func (h *Hasher) Verify(ctx context.Context, password, phc string) (ok, needsRehash bool, err error) {
	s, err := parse(phc)
	if err != nil {
		return false, false, err
	}
	if ok, err := h.check(ctx, password, s); !ok {
		return false, false, err
	}
	return true, s.p.below(h.p), nil
}

// DummyVerify spends the work of a Verify against a hash made by h, and always fails.
// Calling it for an unknown user makes that case take as long as a wrong password.
// It returns only ctx's error, if ctx ends while waiting for a slot.
func (h *Hasher) DummyVerify(ctx context.Context, password string) error {
	_, err := h.check(ctx, password, h.dummy)
	return err
}

// check derives the key of password under s and compares it with s's in constant time.
func (h *Hasher) check(ctx context.Context, password string, s *hash) (bool, error) {
	if checkLen(password) != nil {
		// No stored hash can match: Hash refuses such passwords.
		return false, nil
	}
	key, err := h.derive(ctx, password, s.salt, s.p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, s.key) == 1, nil
}

// derive runs argon2id once a slot is free.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	// Checked first so that a cancelled context fails even when a slot is free.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	queued := time.Now()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.slots }()
	start := time.Now()
	if fs := h.waits.Load(); fs != nil {
		for _, f := range *fs {
			f(start.Sub(queued))
		}
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	h.hashes.Add(1)
	d := int64(time.Since(start))
	for { // avg += (d - avg) / 8, without losing a concurrent update
		old := h.avg.Load()
		if h.avg.CompareAndSwap(old, old+(d-old)/8) {
			break
		}
	}
	return key, nil
}

func checkLen(password string) error {
	switch {
	case password == "":
		return store.Errorf(store.Invalid, "password is empty")
	case len(password) > MaxLen:
		return store.Errorf(store.Invalid, "password is longer than %d bytes", MaxLen)
	}
	return nil
}

// below reports whether any of p's costs or sizes is lower than q's.
func (p Params) below(q Params) bool {
	return p.Memory < q.Memory || p.Time < q.Time || p.Threads < q.Threads ||
		p.SaltLen < q.SaltLen || p.KeyLen < q.KeyLen
}

var b64 = base64.RawStdEncoding.Strict()

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parse reads a PHC string strictly: exactly the form encode writes, within the bounds.
func parse(phc string) (*hash, error) {
	if len(phc) > maxPHCLen {
		return nil, fmt.Errorf("%w: %d bytes long", ErrMalformed, len(phc))
	}
	f := strings.Split(phc, "$")
	if len(f) != 6 || f[0] != "" {
		return nil, fmt.Errorf("%w: want 5 fields separated by $", ErrMalformed)
	}
	if f[1] != "argon2id" {
		return nil, fmt.Errorf("%w: algorithm %.20q", ErrMalformed, f[1])
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("%w: version %.20q", ErrMalformed, f[2])
	}
	var p Params
	ps := strings.Split(f[3], ",")
	if len(ps) != 3 {
		return nil, fmt.Errorf("%w: parameters %.40q", ErrMalformed, f[3])
	}
	m, err1 := param(ps[0], "m=", 32)
	t, err2 := param(ps[1], "t=", 32)
	th, err3 := param(ps[2], "p=", 8)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	p.Memory, p.Time, p.Threads = uint32(m), uint32(t), uint8(th)
	salt, err := b64.DecodeString(f[4])
	if err != nil {
		return nil, fmt.Errorf("%w: salt: %w", ErrMalformed, err)
	}
	key, err := b64.DecodeString(f[5])
	if err != nil {
		return nil, fmt.Errorf("%w: key: %w", ErrMalformed, err)
	}
	// The decoder skips CR and LF even when strict: the fields must be exactly what encode writes.
	if b64.EncodeToString(salt) != f[4] || b64.EncodeToString(key) != f[5] {
		return nil, fmt.Errorf("%w: salt or key is not canonical base64", ErrMalformed)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &hash{p: p, salt: salt, key: key}, nil
}

// param reads "name=decimal" in canonical form: no sign, no leading zeros.
func param(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name)
	if !ok {
		return 0, fmt.Errorf("%w: want %s..., got %.20q", ErrMalformed, name, s)
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return 0, fmt.Errorf("%w: parameter %.20q", ErrMalformed, s)
	}
	return n, nil
}
