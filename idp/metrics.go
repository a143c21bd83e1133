package idp

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// Metrics: one registry per server, so that servers in one process (tests) keep theirs apart. No
// label takes what a client typed: results, kinds, error codes and methods are fixed sets, routes
// are the router's patterns, and accounts are IDs read from the store.

// DefaultMetricsAllow are the addresses that may read /metrics on the main listener by default.
var DefaultMetricsAllow = []string{"127.0.0.0/8", "::1"}

// Kinds of assertion, as rolegate_assertions_*_total label them.
const (
	kindAWS = "aws" // the browser's sign-in to the AWS console
	kindSP  = "sp"  // a registered SAML service provider
	kindECP = "ecp" // SAML ECP (saml2aws, rolegate login --ecp)
	kindCLI = "cli" // the command line's browser and device-code flows and session refresh
)

// ctxMetricAccount is the ID of the account an assertion is for, set once the store has it.
const ctxMetricAccount = "metric_account"

// accountAll labels a Response for every account the user holds a role in.
const accountAll = "all"

type metrics struct {
	reg       *prometheus.Registry
	handler   http.Handler // the registry in Prometheus's text format
	signIns   *prometheus.CounterVec
	issued    *prometheus.CounterVec
	refused   *prometheus.CounterVec
	requests  *prometheus.HistogramVec
	hashWait  prometheus.Histogram
	hashBusy  prometheus.Counter
	storeCall *prometheus.HistogramVec
	storeErrs *prometheus.CounterVec
}

// newMetrics registers the server's collectors.
func (s *Server) newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rolegate_signins_total",
			Help: "Sign-in attempts by result: ok, bad_password, throttled, mfa_required (the password passed, a second factor is due), mfa_failed."},
			[]string{"result"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rolegate_assertions_issued_total",
			Help: "SAML Responses issued, by kind (aws, sp, ecp, cli) and account ID (all: every account the user holds a role in)."},
			[]string{"kind", "account"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rolegate_assertions_refused_total",
			Help: "SAML Responses refused, by kind, account ID (unknown before the store found one) and reason (an error code, or status: answered with a SAML status)."},
			[]string{"kind", "account", "reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rolegate_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern (unmatched: no route), method and status code.", Buckets: prometheus.DefBuckets},
			[]string{"route", "method", "code"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rolegate_password_hash_wait_seconds",
			Help:    "How long each argon2id hash waited for one of the bounded hashing slots.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		hashBusy: prometheus.NewCounter(prometheus.CounterOpts{Name: "rolegate_password_queue_full_total",
			Help: "Sign-ins answered 503 at once because the password hashing queue was full."}),
		storeCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rolegate_store_call_duration_seconds",
			Help: "Latency of Store calls by method.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}},
			[]string{"method"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rolegate_store_errors_total",
			Help: "Store calls that returned an error, by method and error code (not_found, conflict, invalid, ..., internal)."},
			[]string{"method", "code"}),
	}
	for _, r := range []string{authn.SignInOK, authn.SignInBadPassword, authn.SignInThrottled, authn.SignInMFARequired, authn.SignInMFAFailed} {
		m.signIns.WithLabelValues(r) // every result is scraped from the start, at 0
	}
	h := s.cfg.Hasher
	h.OnWait(func(d time.Duration) { m.hashWait.Observe(d.Seconds()) })
	m.reg.MustRegister(m.signIns, m.issued, m.refused, m.requests, m.hashWait, m.hashBusy, m.storeCall, m.storeErrs,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "rolegate_password_hashes_in_flight",
			Help: "argon2id hashes being computed now."}, func() float64 { return float64(h.Running()) }),
		&keyCollector{s: s},
		buildInfo(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// observeStore is the store's observer: each call's latency, and its error's code.
func (m *metrics) observeStore(method string, took time.Duration, err error) {
	m.storeCall.WithLabelValues(method).Observe(took.Seconds())
	if err != nil {
		m.storeErrs.WithLabelValues(method, string(store.ErrorCode(err))).Inc()
	}
}

// signIn counts the end of a sign-in attempt (or of its password step: mfa_required).
func (s *Server) signIn(result string) { s.metrics.signIns.WithLabelValues(result).Inc() }

// assertionKind says which way in an audited assertion came, from what its way in records.
func assertionKind(e *store.AuditEvent) string {
	via := e.Details["via"]
	switch _, sp := e.Details["sp"]; {
	case sp:
		return kindSP
	case via == "ecp":
		return kindECP
	case strings.HasPrefix(via, "cli"):
		return kindCLI
	}
	return kindAWS
}

// countAssertion counts an issued (reason "") or refused assertion.
func (s *Server) countAssertion(c *gin.Context, e *store.AuditEvent, reason string) {
	kind := assertionKind(e)
	account := c.GetString(ctxMetricAccount)
	if account == "" && kind != kindSP {
		account = "unknown"
	}
	if reason == "" {
		s.metrics.issued.WithLabelValues(kind, account).Inc()
		return
	}
	s.metrics.refused.WithLabelValues(kind, account, reason).Inc()
}

// observeRequest times every request by its route's pattern: never the raw path.
func (s *Server) observeRequest(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := c.Request.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
}

// MetricsHandler serves the server's metrics in Prometheus's text format, to anyone: for a
// listener of their own (Config.SeparateMetrics).
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler }

// serveMetrics is /metrics on the main listener: for the addresses in MetricsAllow only.
func (s *Server) serveMetrics(c *gin.Context) {
	addr, err := s.metricsClient(c.Request, c.ClientIP())
	if err == nil && !s.metricsAllowed(addr) {
		err = store.Errorf(store.Forbidden, "metrics are not served to %s: it is not in --metrics-allow", addr)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.metrics.handler.ServeHTTP(c.Writer, c.Request)
}

// metricsClient is the address a request to /metrics comes from: the TCP peer's, or the one a
// trusted proxy reports (clientIP, as Gin reads it). A request that carries forwarding headers
// from a peer that is no trusted proxy came through a proxy Rolegate does not know: the peer
// would be that proxy (often on loopback), not the client.
func (s *Server) metricsClient(r *http.Request, clientIP string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, store.Errorf(store.Forbidden, "metrics are not served to a client whose address is unknown")
	}
	peer := ap.Addr().Unmap()
	forwarded := ""
	for _, h := range []string{"X-Forwarded-For", "X-Real-IP", "Forwarded"} {
		if r.Header.Get(h) != "" && forwarded == "" {
			forwarded = h
		}
	}
	if s.fromProxy(r) {
		a, err := netip.ParseAddr(clientIP)
		// Gin answers the proxy's own address when no X-Forwarded-For or X-Real-IP it reads names the
		// client (Forwarded only, host:port): the client would pass for the proxy, often on loopback.
		if err != nil {
			return netip.Addr{}, store.Errorf(store.Forbidden, "metrics are not served through a proxy that names no client address")
		}
		if a.Unmap() == peer && forwarded != "" {
			return netip.Addr{}, store.Errorf(store.Forbidden, "metrics are not served through a proxy in --trusted-proxies whose %s names no client address Rolegate reads (an IP in X-Forwarded-For or X-Real-IP)",
				forwarded)
		}
		return a.Unmap(), nil
	}
	if forwarded != "" {
		return netip.Addr{}, store.Errorf(store.Forbidden, "metrics are not served through a proxy that is not in --trusted-proxies (the request has %s)", forwarded)
	}
	return peer, nil
}

func (s *Server) metricsAllowed(a netip.Addr) bool {
	for _, p := range s.metricsAllow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// CheckMetricsAllow validates the addresses (IPs or CIDRs) that may read /metrics on the main
// listener, before New is called.
func CheckMetricsAllow(allow []string) error {
	for _, a := range allow {
		if _, err := proxyPrefix(a); err != nil {
			return store.Errorf(store.Invalid, "invalid metrics-allow entry %q: use an IP address or a CIDR such as 10.0.0.0/8", strings.TrimSpace(a))
		}
	}
	return nil
}

// keyCollector reports the current signing key's age and its certificate's remaining days, read
// from the store at each scrape.
type keyCollector struct{ s *Server }

var (
	keyAgeDesc = prometheus.NewDesc("rolegate_signing_key_age_seconds",
		"Seconds since the current signing key was created.", nil, nil)
	keyExpiryDesc = prometheus.NewDesc("rolegate_signing_certificate_expiry_days",
		"Days until the current signing key's certificate expires (negative once it has).", nil, nil)
)

func (k *keyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyAgeDesc; ch <- keyExpiryDesc }

func (k *keyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	keys, err := k.s.store.ListSigningKeys(ctx)
	if err != nil {
		k.s.log.Warn("metrics: reading signing keys", "err", err) // and counted on rolegate_store_errors_total
		return
	}
	now := k.s.now()
	for _, key := range keys {
		if key.State != store.KeyCurrent {
			continue
		}
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, now.Sub(key.CreatedAt).Seconds())
		if cert, err := x509.ParseCertificate(key.Certificate); err == nil {
			ch <- prometheus.MustNewConstMetric(keyExpiryDesc, prometheus.GaugeValue, cert.NotAfter.Sub(now).Hours()/24)
		}
		return
	}
}

// buildInfo is rolegate_build_info: 1, with the module version, VCS revision and Go version.
func buildInfo() prometheus.Collector {
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				revision = kv.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "rolegate_build_info", Help: "Build information; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()}})
	g.Set(1)
	return g
}
