// Package idp is Rolegate's HTTP side: the Gin router, middleware and handlers that browsers, SPs and
// load balancers talk to. Handlers parse, call store/assertions/certs, and render.
package idp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/webauthn"

	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/idp/mfa"
	"rolegate/idp/password"
	"rolegate/store"
)

// Keys is the part of the keyring the HTTP side needs.
type Keys interface {
	Published(ctx context.Context) ([]*certs.Key, error)
	Current(ctx context.Context) (*certs.Key, error)
}

// Config is the server's settings. Zero values get the defaults New documents.
type Config struct {
	BaseURL string
	// MaxBodyBytes bounds every request body (default 1 MiB).
	MaxBodyBytes int64
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed; none by default, so a client
	// cannot pick the address that throttling and the audit log see.
	TrustedProxies []string
	// Hasher verifies passwords (default: argon2id with DefaultParams, 4 at once).
	Hasher *password.Hasher
	// Now is the one clock (default time.Now in UTC).
	Now func() time.Time
	// SessionIdle and SessionAbsolute bound a browser session (defaults 30 min and 12 h).
	SessionIdle, SessionAbsolute time.Duration
	// Secrets seals TOTP secrets at rest: the key-encryption key. Without it no one can enroll an
	// authenticator app or sign in with one.
	Secrets mfa.Sealer
	// RequireMFA makes a second factor part of every sign-in, not only for accounts that require one.
	RequireMFA bool
	// Demo sends the sign-in of these account IDs to this server's /debug/aws-signin checker.
	DemoAccounts []string
	// DemoKEK opens demo accounts' encryption keys: the checker stands in for their IAM too, and
	// decrypts what is encrypted to them.
	DemoKEK *certs.KEK
	// RateBurst and RateEvery shape the token bucket of each client address in front of the
	// anonymous routes (defaults DefaultRateBurst and DefaultRateEvery).
	RateBurst int
	RateEvery time.Duration
	// SessionsPerUser caps a user's live sessions; a new one ends the oldest (default 20).
	SessionsPerUser int
	// PendingPerAddress caps the SAML requests one client address may have waiting (default 20).
	PendingPerAddress int
	// MetricsAllow are the IPs and CIDRs that may read /metrics on this handler (nil:
	// DefaultMetricsAllow, loopback; empty: nobody). See CheckMetricsAllow.
	MetricsAllow []string
	// SeparateMetrics says a listener of its own serves MetricsHandler: Handler has no /metrics.
	SeparateMetrics bool
}

// Server serves Rolegate's HTTP endpoints.
type Server struct {
	cfg   Config
	store store.Store
	keys  Keys
	log   *slog.Logger
	now   func() time.Time
	// wa is the WebAuthn relying party, nil when the base URL cannot be one (waErr says why).
	wa    *webauthn.WebAuthn
	waErr error
	// limiter holds the anonymous routes' token buckets; devKeys the device-cookie key.
	limiter *rateLimiter
	devKeys deviceKeys
	// proxies are the parsed TrustedProxies, for deciding whose X-Request-ID to keep.
	proxies []netip.Prefix
	// canonical is the base URL browsers that come by another name are sent to (see canonicalHost).
	canonical *url.URL
	// metrics are this server's collectors; metricsAllow the parsed MetricsAllow.
	metrics      *metrics
	metricsAllow []netip.Prefix
	// cookieNames are the site-wide cookies' names (CookieName), worked out once: every request reads one.
	cookieNames map[string]string
}

// New returns a server; call Handler for its routes.
func New(cfg Config, st store.Store, keys Keys, log *slog.Logger) *Server {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Hasher == nil {
		cfg.Hasher = password.New(password.DefaultParams, password.DefaultConcurrency())
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionAbsolute == 0 {
		cfg.SessionAbsolute = 12 * time.Hour
	}
	if cfg.RateBurst == 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.RateEvery == 0 {
		cfg.RateEvery = DefaultRateEvery
	}
	if cfg.SessionsPerUser == 0 {
		cfg.SessionsPerUser = 20
	}
	if cfg.PendingPerAddress == 0 {
		cfg.PendingPerAddress = 20
	}
	srv := &Server{cfg: cfg, store: st, keys: keys, log: log, now: cfg.Now, limiter: newRateLimiter(cfg.RateBurst, cfg.RateEvery)}
	for _, p := range cfg.TrustedProxies {
		if pre, err := proxyPrefix(p); err == nil {
			srv.proxies = append(srv.proxies, pre)
		}
	}
	srv.canonical = canonicalBase(cfg.BaseURL)
	srv.cookieNames = map[string]string{}
	for _, n := range []string{sessionCookie, csrfCookie, deviceCookie} {
		srv.cookieNames[n] = CookieName(cfg.BaseURL, n)
	}
	allow := cfg.MetricsAllow
	if allow == nil {
		allow = DefaultMetricsAllow
	}
	for _, a := range allow {
		if pre, err := proxyPrefix(a); err == nil {
			srv.metricsAllow = append(srv.metricsAllow, pre)
		}
	}
	srv.metrics = srv.newMetrics()
	srv.store = store.Observe(st, srv.metrics.observeStore)
	srv.wa, srv.waErr = newWebAuthn(cfg.BaseURL)
	if srv.waErr != nil {
		srv.wa = nil
		log.Warn("security keys and passkeys are off", "reason", srv.waErr.Error())
	}
	return srv
}

func init() { gin.SetMode(gin.ReleaseMode) }

// Handler returns the router with every route and middleware.
func (s *Server) Handler() http.Handler {
	r := gin.New()
	// Gin gets the proxies as fromProxy reads them, so that both agree on who is one (Gin would
	// read ::ffff:10.0.0.1 as the IPv6 range ::/32).
	trusted := make([]string, len(s.proxies))
	for i, p := range s.proxies {
		trusted[i] = p.String()
	}
	if len(trusted) != len(s.cfg.TrustedProxies) {
		panic(fmt.Sprintf("idp: trusted proxies: %q are not all addresses or CIDRs", s.cfg.TrustedProxies)) // checked by the caller; see CheckProxies
	}
	if err := r.SetTrustedProxies(trusted); err != nil {
		panic(fmt.Sprintf("idp: trusted proxies: %v", err))
	}
	r.HandleMethodNotAllowed = true
	r.Use(s.observeRequest, s.requestLog, s.recover, s.securityHeaders, s.canonicalHost, s.limitBody, s.oneTimeOnly)
	r.NoRoute(func(c *gin.Context) {
		s.failFor(c, http.StatusNotFound, store.Errorf(store.NotFound, "no page at %s", c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		s.failFor(c, http.StatusMethodNotAllowed, store.Errorf(store.Invalid, "%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	if !s.cfg.SeparateMetrics {
		r.GET("/metrics", s.serveMetrics)
	}
	r.GET("/saml/metadata", s.metadata)
	s.webRoutes(r)
	s.mfaRoutes(r)
	r.GET("/aws/signin", s.awsSignIn)
	s.ssoFlow().Routes(r)
	s.cliFlows().Routes(r)
	if len(s.cfg.DemoAccounts) > 0 {
		r.POST(demoACSPath, s.debugAWSSignIn)
		r.POST(demoACSPath+"/acs/:idp", s.debugAWSSignIn) // encrypted sign-ins, as AWS's /saml/acs/IDP_ID
	}
	return r
}

func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Error("readiness: database unreachable", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": "database unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) metadata(c *gin.Context) {
	body, err := Metadata(c.Request.Context(), s.keys, s.cfg.BaseURL)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `inline; filename="rolegate-metadata.xml"`)
	c.Data(http.StatusOK, "application/samlmetadata+xml; charset=utf-8", body)
}

// Metadata is the document /saml/metadata serves (and rolegate aws register uploads to IAM): the
// IdP at baseURL with the certificates of the published signing keys.
func Metadata(ctx context.Context, keys Keys, baseURL string) ([]byte, error) {
	published, err := keys.Published(ctx)
	if err != nil {
		return nil, err
	}
	in := assertions.MetadataInput{BaseURL: baseURL}
	for _, k := range published {
		in.SigningCerts = append(in.SigningCerts, k.Cert)
	}
	return assertions.Metadata(in)
}

// statusOf maps an error code to its one HTTP status.
var statusOf = map[store.Code]int{
	store.Invalid:      http.StatusBadRequest,
	store.Unauthorized: http.StatusUnauthorized,
	store.Forbidden:    http.StatusForbidden,
	store.NotFound:     http.StatusNotFound,
	store.Conflict:     http.StatusConflict,
	store.Internal:     http.StatusInternalServerError,
	store.Unavailable:  http.StatusServiceUnavailable,
}

// fail is the one error renderer: JSON naming the problem; internal details go to the log only.
func (s *Server) fail(c *gin.Context, err error) {
	s.respond(c, s.logFailure(c, err), err)
}

// logFailure logs what the operator must see of a failed request (internal errors, and the
// database unavailable) and returns the request's status.
func (s *Server) logFailure(c *gin.Context, err error) int {
	code := store.ErrorCode(err)
	switch {
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	case code == store.Internal:
		s.log.Error("request failed", "request_id", c.GetString(ctxRequestID), "err", err)
	case code == store.Unavailable:
		s.log.Error("request failed: database unavailable", "request_id", c.GetString(ctxRequestID), "err", err)
		c.Header("Retry-After", "5")
	}
	return statusOf[code]
}

// failFor answers a request that reached no handler: a page for browsers, JSON for clients that
// ask for it (Accept: application/json).
func (s *Server) failFor(c *gin.Context, status int, err error) {
	if wantsJSON(c.GetHeader("Accept")) {
		s.respond(c, status, err)
		return
	}
	s.errorPage(c, status, err)
}

// wantsJSON reports whether an Accept header prefers JSON to HTML: application/json (or a
// +json type) listed, with a non-zero q, before any text/html or */*.
func wantsJSON(accept string) bool {
	for _, r := range strings.Split(accept, ",") {
		typ, params, _ := strings.Cut(r, ";")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q="); ok && strings.Trim(q, "0.") == "" {
			continue // q=0: not acceptable
		}
		switch {
		case typ == "application/json" || (strings.HasPrefix(typ, "application/") && strings.HasSuffix(typ, "+json")):
			return true
		case typ == "text/html" || typ == "text/*" || typ == "*/*":
			return false
		}
	}
	return false
}

func (s *Server) respond(c *gin.Context, status int, err error) {
	c.AbortWithStatusJSON(status, gin.H{"error": store.ErrorMessage(err), "code": store.ErrorCode(err), "request_id": c.GetString(ctxRequestID)})
}

const ctxRequestID = "request_id"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestLog gives every request an ID and logs one line for it. The ID is the client's only when
// the client is a trusted proxy and the ID is well-formed: anyone else could pick IDs that collide
// with, or impersonate, other requests in the log.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-ID")
	if !requestIDRE.MatchString(id) || !s.fromProxy(c.Request) {
		var b [12]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	c.Next()
	s.log.Info("request", "request_id", id, "method", c.Request.Method, "path", c.Request.URL.Path,
		"status", c.Writer.Status(), "bytes", c.Writer.Size(), "duration_ms", time.Since(start).Milliseconds(),
		"client", c.ClientIP(), "user_agent", c.Request.UserAgent())
}

// recover turns a panic into a 500 without a stack trace for the client.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic", "request_id", c.GetString(ctxRequestID), "panic", v)
			s.fail(c, errors.New("panic"))
		}
	}()
	c.Next()
}

// fromProxy reports whether the request's direct peer is one of the trusted proxies.
func (s *Server) fromProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range s.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	// No other window (an opener that linked here) keeps a handle on our pages.
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.secure() {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	}
	c.Next()
}

// CheckProxies validates trusted-proxy entries (IP addresses or CIDRs) before New is called. It
// refuses ranges that span the internet (IPv4 shorter than /8, IPv6 shorter than /16 outside the
// private fc00::/7, and IPv4 written as IPv6 wider than its /8): trusting them lets any client pick the address that throttling and the audit
// log see, and the request ID.
func CheckProxies(proxies []string) error {
	for _, p := range proxies {
		pre, err := proxyPrefix(p)
		if err != nil {
			return store.Errorf(store.Invalid, "invalid trusted proxy %q: use an IP address or a CIDR such as 10.0.0.0/8", strings.TrimSpace(p))
		}
		min := 8
		if a := pre.Addr(); a.Is6() && privateV6.Contains(a) {
			min = privateV6.Bits()
		} else if a.Is6() {
			min = 16
		}
		for _, e := range embedV4 {
			if e.Overlaps(pre) {
				min = max(min, e.Bits()+8) // as wide as the IPv4 range inside it
			}
		}
		if pre.Bits() < min {
			return store.Errorf(store.Invalid, "trusted proxy %q covers much of the internet: name your proxies' addresses or a range no wider than /%d",
				strings.TrimSpace(p), min)
		}
	}
	return nil
}

// privateV6 is IPv6's unique-local range, the private addresses a proxy may sit in.
var privateV6 = netip.MustParsePrefix("fc00::/7")

// embedV4 are IPv6 ranges that hold every IPv4 address: NAT64/SIIT's well-known prefix (how an
// IPv6-only server behind it sees IPv4 clients) and 6to4.
var embedV4 = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("2002::/16")}

// proxyPrefix parses an IP address or CIDR as a prefix, with IPv4-mapped IPv6 ranges (such as
// ::ffff:0:0/96) turned into the IPv4 range they cover, as Go's matching treats them.
func proxyPrefix(p string) (netip.Prefix, error) {
	p = strings.TrimSpace(p)
	if a, err := netip.ParseAddr(p); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	pre, err := netip.ParsePrefix(p)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := pre.Addr(); a.Is4In6() {
		if pre.Bits() < 96 {
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
		}
		return netip.PrefixFrom(a.Unmap(), pre.Bits()-96).Masked(), nil
	}
	return pre.Masked(), nil
}
