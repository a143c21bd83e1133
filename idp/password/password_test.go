package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"rolegate/store"
)

// small keeps tests fast; production uses DefaultParams.
var small = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashThenVerifyAcceptsThePasswordAndRejectsOthers(t *testing.T) {
	ctx := context.Background()
	h := New(small, 2)
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"the same password matches", "correct horse battery staple", true},
		{"a different password does not match", "correct horse battery stapler", false},
		{"a different case does not match", "Correct horse battery staple", false},
		{"an empty password does not match", "", false},
		{"an over-long password does not match", strings.Repeat("x", MaxLen+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, tt.password, phc)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.want || rehash {
				t.Errorf("Verify = %v, %v; want %v, false", ok, rehash, tt.want)
			}
		})
	}
}

func TestHashWithDefaultParamsHasTheExactPHCShape(t *testing.T) {
	h := New(DefaultParams, 1)
	phc, err := h.Hash(context.Background(), "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt: 22 base64 characters; 32-byte key: 43.
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Fatalf("Hash = %q; want the shape %s", phc, re)
	}
	ok, rehash, err := h.Verify(context.Background(), "hunter2", phc)
	if err != nil || !ok || rehash {
		t.Errorf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestHashUsesAFreshSaltEachTime(t *testing.T) {
	h := New(small, 1)
	a, _ := h.Hash(context.Background(), "pw")
	b, _ := h.Hash(context.Background(), "pw")
	if a == b {
		t.Errorf("two hashes of one password are equal: %q", a)
	}
}

func TestHashRefusesEmptyAndOverlongPasswords(t *testing.T) {
	h := New(small, 1)
	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"an empty password is refused", "", true},
		{"a password of MaxLen bytes is accepted", strings.Repeat("é", MaxLen/2), false},
		{"a password one byte over MaxLen is refused", strings.Repeat("x", MaxLen+1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Hash(context.Background(), tt.password)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Hash error = %v; want error %v", err, tt.wantErr)
			}
			if tt.wantErr && !store.IsCode(err, store.Invalid) {
				t.Errorf("Hash error code = %s; want %s", store.ErrorCode(err), store.Invalid)
			}
		})
	}
}

func TestVerifyAcceptsAHandBuiltPHCString(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("s3cret"), salt, 3, 128, 2, 32)
	enc := base64.RawStdEncoding
	phc := fmt.Sprintf("$argon2id$v=19$m=128,t=3,p=2$%s$%s", enc.EncodeToString(salt), enc.EncodeToString(key))
	ok, _, err := New(small, 1).Verify(context.Background(), "s3cret", phc)
	if err != nil || !ok {
		t.Errorf("Verify = %v, %v; want true, nil", ok, err)
	}
}

func TestVerifyAcceptsTheReferenceImplementationsVectors(t *testing.T) {
	// From P-H-C/phc-winner-argon2 src/test.c: password "password", salt "somesalt".
	tests := []struct {
		name string
		phc  string
	}{
		{"one lane", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
		{"two lanes", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
	}
	h := New(small, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := h.Verify(context.Background(), "password", tt.phc)
			if err != nil || !ok {
				t.Errorf("Verify = %v, %v; want true, nil", ok, err)
			}
		})
	}
}

func TestVerifyAsksForARehashWhenTheParamsRise(t *testing.T) {
	ctx := context.Background()
	phc, err := New(small, 1).Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Params
		want bool
	}{
		{"the same params need no rehash", small, false},
		{"more memory needs a rehash", Params{128, 1, 1, 16, 32}, true},
		{"more passes need a rehash", Params{64, 2, 1, 16, 32}, true},
		{"more threads need a rehash", Params{64, 1, 2, 16, 32}, true},
		{"a longer salt needs a rehash", Params{64, 1, 1, 32, 32}, true},
		{"a longer key needs a rehash", Params{64, 1, 1, 16, 64}, true},
		{"lower params need no rehash", Params{32, 1, 1, 16, 32}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := New(tt.p, 1).Verify(ctx, "pw", phc)
			if err != nil || !ok {
				t.Fatalf("Verify = %v, %v; want true, nil", ok, err)
			}
			if rehash != tt.want {
				t.Errorf("needsRehash = %v; want %v", rehash, tt.want)
			}
		})
	}
	if _, rehash, _ := New(DefaultParams, 1).Verify(ctx, "wrong", phc); rehash {
		t.Error("a wrong password asked for a rehash")
	}
}

func TestVerifyRejectsMalformedAndHostileHashes(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"
		key  = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	)
	good := "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key
	tests := []struct {
		name string
		phc  string
	}{
		{"an empty string", ""},
		{"a bcrypt hash", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"argon2d", strings.Replace(good, "argon2id", "argon2d", 1)},
		{"an upper-case algorithm", strings.Replace(good, "argon2id", "ARGON2ID", 1)},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"a missing version", "$argon2id$m=256,t=2,p=1$" + salt + "$" + key},
		{"a missing key", "$argon2id$v=19$m=256,t=2,p=1$" + salt},
		{"an extra field", good + "$x"},
		{"text before the first $", "x" + good},
		{"parameters out of order", strings.Replace(good, "m=256,t=2,p=1", "t=2,m=256,p=1", 1)},
		{"a missing parameter", strings.Replace(good, "m=256,t=2,p=1", "m=256,t=2", 1)},
		{"an extra parameter", strings.Replace(good, "p=1", "p=1,keyid=x", 1)},
		{"a leading zero", strings.Replace(good, "m=256", "m=0256", 1)},
		{"a plus sign", strings.Replace(good, "m=256", "m=+256", 1)},
		{"a negative number", strings.Replace(good, "t=2", "t=-2", 1)},
		{"a number too big for 32 bits", strings.Replace(good, "m=256", "m=4294967296", 1)},
		{"memory over 1 GiB", strings.Replace(good, "m=256", "m=1048577", 1)},
		{"memory below 8 KiB per lane", strings.Replace(good, "m=256,t=2,p=1", "m=15,t=2,p=2", 1)},
		{"zero passes", strings.Replace(good, "t=2", "t=0", 1)},
		{"over 100 passes", strings.Replace(good, "t=2", "t=101", 1)},
		{"zero lanes", strings.Replace(good, "p=1", "p=0", 1)},
		{"256 lanes", strings.Replace(good, "p=1", "p=256", 1)},
		{"a salt that is not base64", strings.Replace(good, salt, "not*base64", 1)},
		{"a padded salt", strings.Replace(good, salt, salt+"=", 1)},
		{"a salt shorter than 8 bytes", strings.Replace(good, salt, "c29tZXNh", 1)},
		{"an empty key", strings.TrimSuffix(good, key)},
		{"a key shorter than 16 bytes", strings.Replace(good, key, "nf65EOgLrQMR/uIPnA4rEs", 1)},
		{"a key over 1024 bytes", strings.Replace(good, key, base64.RawStdEncoding.EncodeToString(make([]byte, 1025)), 1)},
		{"a huge string", good + strings.Repeat("A", 1<<20)},
	}
	h := New(small, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "password", tt.phc)
			if !errors.Is(err, ErrMalformed) || ok || rehash {
				t.Errorf("Verify = %v, %v, %v; want false, false, ErrMalformed", ok, rehash, err)
			}
		})
	}
	if ok, _, err := h.Verify(context.Background(), "password", good); !ok || err != nil {
		t.Errorf("Verify(good) = %v, %v; want true, nil", ok, err)
	}
}

func TestAHashWaitsForAFreeSlotAndGivesUpWithItsContext(t *testing.T) {
	h := New(small, 1)
	h.slots <- struct{}{} // another hash holds the only slot

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()

	tests := []struct {
		name string
		ctx  context.Context
		call func(context.Context) error
		want error
	}{
		{"Hash with a cancelled context fails", cancelled, func(ctx context.Context) error {
			_, err := h.Hash(ctx, "pw")
			return err
		}, context.Canceled},
		{"Verify with a cancelled context fails", cancelled, func(ctx context.Context) error {
			_, _, err := h.Verify(ctx, "pw", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4")
			return err
		}, context.Canceled},
		{"DummyVerify with a cancelled context fails", cancelled, func(ctx context.Context) error {
			return h.DummyVerify(ctx, "pw")
		}, context.Canceled},
		{"Hash whose deadline passes while waiting fails", expired, func(ctx context.Context) error {
			_, err := h.Hash(ctx, "pw")
			return err
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(tt.ctx); !errors.Is(err, tt.want) {
				t.Errorf("error = %v; want %v", err, tt.want)
			}
		})
	}

	// Once the slot is free, a waiting hash proceeds.
	done := make(chan error)
	go func() {
		_, err := h.Hash(context.Background(), "pw")
		done <- err
	}()
	<-h.slots
	if err := <-done; err != nil {
		t.Errorf("Hash after the slot was freed: %v", err)
	}
}

func TestConcurrentHashesAllFinishAndFreeTheirSlots(t *testing.T) {
	h := New(small, 2)
	errs := make(chan error, 16)
	for range cap(errs) {
		go func() {
			_, err := h.Hash(context.Background(), "pw")
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(h.slots); n != 0 {
		t.Errorf("%d slots still taken after every hash returned", n)
	}
}

func TestDummyVerifyNeverMatches(t *testing.T) {
	h := New(small, 1)
	if err := h.DummyVerify(context.Background(), "anything"); err != nil {
		t.Errorf("DummyVerify: %v", err)
	}
	if ok, _ := h.check(context.Background(), "anything", h.dummy); ok {
		t.Error("the dummy hash matched a password")
	}
}

func TestNewPanicsOnParamsOutsideTheBounds(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New did not panic on zero params")
		}
	}()
	New(Params{}, 1)
}

func TestAdmitRefusesAtOnceWhenTheQueueIsFullOrTheWaitTooLong(t *testing.T) {
	h := New(small, 2).SetQueue(3, time.Hour)
	var dones []func()
	for i := range 5 {
		done, err := h.Admit()
		if err != nil {
			t.Fatalf("admission %d of 2 running + 3 waiting: %v", i+1, err)
		}
		dones = append(dones, done)
	}
	if _, err := h.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a sixth admission: %v, want ErrBusy", err)
	}
	dones[0]()
	dones[0]() // done twice frees one place, not two
	if _, err := h.Admit(); err != nil {
		t.Fatalf("after one finished: %v", err)
	}
	if _, err := h.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("done twice freed two places: %v", err)
	}
	if h.RetryAfter() < time.Second {
		t.Fatalf("RetryAfter %v", h.RetryAfter())
	}

	// Hashes of a second each, two at a time, at most 2 s of waiting: the third and fourth wait one
	// round, the fifth and sixth two, the seventh would wait three.
	h = New(small, 2).SetQueue(100, 2*time.Second)
	h.avg.Store(int64(time.Second))
	for i := range 6 {
		if _, err := h.Admit(); err != nil {
			t.Fatalf("admission %d: %v", i+1, err)
		}
	}
	if _, err := h.Admit(); !errors.Is(err, ErrBusy) {
		t.Fatalf("a wait of 3 s was admitted: %v", err)
	}
	if n := h.Hashes(); n != 0 {
		t.Fatalf("admission hashed %d times", n)
	}
}

func TestOnWaitIsToldHowLongAHashWaitedForItsSlot(t *testing.T) {
	h := New(small, 1)
	var mu sync.Mutex
	var a, b []time.Duration
	h.OnWait(func(d time.Duration) { mu.Lock(); a = append(a, d); mu.Unlock() })
	h.OnWait(func(d time.Duration) { mu.Lock(); b = append(b, d); mu.Unlock() })
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	h.slots <- struct{}{} // another hash holds the only slot
	if h.Running() != 1 {
		t.Fatalf("Running = %d with the slot taken", h.Running())
	}
	done := make(chan error)
	go func() {
		_, err := h.Hash(context.Background(), "pw")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	<-h.slots
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(a) != 2 || len(b) != 2 || a[0] > 40*time.Millisecond || a[1] < 50*time.Millisecond || b[1] != a[1] {
		t.Fatalf("waits told: %v and %v; want a short one, then one of at least 50ms, to both", a, b)
	}
	if h.Running() != 0 {
		t.Fatalf("Running = %d after every hash returned", h.Running())
	}
}

func TestDefaultConcurrencyIsOneHashACPUUpToSixteen(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range []struct{ procs, want int }{{1, 1}, {2, 2}, {3, 3}, {16, 16}, {64, 16}} {
		runtime.GOMAXPROCS(c.procs)
		if got := DefaultConcurrency(); got != c.want {
			t.Errorf("GOMAXPROCS=%d: DefaultConcurrency() = %d, want %d", c.procs, got, c.want)
		}
	}
}
