package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/internal/testtools"
	"rolegate/store"
)

func (c *cli) bench(t *testing.T, url string, args ...string) (benchJSON, result) {
	t.Helper()
	r := c.run("", append([]string{"bench", "--url", url, "-o", "json", "--duration", "1s", "--warmup", "200ms", "--concurrency", "2", "--verify-every", "3"}, args...)...)
	var out benchJSON
	if r.stdout != "" {
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("bench output is not JSON: %v\n%s", err, r.stdout)
		}
	}
	return out, r
}

func TestBench(t *testing.T) {
	c := newCLI(t, "sqlite")
	s := c.serve(t, "--rate-burst", "100000", "--rate-per-second", "10000", "--log-level", "warn")
	for _, scenario := range benchScenarios {
		t.Run("the "+scenario+" scenario runs, verifies and cleans up", func(t *testing.T) {
			out, r := c.bench(t, s.url, "--scenario", scenario)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
			}
			if out.Scenario != scenario || out.Requests == 0 || out.ErrorCount != 0 || out.Verified == 0 || len(out.Errors) != 0 {
				t.Fatalf("want requests and verified answers without errors, got %+v", out)
			}
			if want := float64(out.Requests) / out.Seconds; out.PerSecond != want {
				t.Errorf("requests_per_second %v, want requests/duration %v", out.PerSecond, want)
			}
			l := out.Latency
			if !(l["p50"] > 0 && l["p50"] <= l["p90"] && l["p90"] <= l["p99"] && l["p99"] <= l["max"]) {
				t.Errorf("latencies out of order: %v", l)
			}
			for name := range c.users(t) {
				if strings.HasPrefix(name, benchUserPrefix) {
					t.Errorf("bench left user %s in the store", name)
				}
			}
			var accts []struct{ ID string }
			c.list(t, &accts, "account", "list", "--json")
			for _, a := range accts {
				if a.ID == benchAccountID {
					t.Errorf("bench left its account in the store")
				}
			}
		})
	}
	t.Run("text output names the rate, the percentiles and the verification", func(t *testing.T) {
		r := c.run("", "bench", "--url", s.url, "--scenario", "sso", "--duration", "500ms", "--warmup", "0s", "--concurrency", "1")
		for _, want := range []string{"requests   ", "/s)", "p50 ", "p99 ", "errors     0", "verified   ", "all right"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Fatalf("exit %d, stdout lacks %q:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
		}
	})
	t.Run("--xmlsec1 also holds the checked Responses to xmlsec1", func(t *testing.T) {
		testtools.RequireTool(t, "xmlsec1", "xmlsec1")
		r := c.run("", "bench", "--url", s.url, "--scenario", "sso", "--duration", "500ms", "--warmup", "0s", "--concurrency", "2", "--verify-every", "3", "--xmlsec1")
		if r.code != 0 || !strings.Contains(r.stdout, "and by xmlsec1): all right") {
			t.Fatalf("exit %d, stdout:\n%s%s", r.code, r.stdout, r.stderr)
		}
		t.Setenv("PATH", t.TempDir())
		if r := c.run("", "bench", "--url", s.url, "--scenario", "sso", "--duration", "500ms", "--xmlsec1"); r.code != exitCodes[store.Invalid] || !strings.Contains(r.stderr, "xmlsec1 not found") {
			t.Errorf("without xmlsec1: exit %d, stderr %q; want exit 2 naming it", r.code, r.stderr)
		}
	})
	t.Run("--keep leaves the bench users for the next run to replace", func(t *testing.T) {
		if _, r := c.bench(t, s.url, "--scenario", "sso", "--users", "3", "--keep"); r.code != 0 {
			t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
		}
		n := 0
		for name := range c.users(t) {
			if strings.HasPrefix(name, benchUserPrefix) {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("%d bench users after --keep, want 3", n)
		}
		if _, r := c.bench(t, s.url, "--scenario", "sso", "--users", "1"); r.code != 0 {
			t.Fatalf("a run after --keep: exit %d, stderr %s", r.code, r.stderr)
		}
	})
	t.Run("a store with other users is refused unless --force", func(t *testing.T) {
		c.ok(t, "", "user", "add", "alice", "--no-password")
		_, r := c.bench(t, s.url, "--scenario", "sso")
		if r.code != exitCodes[store.Forbidden] || !strings.Contains(r.stderr, "alice") || !strings.Contains(r.stderr, "--force") {
			t.Fatalf("want a refusal naming alice and --force, got exit %d, stderr %s", r.code, r.stderr)
		}
		for name := range c.users(t) {
			if strings.HasPrefix(name, benchUserPrefix) {
				t.Fatalf("a refused bench created %s", name)
			}
		}
		if _, r := c.bench(t, s.url, "--scenario", "sso", "--force"); r.code != 0 {
			t.Fatalf("--force: exit %d, stderr %s", r.code, r.stderr)
		}
		if _, ok := c.users(t)["alice"]; !ok {
			t.Fatal("bench removed a user that is not its own")
		}
	})
	t.Run("a server on another store is named before the run", func(t *testing.T) {
		other := newCLI(t, "sqlite")
		other.ok(t, "", "migrate")
		_, r := other.bench(t, s.url, "--scenario", "login")
		if r.code != exitCodes[store.Unavailable] || r.stdout != "" || !strings.Contains(r.stderr, "--data-dir or --database-url") {
			t.Fatalf("want exit 7 naming the store flags and no results, got exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
		}
		for name := range other.users(t) {
			if strings.HasPrefix(name, benchUserPrefix) {
				t.Errorf("the failed bench left user %s in its store", name)
			}
		}
	})
	t.Run("a throttled run says to raise the rate limits", func(t *testing.T) {
		c := newCLI(t, "sqlite")
		s := c.serve(t, "--rate-burst", "1", "--rate-per-second", "0.01", "--log-level", "warn")
		// Before the run (the sign-in that checks the store) or in it: either way, said plainly.
		for _, scenario := range []string{"ecp", "sso"} {
			out, r := c.bench(t, s.url, "--scenario", scenario)
			if r.code == 0 || !strings.Contains(r.stderr, "HTTP 429") || !strings.Contains(r.stderr, "--rate-burst") {
				t.Fatalf("%s: want a failure naming HTTP 429 and --rate-burst, got exit %d, %+v, stderr %s", scenario, r.code, out, r.stderr)
			}
		}
	})
}

func TestBenchRefusesBadFlags(t *testing.T) {
	c := newCLI(t, "sqlite")
	for _, args := range [][]string{
		{"--scenario", "sso"},
		{"--url", "ftp://x", "--scenario", "sso"},
		{"--url", "http://127.0.0.1:1", "--scenario", "portal"},
		{"--url", "http://127.0.0.1:1", "--scenario", "sso login"}, // two scenarios, not one
		{"--url", "http://127.0.0.1:1", "--scenario", ""},
		{"--url", "http://127.0.0.1:1", "--concurrency", "0"},
		{"--url", "http://127.0.0.1:1", "--duration", "0s"},
		{"--url", "http://127.0.0.1:1", "-o", "yaml"},
	} {
		if r := c.run("", append([]string{"bench"}, args...)...); r.code != exitCodes[store.Invalid] || r.stdout != "" {
			t.Errorf("bench %v: exit %d, stdout %q; want exit 2 and nothing printed", args, r.code, r.stdout)
		}
	}
}

// A server that answers fast but signs with a key its metadata does not publish must fail the run.
func TestBenchFailsOnAWronglySignedResponse(t *testing.T) {
	published, pubCert := samltest.KeyPair(t, 2048, "published")
	other, otherCert := samltest.KeyPair(t, 2048, "other")
	for _, tc := range []struct {
		name   string
		signer assertions.Signer
		code   int
	}{
		{"a Response signed by the published key passes", assertions.Signer{Key: published, Cert: pubCert}, 0},
		{"a Response signed by another key fails the run", assertions.Signer{Key: other, Cert: otherCert}, exitCodes[store.Internal]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t, "sqlite")
			c.ok(t, "", "migrate")
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Method + " " + r.URL.Path {
				case "GET /saml/metadata":
					md, _ := assertions.Metadata(assertions.MetadataInput{BaseURL: srv.URL, SigningCerts: []*x509.Certificate{pubCert}})
					w.Write(md)
				case "GET /login":
					fmt.Fprint(w, `<input type="hidden" name="csrf_token" value="tok">`)
				case "POST /login":
					http.Redirect(w, r, "/", http.StatusSeeOther)
				case "GET /":
				case "GET /aws/signin":
					now := time.Now()
					plan, err := assertions.PlanAWS(assertions.AWSSignIn{BaseURL: srv.URL,
						User:    &store.User{Name: "bench-1", Subject: "rg-bench"},
						Account: &store.Account{ID: benchAccountID, Alias: benchAlias, ProviderName: "Rolegate", Partition: store.PartitionAWS, SessionNameSource: store.FromUsername},
						Grants:  []*store.Grant{{AccountID: benchAccountID, Role: benchRole, Group: benchGroup}},
						Role:    benchRole, AuthnInstant: now, Now: now, ResponseID: "_r", AssertionID: "_a"})
					var xml []byte
					if err == nil {
						xml, err = assertions.BuildAWS(plan, tc.signer)
					}
					if err != nil {
						http.Error(w, err.Error(), 500)
						return
					}
					fmt.Fprintf(w, `<form method="post" action="%s" id="aws-form"><input type="hidden" name="SAMLResponse" value="%s">`,
						plan.ACS, base64.StdEncoding.EncodeToString(xml))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			out, r := c.bench(t, srv.URL, "--scenario", "sso", "--duration", "300ms", "--warmup", "0s")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", r.code, tc.code, r.stderr)
			}
			if tc.code != 0 && (out.Errors["verify"] == 0 || !strings.Contains(r.stderr, "signature")) {
				t.Fatalf("want verification errors naming the signature, got %+v, stderr %s", out, r.stderr)
			}
		})
	}
}

// The bench's preparation and cleanup speak only the Store interface: PostgreSQL as well.
func TestBenchOnPostgreSQL(t *testing.T) {
	c := newCLI(t, "postgres")
	s := c.serve(t, "--rate-burst", "100000", "--rate-per-second", "10000", "--log-level", "warn")
	out, r := c.bench(t, s.url, "--scenario", "sso", "--users", "3")
	if r.code != 0 || out.Requests == 0 || out.ErrorCount != 0 || out.Verified == 0 {
		t.Fatalf("exit %d, %+v, stderr %s", r.code, out, r.stderr)
	}
	for name := range c.users(t) {
		if strings.HasPrefix(name, benchUserPrefix) {
			t.Errorf("bench left user %s in the store", name)
		}
	}
}
