package assertions_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/store"
)

// The Bound benchmarks are the costs that bound a server's rates (scripts/bench.sh sets them beside
// `rolegate bench`): an AWS sign-in makes two RSA-2048 PKCS#1 v1.5 SHA-256 signatures, a password
// sign-in one argon2id verification (idp/password's BenchmarkBoundArgon2idVerify).

// BenchmarkBoundRSA2048Sign is one signature of the kind each Response carries two of, on one core,
// by crypto/rsa whatever the build (bench_openssl_test.go has libcrypto's).
func BenchmarkBoundRSA2048Sign(b *testing.B) {
	k, _ := goldenKey(b)
	benchSign(b, k)
}

// BenchmarkBoundRSA2048SignParallel is the same signature on every core (GOMAXPROCS): its ns/op is
// the machine's time per signature when every core signs.
func BenchmarkBoundRSA2048SignParallel(b *testing.B) {
	k, _ := goldenKey(b)
	benchSignParallel(b, k)
}

func benchSign(b *testing.B, k crypto.Signer) {
	digest := sha256.Sum256([]byte("<ds:SignedInfo/>"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSignParallel(b *testing.B, k crypto.Signer) {
	digest := sha256.Sum256([]byte("<ds:SignedInfo/>"))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBoundAWSSignIn is one AWS sign-in's CPU cost on one core: plan, build, and the signatures
// the account's --sign asks for (sign=both: the Response's and the Assertion's; the others one),
// RSA-2048 by the build's signer.
func BenchmarkBoundAWSSignIn(b *testing.B) {
	s := goldenSigner(b)
	for _, m := range []store.SignMode{store.SignBoth, store.SignAssertion, store.SignResponse} {
		b.Run("sign="+m.String(), func(b *testing.B) {
			in := signIn()
			in.Account.Sign = m
			b.ReportAllocs()
			for b.Loop() {
				r, err := assertions.PlanAWS(in)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := assertions.BuildAWS(r, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBoundAWSSignInEncrypted is the same sign-in to an account that encrypts: on top, one
// AES-256-GCM encryption and one RSA-3072 OAEP key wrap (no private-key operation).
func BenchmarkBoundAWSSignInEncrypted(b *testing.B) {
	s := goldenSigner(b)
	_, cert := samltest.KeyPair(b, 3072, "encryption")
	b.ReportAllocs()
	for b.Loop() {
		r, err := assertions.PlanAWS(signIn())
		if err != nil {
			b.Fatal(err)
		}
		r.Encrypt = &assertions.Encryption{Cert: cert, Rand: rand.Reader}
		if _, err := assertions.BuildAWS(r, s); err != nil {
			b.Fatal(err)
		}
	}
}
