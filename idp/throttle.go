package idp

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// Throttling of passwords and second factors, kept in the store so that every replica sees it.
//
// A failed attempt counts on three counters: the user's on this client (a device cookie's device,
// or else the address), the user's across all clients, and the address's across all users. The
// first two back off: a few attempts free, then a delay that doubles up to a cap, never a lock.
// A browser with the user's device cookie skips the user-wide and the address counters, so no
// one elsewhere can keep the user out. Only failures count on the address: the people behind one
// office's NAT who type their passwords right never lock it.
var (
	clientBackoff = store.Backoff{Free: 5, Base: time.Minute, Max: 15 * time.Minute, Window: 24 * time.Hour}
	userBackoff   = store.Backoff{Free: 10, Base: time.Minute, Max: 15 * time.Minute, Window: 24 * time.Hour}
)

const (
	// addrLimit failures from one address (or IPv6 /64) within addrWindow stop its attempts until
	// the window ends.
	addrLimit  = 20
	addrWindow = 15 * time.Minute
)

// Kinds of attempt, each with counters of its own: a correct password clears only the password's.
const (
	kindLogin  = "login"
	kindMFA    = "mfa"
	kindInvite = "invite" // enrolment codes
	kindDevice = "device" // device-flow user codes
)

// Key prefixes of the throttles table.
const (
	keyAddr = "addr:"
)

func userKey(kind, name string) string { return kind + ":user:" + store.Key(name) }

func clientKey(kind, name, client string) string {
	return kind + ":client:" + store.Key(name) + "|" + client
}

// clientGroup is the address the counters and the rate limit see for a client: its IP address, or
// for IPv6 its /64, which one subscriber usually holds whole.
func clientGroup(c *gin.Context) string { return addrGroup(c.ClientIP()) }

func addrGroup(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}

// gate is one attempt's place in the counters: what it took, to record its outcome afterwards.
type gate struct {
	kind, name string
	addr       string // the client's address group
	device     bool   // the browser holds the user's device cookie
	takes      []store.Take
	counts     []store.Throttle
}

// enter counts an attempt of kind by the user called name before it is checked, so concurrent
// attempts cannot slip past a counter together. It returns how long the attempt must wait instead
// (0 when it may go on); a refused attempt writes nothing.
func (s *Server) enter(c *gin.Context, kind, name string) (*gate, time.Duration, error) {
	ctx, now := c.Request.Context(), s.now()
	g := &gate{kind: kind, name: name, addr: clientGroup(c)}
	// A name no one can hold gets no counters of its own (a guesser would write a row for each
	// made-up name): its failures count on the address alone.
	nobody := store.ValidateUserName(name) != nil
	client := g.addr
	if !nobody {
		if dev, ok := s.deviceOf(c, name); ok {
			g.device, client = true, "device:"+dev
		}
		g.takes = []store.Take{{Key: clientKey(kind, name, client), Backoff: clientBackoff}}
	}
	var wait time.Duration
	if !g.device {
		if !nobody {
			g.takes = append(g.takes, store.Take{Key: userKey(kind, name), Backoff: userBackoff})
		}
		t, err := s.store.GetThrottle(ctx, keyAddr+g.addr, now)
		if err != nil {
			return nil, 0, fmt.Errorf("idp: reading the address's failures: %w", err)
		}
		if t.Count >= addrLimit {
			return g, max(t.ResetAt.Sub(now), time.Second), nil
		}
	}
	if nobody {
		return g, 0, nil
	}
	ts, ok, err := s.store.TakeThrottles(ctx, now, g.takes...)
	if err != nil {
		return nil, 0, fmt.Errorf("idp: counting an attempt: %w", err)
	}
	if !ok {
		for _, t := range ts {
			wait = max(wait, t.NextAt.Sub(now))
		}
		return g, max(wait, time.Second), nil
	}
	g.counts = ts
	return g, 0, nil
}

// failed records that the attempt failed: on the address, and, for each counter this failure
// takes to its first delay, a lock event in the audit log (once per counter until it clears).
func (s *Server) failed(c *gin.Context, g *gate) {
	if g == nil {
		return
	}
	for i, t := range g.counts {
		if t.Count == g.takes[i].Backoff.Free {
			s.lockEvent(c, g, strings.SplitN(t.Key, ":", 3)[1], t.NextAt)
		}
	}
	if g.device {
		return
	}
	t, err := s.store.HitThrottle(c.Request.Context(), keyAddr+g.addr, addrWindow, s.now())
	if err != nil {
		s.log.Error("counting a failure of the address", "request_id", c.GetString(ctxRequestID), "err", err)
	} else if t.Count == addrLimit {
		s.lockEvent(c, g, "address", t.ResetAt)
	}
}

// lockEvent audits a counter that starts to make attempts wait, as "throttle.lock" events, which
// `rolegate audit` lists and counts.
func (s *Server) lockEvent(c *gin.Context, g *gate, counter string, until time.Time) {
	s.auditWith(c, "throttle.lock", g.name, "locked", map[string]string{"kind": g.kind, "counter": counter,
		"address": g.addr, "until": until.UTC().Format(time.RFC3339)})
	s.log.Warn("sign-in locked", "user", bounded(g.name, 64), "kind", g.kind, "counter", counter, "address", g.addr,
		"until", until.UTC().Format(time.RFC3339), "request_id", c.GetString(ctxRequestID))
}

// passed clears the counters of a successful attempt: the user's on this client, and the user's
// across clients when the attempt had to pass that one too. The address's count stays: it holds
// only failures.
func (s *Server) passed(c *gin.Context, g *gate) {
	if g == nil {
		return
	}
	keys := make([]string, len(g.takes))
	for i, t := range g.takes {
		keys[i] = t.Key
	}
	if _, err := s.store.DeleteThrottles(c.Request.Context(), keys...); err != nil {
		s.log.Error("clearing throttles", "request_id", c.GetString(ctxRequestID), "err", err)
	}
}

// tryLater sets Retry-After and returns the message of a throttled attempt.
func tryLater(c *gin.Context, wait time.Duration) string {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	n := int(math.Ceil(wait.Minutes()))
	if n == 1 {
		return "Too many failed attempts. Try again in 1 minute."
	}
	return fmt.Sprintf("Too many failed attempts. Try again in %d minutes.", n)
}

// ---- unlocking, for `rolegate user unlock` and `rolegate unlock --address`

// UnlockUser clears every sign-in, second-factor, enrolment-code and device-code counter of the user called
// name, on every client, and returns how many it cleared.
func UnlockUser(ctx context.Context, st store.Store, name string, now time.Time) (int64, error) {
	var keys []string
	for _, kind := range []string{kindLogin, kindMFA, kindInvite, kindDevice} {
		keys = append(keys, userKey(kind, name))
		ts, err := st.ListThrottles(ctx, clientKey(kind, name, ""), now)
		if err != nil {
			return 0, err
		}
		for _, t := range ts {
			keys = append(keys, t.Key)
		}
	}
	return st.DeleteThrottles(ctx, keys...)
}

// ParseAddress reads an IP address or a CIDR, as `rolegate unlock --address` takes it.
func ParseAddress(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, store.Errorf(store.Invalid, "invalid address %q: use an IP address (192.0.2.7, 2001:db8::7) or a CIDR (192.0.2.0/24, 2001:db8::/48)", s)
}

// UnlockAddress clears the counters of every address group that overlaps p: the address's own
// failures and each user's counter on that address (an IPv6 address clears its whole /64). It
// returns how many it cleared.
func UnlockAddress(ctx context.Context, st store.Store, p netip.Prefix, now time.Time) (int64, error) {
	ts, err := st.ListThrottles(ctx, "", now)
	if err != nil {
		return 0, err
	}
	var keys []string
	for _, t := range ts {
		var group string
		switch {
		case strings.HasPrefix(t.Key, keyAddr):
			group = strings.TrimPrefix(t.Key, keyAddr)
		case strings.Contains(t.Key, ":client:"):
			group = t.Key[strings.LastIndexByte(t.Key, '|')+1:]
		default:
			continue
		}
		if g, err := ParseAddress(group); err == nil && g.Overlaps(p) {
			keys = append(keys, t.Key)
		}
	}
	return st.DeleteThrottles(ctx, keys...)
}
