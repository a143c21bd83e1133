package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"rolegate/store"
	"rolegate/store/sqlite"
)

// BenchmarkParallelAppendAudit appends audit rows from 8 goroutines at once (on 2 cores, 4 each)
// and reports the per-call p50 and p99.
func BenchmarkParallelAppendAudit(b *testing.B) {
	s, err := sqlite.Open(filepath.Join(b.TempDir(), sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := s.AppendAudit(context.Background(), &store.AuditEvent{Type: "assertion", User: "bench-1", Result: "ok",
				Details: map[string]string{"account": "000000000000", "role": "arn:aws:iam::000000000000:role/bench"}}); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds()), "p50-µs")
		b.ReportMetric(float64(p99.Microseconds()), "p99-µs")
	}
}
