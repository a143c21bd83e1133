package password

import (
	"context"
	"testing"
)

// BenchmarkBoundArgon2idVerify is the cost of one sign-in's password check at the parameters the server uses
// (DefaultParams), on one core: the bound of the login rate (see scripts/bench.sh).
func BenchmarkBoundArgon2idVerify(b *testing.B) {
	h := New(DefaultParams, 1)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", phc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
