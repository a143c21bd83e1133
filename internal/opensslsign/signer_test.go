package opensslsign_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"rolegate/internal/opensslsign"
)

// These tests run on both builds (CI runs them with and without -tags openssl): whichever signer the
// build chose must make Go's bytes.

var key = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestSignaturesAreGosBytesAndVerify(t *testing.T) {
	s, err := opensslsign.New(key())
	if err != nil {
		t.Fatal(err)
	}
	if !key().PublicKey.Equal(s.Public()) {
		t.Fatalf("Public() = %v, not the key's public key", s.Public())
	}
	msg := []byte("<ds:SignedInfo/>")
	d1, d256, d384, d512 := sha1.Sum(msg), sha256.Sum256(msg), sha512.Sum384(msg), sha512.Sum512(msg)
	for _, tc := range []struct {
		h      crypto.Hash
		digest []byte
	}{
		{crypto.SHA1, d1[:]}, {crypto.SHA256, d256[:]}, {crypto.SHA384, d384[:]}, {crypto.SHA512, d512[:]},
	} {
		got, err := s.Sign(rand.Reader, tc.digest, tc.h)
		if err != nil {
			t.Fatalf("%v: %v", tc.h, err)
		}
		if err := rsa.VerifyPKCS1v15(&key().PublicKey, tc.h, tc.digest, got); err != nil {
			t.Errorf("%v: signature does not verify: %v", tc.h, err)
		}
		want, err := rsa.SignPKCS1v15(nil, key(), tc.h, tc.digest)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%v: signature differs from crypto/rsa's (PKCS#1 v1.5 is deterministic)", tc.h)
		}
	}
}

func TestConcurrentSigning(t *testing.T) {
	s, err := opensslsign.New(key())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 16 {
		wg.Go(func() {
			for i := range 8 {
				d := sha256.Sum256(fmt.Appendf(nil, "message %d/%d", g, i))
				sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
				if err == nil {
					err = rsa.VerifyPKCS1v15(&key().PublicKey, crypto.SHA256, d[:], sig)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRefusals(t *testing.T) {
	s, err := opensslsign.New(key())
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	for name, digest := range map[string][]byte{"short": d[:31], "long": append(d[:], 0), "empty": {}} {
		if sig, err := s.Sign(rand.Reader, digest, crypto.SHA256); err == nil {
			t.Errorf("%s digest: signed (%d bytes), want a refusal", name, len(sig))
		} else if strings.Contains(err.Error(), key().D.String()[:12]) {
			t.Errorf("%s digest: error shows key material: %v", name, err)
		}
	}
	if _, err := opensslsign.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestNameSaysTheBuild(t *testing.T) {
	n := opensslsign.Name()
	if n != "go" && !strings.HasPrefix(n, "openssl (OpenSSL 3.") {
		t.Errorf("Name() = %q", n)
	}
	if want := os.Getenv("ROLEGATE_WANT_SIGNER"); want != "" && !strings.HasPrefix(n, want) {
		t.Errorf("Name() = %q, want %s", n, want)
	}
}
