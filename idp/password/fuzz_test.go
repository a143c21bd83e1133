package password

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/argon2"
)

// FuzzParsePHC feeds stored hashes to the strict PHC reader. A refused one is ErrMalformed and costs
// Verify no hashing; an accepted one is within the bounds and re-encodes to exactly itself, and,
// when it is cheap enough to try, Verify agrees with argon2id computed here under its parameters.
func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=019456,t=2,p=1$c29tZXNhbHQ$aGFzaA")
	f.Add("$argon2id$v=16$m=4294967295,t=+1,p=256$$")
	h := New(small, 1)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, phc string) {
		s, err := parse(phc)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse(%q) = %v, not ErrMalformed", phc, err)
			}
			before := h.Hashes()
			if ok, _, err := h.Verify(ctx, "password", phc); ok || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify of a refused hash = %v, %v", ok, err)
			}
			if h.Hashes() != before {
				t.Fatal("Verify hashed against a refused hash")
			}
			return
		}
		if err := s.p.check(); err != nil {
			t.Fatalf("parse accepted %q outside the bounds: %v", phc, err)
		}
		if got := encode(s.p, s.salt, s.key); got != phc {
			t.Fatalf("parse accepted %q, which re-encodes as %q", phc, got)
		}
		if s.p.Memory > 256 || s.p.Time > 2 || s.p.Threads > 2 || s.p.KeyLen > 64 {
			return // too dear to hash on every input
		}
		const pw = "correct horse battery"
		key := argon2.IDKey([]byte(pw), s.salt, s.p.Time, s.p.Memory, s.p.Threads, s.p.KeyLen)
		good := encode(s.p, s.salt, key)
		if ok, _, err := h.Verify(ctx, pw, good); !ok || err != nil {
			t.Fatalf("Verify refuses %q for the password it was derived from: %v", good, err)
		}
		if ok, _, err := h.Verify(ctx, pw+"!", good); ok || err != nil {
			t.Fatalf("Verify accepts another password for %q: %v", good, err)
		}
	})
}
