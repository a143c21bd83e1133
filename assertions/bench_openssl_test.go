//go:build openssl && cgo

package assertions_test

import (
	"crypto"
	"testing"

	"rolegate/internal/opensslsign"
)

// BenchmarkBoundRSA2048SignOpenSSL is BenchmarkBoundRSA2048Sign by libcrypto (-tags openssl).
func BenchmarkBoundRSA2048SignOpenSSL(b *testing.B) {
	benchSign(b, opensslKey(b))
}

// BenchmarkBoundRSA2048SignOpenSSLParallel is BenchmarkBoundRSA2048SignParallel by libcrypto.
func BenchmarkBoundRSA2048SignOpenSSLParallel(b *testing.B) {
	benchSignParallel(b, opensslKey(b))
}

func opensslKey(b *testing.B) crypto.Signer {
	k, _ := goldenKey(b)
	s, err := opensslsign.New(k)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
