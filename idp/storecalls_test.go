package idp_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"rolegate/idp/internal/idptest"
	"rolegate/internal/metricstest"
)

// storeCalls counts the store's calls that do made, per method, from rolegate_store_call_duration_seconds.
// ListSigningKeys is left out: each scrape makes one (the signing keys' gauges), and a sign-in
// reads its key through the keyring's cache, not once per sign-in.
func storeCalls(t *testing.T, w *idptest.Web, do func()) map[string]int {
	t.Helper()
	const name = "rolegate_store_call_duration_seconds"
	before := metricstest.Get(t, w.Srv.URL+"/metrics")
	do()
	after := metricstest.Get(t, w.Srv.URL+"/metrics")
	out := map[string]int{}
	for _, m := range after[name].Metric {
		for _, l := range m.Label {
			if l.GetName() != "method" || l.GetValue() == "ListSigningKeys" {
				continue
			}
			if d := int(after.Value(name, "method", l.GetValue()) - before.Value(name, "method", l.GetValue())); d != 0 {
				out[l.GetValue()] = d
			}
		}
	}
	return out
}

// The store calls of one IdP-initiated sign-in, pinned: a new one is a cost on every sign-in,
// and the one write is the audit row no Response leaves without.
func TestAWSSignInMakesThePinnedStoreCalls(t *testing.T) {
	w := idptest.NewAWSWeb(t)
	b := w.Browser(t)
	b.Login("alice", "correct horse battery")
	const link = "/aws/signin?account=prod&role=Admin"
	idptest.SignInPost(t, b, link) // the first sign-in of the process warms the keyring's cache
	// Seven statements, one a write: the session and its user, whether the user has a second
	// factor (the session has none), the grants, the account and its tag rules, and the audit row.
	seven := map[string]int{"GetSession": 1, "GetUserByID": 1, "ListMFAFactors": 1, "ListGrants": 1,
		"GetAccount": 1, "ListTagRules": 1, "AppendAudit": 1}
	touched := maps.Clone(seven)
	touched["TouchSession"] = 1
	for _, tc := range []struct {
		name    string
		advance time.Duration
		want    map[string]int
	}{
		{"a session seen within the minute is not touched", 0, seven},
		{"a session idle for a minute is touched once", time.Minute, touched},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.Clock.Advance(tc.advance)
			if got := storeCalls(t, w.Web, func() { idptest.SignInPost(t, b, link) }); !maps.Equal(got, tc.want) {
				t.Errorf("store calls %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkAWSSignInPage is the server's work for one IdP-initiated sign-in of a signed-in
// session (the handler alone, without the network): the session, the grants, the plan, two
// signatures, the audit row and the auto-POST page.
func BenchmarkAWSSignInPage(b *testing.B) {
	w := idptest.NewAWSWeb(b)
	br := w.Browser(b)
	br.Login("alice", "correct horse battery")
	benchGet(b, w.Web, br, "/aws/signin?account=prod&role=Admin")
}

// benchGet measures the handler's answer to br's GET of path (without the network), which must be
// 200, and returns the page's size.
func benchGet(b *testing.B, w *idptest.Web, br *idptest.Browser, path string) int {
	req := httptest.NewRequest(http.MethodGet, w.Srv.URL+path, nil)
	u, _ := url.Parse(w.Srv.URL)
	for _, c := range br.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	return benchServe(b, w, req)
}

// benchServe measures the handler's answer to req (without the network), which must be 200, and
// returns its size.
func benchServe(b *testing.B, w *idptest.Web, req *http.Request) int {
	h := w.Srv.Config.Handler
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d\n%s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	return size
}
