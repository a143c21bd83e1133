package idp_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"rolegate/idp"
)

func TestABrowserThatCameByAnotherNameIsSentToTheBaseURL(t *testing.T) {
	const local = "http://localhost:8080"
	for _, tc := range []struct {
		name, base, method, target, host, peer string
		hdr                                    []string
		status                                 int
		location                               string
	}{
		{"127.0.0.1 for localhost goes to the same path and query on the base URL", local, "GET", "/login?next=%2Faccount", "127.0.0.1:8080", "127.0.0.1", nil,
			http.StatusFound, local + "/login?next=%2Faccount"},
		{"HEAD too", local, "HEAD", "/", "127.0.0.1:8080", "127.0.0.1", nil, http.StatusFound, local + "/"},
		{"::1 for localhost", local, "GET", "/", "[::1]:8080", "::1", nil, http.StatusFound, local + "/"},
		{"a path that looks like another host stays a path on the base URL", local, "GET", "//evil.example/x", "127.0.0.1:8080", "127.0.0.1", nil,
			http.StatusFound, local + "//evil.example/x"},
		{"an absolute request target cannot name the redirect's host", local, "GET", "http://evil.example:8080/p?q=1", "evil.example:8080", "127.0.0.1", nil,
			http.StatusFound, local + "/p?q=1"},
		{"the base URL's own name is served, whatever its case", local, "GET", "/nosuch", "LOCALHOST:8080", "127.0.0.1", nil, http.StatusNotFound, ""},
		{"a post is served where it was sent (ECP, device codes)", local, "POST", "/nosuch", "127.0.0.1:8080", "127.0.0.1", nil, http.StatusNotFound, ""},
		{"another port is another server or a stale base URL: served", local, "GET", "/nosuch", "127.0.0.1:9090", "127.0.0.1", nil, http.StatusNotFound, ""},
		{"health checks by address are answered", local, "GET", "/healthz", "10.1.2.3:8080", "10.1.2.3", nil, http.StatusOK, ""},
		{"a request a proxy forwarded is the proxy's to route", local, "GET", "/nosuch", "127.0.0.1:8080", "127.0.0.1", []string{"X-Forwarded-For", "192.0.2.7"}, http.StatusNotFound, ""},
		{"a Forwarded header too", local, "GET", "/nosuch", "127.0.0.1:8080", "127.0.0.1", []string{"Forwarded", "for=192.0.2.7"}, http.StatusNotFound, ""},
		{"an https base URL sits behind a TLS proxy that decides hosts", "https://idp.example.com", "GET", "/nosuch", "127.0.0.1:8080", "127.0.0.1", nil,
			http.StatusNotFound, ""},
		{"another machine is not sent to its own localhost", local, "GET", "/login", "10.0.0.5:8080", "10.0.0.9", nil, http.StatusMisdirectedRequest, ""},
		{"another machine is sent to a base URL it can reach", "http://idp.lan:8080", "GET", "/login", "10.0.0.5:8080", "10.0.0.9", nil,
			http.StatusFound, "http://idp.lan:8080/login"},
		{"port 80 is the default on both sides", "http://idp.lan", "GET", "/", "10.0.0.5", "10.0.0.9", nil, http.StatusFound, "http://idp.lan/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := idp.New(idp.Config{BaseURL: tc.base}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Host = tc.host
			req.RemoteAddr = net.JoinHostPort(tc.peer, "40000")
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
				t.Fatalf("%s %s (Host %s): %d to %q; want %d to %q", tc.method, tc.target, tc.host, rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
			}
			if tc.status == http.StatusMisdirectedRequest && (!strings.Contains(rec.Body.String(), "--base-url") || !strings.Contains(rec.Body.String(), "open "+local+"/login.")) {
				t.Fatalf("the page does not say how to reach Rolegate from other machines:\n%s", rec.Body)
			}
		})
	}
}
