package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentileIsTheNearestRank(t *testing.T) {
	r := &Result{}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {99.5, 100 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := r.Percentile(tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := (&Result{}).Percentile(50); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
}

func TestRunCountsOnlyTheWindowAndEveryWrongAnswer(t *testing.T) {
	var calls, checks atomic.Int64
	op := func(ctx context.Context, w int, verify bool) error {
		n := calls.Add(1)
		time.Sleep(time.Millisecond)
		if verify {
			checks.Add(1)
		}
		switch {
		case n%10 == 0:
			return Failf("HTTP 503", "busy")
		case n%7 == 0:
			return errors.New("connection reset")
		case verify && n == 1:
			return Failf(KindVerify, "bad signature") // in the warmup: still counted
		}
		return nil
	}
	r, err := Run(context.Background(), Config{Concurrency: 3, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond, VerifyEvery: 4}, op)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Errors["HTTP 503"] == 0 || r.Errors["transport"] == 0 {
		t.Fatalf("want right answers, 503s and transport errors, got %+v", r.Errors)
	}
	if r.Errors[KindVerify] != 1 || r.First[KindVerify] != "verify: bad signature" || r.First["transport"] != "connection reset" {
		t.Fatalf("the warmup's wrong answer: errors %v, first %q", r.Errors, r.First)
	}
	if total := int(calls.Load()); r.Requests+r.ErrorCount() >= total {
		t.Fatalf("%d counted of %d made: the warmup was counted", r.Requests+r.ErrorCount(), total)
	}
	if c := checks.Load(); c == 0 || c > calls.Load()/4+1 {
		t.Fatalf("%d of %d answers checked, want about every 4th", c, calls.Load())
	}
	for i := 1; i < len(r.Latencies); i++ {
		if r.Latencies[i] < r.Latencies[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
}

func TestRunRefusesABadConfig(t *testing.T) {
	for _, cfg := range []Config{{Concurrency: 0, Duration: time.Second, VerifyEvery: 1}, {Concurrency: 1, VerifyEvery: 1}, {Concurrency: 1, Duration: time.Second, Warmup: -1, VerifyEvery: 1}, {Concurrency: 1, Duration: time.Second}} {
		if _, err := Run(context.Background(), cfg, nil); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestAWorkerToldToComeBackLaterWaitsOnlyWhenAsked(t *testing.T) {
	for _, waits := range []bool{true, false} {
		var calls atomic.Int64
		op := func(ctx context.Context, w int, verify bool) error {
			calls.Add(1)
			return &Failure{Kind: "HTTP 503", Err: errors.New("busy"), RetryAfter: time.Hour}
		}
		start := time.Now()
		r, err := Run(context.Background(), Config{Concurrency: 2, Duration: 300 * time.Millisecond, VerifyEvery: 1, WaitRetryAfter: waits}, op)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("waits=%v: the run took %v: a Retry-After past the window must end with it", waits, took)
		}
		switch n := calls.Load(); {
		case waits && n != 2:
			t.Errorf("waits: %d requests from 2 workers told to come back in an hour, want 2", n)
		case !waits && n < 20:
			t.Errorf("no wait: only %d requests in 300 ms of a refusal that costs nothing", n)
		}
		if r.Errors["HTTP 503"] == 0 {
			t.Errorf("waits=%v: the refusals were not counted: %+v", waits, r.Errors)
		}
	}
}

func TestRetryAfterReadsWholeSecondsAndNothingElse(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "0": 0, "-2": 0, "1.5": 0, "Wed, 21 Oct 2015 07:28:00 GMT": 0, "999999": time.Hour} {
		if got := retryAfter(http.Header{"Retry-After": {v}}); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

func TestATargetThatRedirectsIsNamedNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://localhost:1/saml/metadata", http.StatusFound))
	defer srv.Close()
	_, err := NewTarget(context.Background(), srv.URL, 1)
	if err == nil || !strings.Contains(err.Error(), "is redirected to http://localhost:1/saml/metadata") || !strings.Contains(err.Error(), "Rolegate is running at") {
		t.Fatalf("want the redirect named and the URL to give, got %v", err)
	}
}
