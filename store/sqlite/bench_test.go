package sqlite_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"rolegate/store"
	"rolegate/store/sqlite"
)

// BenchmarkParallelAppendAudit appends audit rows from 8 writers at once, each b.N/8 of them (as
// 8 clients signing in would, each at its own pace, so a writer that waits long is counted as
// often as one that does not), and reports the per-call p50 and p99 and the rows per second.
func BenchmarkParallelAppendAudit(b *testing.B) { benchAppends(b, 0) }

// BenchmarkSignInPacedAppendAudit is BenchmarkParallelAppendAudit with the work of a sign-in
// between a writer's appends (about 2 ms of hashing on one core, where an AWS sign-in signs twice
// with RSA-2048): appends meet now and then, as under `rolegate bench --scenario sso`, rather
// than always.
func BenchmarkSignInPacedAppendAudit(b *testing.B) { benchAppends(b, 2*time.Millisecond) }

// benchAppends runs the benchmarks above: work is the CPU time spent between a writer's appends.
func benchAppends(b *testing.B, work time.Duration) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	const writers = 8
	each := max(1, b.N/writers)
	rounds := spinRounds(work)
	lat := make([]time.Duration, writers*each)
	var wg sync.WaitGroup
	b.ResetTimer()
	t0 := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				spin(rounds)
				t := time.Now()
				if err := s.AppendAudit(context.Background(), &store.AuditEvent{Type: "assertion", User: "bench-1", Result: "ok",
					Details: map[string]string{"account": "000000000000", "role": "arn:aws:iam::000000000000:role/bench"}}); err != nil {
					b.Error(err)
					return
				}
				lat[w*each+i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(len(lat))/took.Seconds(), "rows/s")
}

// spinRounds is how many rounds of spin take about d of CPU time.
func spinRounds(d time.Duration) int {
	if d == 0 {
		return 0
	}
	const probe = 2000
	t := time.Now()
	spin(probe)
	return int(float64(probe) * float64(d) / float64(max(time.Since(t), 1)))
}

var spinSink [32]byte

// spin hashes n times, as a stand-in for a sign-in's CPU work.
func spin(n int) {
	h := spinSink
	for range n {
		h = sha256.Sum256(h[:])
	}
	spinSink = h
}
