// Package loadgen runs closed-loop load against a Rolegate server for `rolegate bench`: a fixed
// number of workers, each sending its next request as soon as the last one is answered, with every
// latency kept so that the percentiles are exact, and a sample of the answers checked as AWS would.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request of a scenario. worker is the worker's number, from 0; verify says that this
// answer is one of the sample to check. A nil error is a right answer.
type Op func(ctx context.Context, worker int, verify bool) error

// Config is the shape of one run.
type Config struct {
	Concurrency int
	Warmup      time.Duration // run, not counted, before the measured window
	Duration    time.Duration // the measured window
	VerifyEvery int           // check every Nth answer, the first among them
	// WaitRetryAfter makes a worker whose request the server shed (503 with Retry-After: a full
	// password-hashing queue) wait that long, or to the window's end, before its next request, as
	// a person or saml2aws would; without it the worker asks again at once, and a shed request
	// costs only a refusal. A 429 never waits: it means the bench's own address is throttled, a
	// set-up the run reports.
	WaitRetryAfter bool
}

// Result is what one run measured: the requests that both started and ended in the window.
type Result struct {
	Requests  int            // answered right
	Errors    map[string]int // by kind: "HTTP 429", "transport", "verify", ...
	Verified  int64          // answers checked, warmup included; each was right or counted in Errors["verify"]
	Window    time.Duration
	Latencies []time.Duration // of the right answers, sorted
	// First holds the words of one error of each kind in Errors, for the report.
	First map[string]string
}

// Failure is an error of a kind that Result.Errors counts.
type Failure struct {
	Kind       string
	Err        error
	RetryAfter time.Duration // what the answer's Retry-After asked for, if anything
}

func (f *Failure) Error() string { return f.Kind + ": " + f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Failf makes a Failure of kind.
func Failf(kind, format string, args ...any) error {
	return &Failure{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindVerify is the kind of an answer that came back but was wrong.
const KindVerify = "verify"

func kindOf(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return f.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timeout"
	}
	return "transport"
}

// Run runs op from cfg.Concurrency workers until the warmup and the window have passed or ctx ends.
func Run(ctx context.Context, cfg Config, op Op) (*Result, error) {
	if cfg.Concurrency < 1 || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.VerifyEvery < 1 {
		return nil, fmt.Errorf("loadgen: concurrency, duration, warmup or verify-every out of range")
	}
	start := time.Now()
	from, until := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, until.Add(time.Minute)) // a hung request ends with the run
	defer cancel()
	var sent, verified atomic.Int64
	type tally struct {
		lat   []time.Duration
		errs  map[string]int
		first map[string]string
	}
	tallies := make([]tally, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[w]
			t.errs, t.first = map[string]int{}, map[string]string{}
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					return
				}
				check := (sent.Add(1)-1)%int64(cfg.VerifyEvery) == 0
				err := op(ctx, w, check)
				t1 := time.Now()
				kind := ""
				if err != nil {
					kind = kindOf(err)
				}
				if f := (*Failure)(nil); cfg.WaitRetryAfter && errors.As(err, &f) && f.Kind == "HTTP 503" && f.RetryAfter > 0 {
					wait(ctx, min(f.RetryAfter, time.Until(until)))
				}
				if check && (err == nil || kind == KindVerify) {
					verified.Add(1)
				}
				if (t0.Before(from) || t1.After(until)) && kind != KindVerify {
					continue // outside the window; a wrong answer counts wherever it falls
				}
				if err != nil {
					t.errs[kind]++
					if t.first[kind] == "" {
						t.first[kind] = err.Error()
					}
				} else {
					t.lat = append(t.lat, t1.Sub(t0))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && time.Now().Before(until) {
		return nil, err // interrupted: no whole window to report
	}
	r := &Result{Errors: map[string]int{}, First: map[string]string{}, Verified: verified.Load(), Window: cfg.Duration}
	for _, t := range tallies {
		r.Latencies = append(r.Latencies, t.lat...)
		for k, n := range t.errs {
			r.Errors[k] += n
			if r.First[k] == "" {
				r.First[k] = t.first[k]
			}
		}
	}
	sort.Slice(r.Latencies, func(i, j int) bool { return r.Latencies[i] < r.Latencies[j] })
	r.Requests = len(r.Latencies)
	return r, nil
}

// wait sleeps for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// PerSecond is the rate of right answers over the window.
func (r *Result) PerSecond() float64 { return float64(r.Requests) / r.Window.Seconds() }

// ErrorCount is the number of wrong or failed requests.
func (r *Result) ErrorCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Percentile is the latency at or below which p percent (0 < p <= 100) of the right answers came:
// the nearest-rank value of the sorted list; 0 when there were none.
func (r *Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return r.Latencies[min(max(rank, 1), n)-1]
}
