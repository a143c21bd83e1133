package idp

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Anonymous requests that make Rolegate work or write (sign-in, second factor, SAML SSO, ECP)
// pass a token bucket per client address group first. The buckets live in this
// replica's memory: a rate limit need not be exact across replicas, and keeping it in the store
// would be the very write it exists to prevent. While a client is over its rate, nothing is written
// but one audit event per client and window.
const (
	// DefaultRateBurst is how many requests a client may send at once: an office's few hundred
	// people signing in together at 9:00 behind one NAT address (a password and a code each).
	DefaultRateBurst = 300
	// DefaultRateEvery is how often a client earns one more request, up to the burst: 5 a second
	// keeps a flood's writes to a few rows a second, and a loop with one good password to a small
	// share of the hashing capacity.
	DefaultRateEvery = 200 * time.Millisecond
	// rateAuditEvery bounds the audit events of one throttled client.
	rateAuditEvery = 15 * time.Minute
	// maxBuckets bounds the limiter's memory; beyond it, full buckets (idle clients) are dropped, at
	// most once a second, and clients still beyond it share one bucket.
	maxBuckets = 100_000
)

type bucket struct {
	tokens  float64
	at      time.Time // when tokens was computed
	audited time.Time // the last audit event of this client's throttling
}

// rateLimiter is a token bucket per key.
type rateLimiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration
	buckets map[string]*bucket
	// swept is the last sweep; overflow is the one bucket of new clients while the map is full
	// (an attacker with many IPv6 /64s may not grow it without end, nor make each request a sweep).
	swept    time.Time
	overflow *bucket
}

func newRateLimiter(burst int, every time.Duration) *rateLimiter {
	return &rateLimiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

// take spends one token of key's bucket. When there is none it returns how long until there is
// one, and whether this refusal should be audited (the first in rateAuditEvery).
func (l *rateLimiter) take(key string, now time.Time) (wait time.Duration, audit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets && now.Sub(l.swept) >= time.Second {
			l.sweep(now)
			l.swept = now
		}
		switch {
		case len(l.buckets) < maxBuckets:
			b = &bucket{tokens: l.burst, at: now}
			l.buckets[key] = b
		case l.overflow == nil:
			l.overflow = &bucket{tokens: l.burst, at: now}
			fallthrough
		default:
			b = l.overflow
		}
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, false
	}
	wait = time.Duration((1 - b.tokens) * float64(l.every))
	if audit = now.Sub(b.audited) >= rateAuditEvery; audit {
		b.audited = now
	}
	return max(wait, time.Second), audit
}

func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)/float64(l.every))
		b.at = now
	}
}

// sweep drops the buckets that are full again: their clients are as good as new.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if l.refill(b, now); b.tokens >= l.burst && now.Sub(b.audited) >= rateAuditEvery {
			delete(l.buckets, k)
		}
	}
}

// limitAnonymous is the middleware in front of every route that anyone may call and that makes
// Rolegate hash, write or keep state: over its client's rate, a request gets 429 with Retry-After,
// in the form answer gives (a page, JSON, a SOAP fault), and goes no further.
func (s *Server) limitAnonymous(answer func(c *gin.Context, msg string)) gin.HandlerFunc {
	return func(c *gin.Context) {
		group := clientGroup(c)
		wait, audit := s.limiter.take(group, s.now())
		if wait == 0 {
			c.Next()
			return
		}
		if audit {
			s.auditWith(c, "ratelimit", "", resultThrottled, map[string]string{"address": group, "path": c.Request.URL.Path})
		}
		secs := int((wait + time.Second - 1) / time.Second)
		c.Header("Retry-After", strconv.Itoa(secs))
		answer(c, "Too many requests from your address. Try again in "+plural(secs, "second")+".")
		c.Abort()
	}
}

// tooManyPage answers a browser's form over the rate.
func (s *Server) tooManyPage(c *gin.Context, msg string) {
	// Rendered as signed out: a throttled request does not even read the store.
	c.Set(ctxWeb, (*webSession)(nil))
	s.page(c, http.StatusTooManyRequests, "error", gin.H{"Title": "Too many requests", "Message": msg,
		"RequestID": c.GetString(ctxRequestID)})
}

// tooManyJSON answers a script's fetch over the rate, in fail's JSON shape.
func (s *Server) tooManyJSON(c *gin.Context, msg string) {
	c.JSON(http.StatusTooManyRequests, gin.H{"error": msg, "code": "too_many_requests", "request_id": c.GetString(ctxRequestID)})
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
