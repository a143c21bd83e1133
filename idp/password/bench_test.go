package password

import (
	"context"
	"testing"
)

// BenchmarkVerifyDefault is the cost of one sign-in's password check at the production parameters.
func BenchmarkVerifyDefault(b *testing.B) {
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
