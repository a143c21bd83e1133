package assertions_test

import (
	"testing"

	"rolegate/assertions"
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
