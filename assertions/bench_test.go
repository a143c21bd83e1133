package assertions_test

import (
	"crypto/rand"
	"testing"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
)

// BenchmarkPlanAndBuildAWS measures one sign-in's CPU cost: plan, build, and two RSA-2048 signatures.
func BenchmarkPlanAndBuildAWS(b *testing.B) {
	s := goldenSigner(b)
	b.ReportAllocs()
	for b.Loop() {
		r, err := assertions.PlanAWS(signIn())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := assertions.BuildAWS(r, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanAndBuildAWSEncrypted is the same sign-in to an account that encrypts: on top, one
// AES-256-GCM encryption and one RSA-3072 OAEP key wrap (no private-key operation).
func BenchmarkPlanAndBuildAWSEncrypted(b *testing.B) {
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
