package idp

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// canonicalHost sends a browser that reached this server under another of its names (127.0.0.1 for
// localhost) to the same path on the base URL, where its cookies and forms work; elsewhere the
// first form it posts would fail as not sent by Rolegate. The target is always the base URL plus
// the request's path and query, so no request can point it elsewhere. It leaves alone:
//   - an https base URL: Rolegate then sits behind a TLS proxy, whose Host the proxy decides, and
//     a proxy that rewrites Host would otherwise send every request round in a loop;
//   - requests through a proxy (a trusted one, or any with Forwarded or X-Forwarded-* headers);
//   - a Host whose port is not the base URL's (a restart on another port, a port mapping);
//   - methods other than GET and HEAD (ECP and device-code clients post where they were told);
//   - the health and metrics endpoints, which load balancers probe by address.
//
// A browser on another machine that reaches a localhost base URL's server is told to start the
// server with a base URL it can reach, not sent to its own machine.
func (s *Server) canonicalHost(c *gin.Context) {
	base := s.canonical
	r := c.Request
	if base == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) || probePaths[r.URL.Path] ||
		s.fromProxy(r) || forwarded(r.Header) {
		c.Next()
		return
	}
	host, port := splitHost(r.Host, "80")
	if strings.EqualFold(host, base.Hostname()) || port != portOr(base, "80") {
		c.Next()
		return
	}
	target := strings.TrimRight(s.cfg.BaseURL, "/") + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	if Loopback(base.Hostname()) && !peerLoopback(r.RemoteAddr) {
		// (Behind Docker's port mapping the peer is the bridge: the page names the URL to open.)
		s.page(c, http.StatusMisdirectedRequest, "error", gin.H{"Title": "Rolegate is not reachable under this name",
			"Message": "This server's base URL names only the machine it runs on: on that machine, open " + target + ". " +
				"To sign in from other machines, its operator starts it with --base-url set to a URL they can reach.",
			"RequestID": c.GetString(ctxRequestID)})
		c.Abort()
		return
	}
	// 302, not 308: browsers keep a permanent redirect, and the base URL may change.
	c.Redirect(http.StatusFound, target)
	c.Abort()
}

// probePaths are probed by load balancers and monitors, by address.
var probePaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// forwarded reports whether a proxy says it forwarded the request.
func forwarded(h http.Header) bool {
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}

// canonicalBase is the base URL canonicalHost sends browsers to, nil when it sends none: for an
// https base URL, or one it cannot read.
func canonicalBase(baseURL string) *url.URL {
	u, err := url.Parse(baseURL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || u.Host == "" {
		return nil
	}
	return u
}

// splitHost splits a Host header into its name, without brackets, and port (def when none).
func splitHost(hostport, def string) (string, string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.Trim(hostport, "[]"), def
}

func portOr(u *url.URL, def string) string {
	if p := u.Port(); p != "" {
		return p
	}
	return def
}

// Loopback reports whether host names this machine: localhost, 127.0.0.0/8 or ::1.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// peerLoopback reports whether the connection came from this machine.
func peerLoopback(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
