package idp_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/mfa"
	"rolegate/store/postgres/pgtest"
)

// The replica tests run three servers over one PostgreSQL database, each with its own memory.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newCluster(t *testing.T, mod ...func(*idp.Config)) *idptest.Cluster {
	t.Helper()
	return idptest.NewCluster(t, 3, certs.DefaultRefresh, func(cfg *idp.Config) {
		for _, m := range mod {
			m(cfg)
		}
	})
}

func TestASessionMadeOnOneReplicaWorksOnEveryOtherAndEndsOnAll(t *testing.T) {
	c := newCluster(t)
	b := c.Browser(t)
	c.Pin(0)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
	for i := range c.Replicas {
		c.Pin(i)
		if !b.SignedIn() {
			t.Fatalf("replica %d does not know the session made on replica 0", i)
		}
		p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
		if v := assertions.InspectAWS([]byte(p.Response), c.Expect(t, p.Action)); !v.Accepted {
			t.Fatalf("replica %d: AWS would refuse the sign-in: %v", i, v.Problems)
		}
	}
	c.Pin(1)
	b.Post("/", "/logout", nil)
	for i := range c.Replicas {
		c.Pin(i)
		if b.SignedIn() {
			t.Fatalf("replica %d still knows the session ended on replica 1", i)
		}
	}
}

func TestABalancerWithoutStickinessServesAWholeSignInWithMFA(t *testing.T) {
	c := newCluster(t)
	secret, _ := c.Enrolled(t, "alice")
	b := c.Browser(t) // every request goes to the next replica
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/login/mfa")
	idptest.WantRedirect(t, first(b.Code(mfa.Code(secret, mfa.Step(c.Clock.Now()), mfa.Digits))), "", "/")
	if got := c.AuthnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("AuthnContext %s; want MFA", got)
	}
	for i, r := range c.Replicas {
		if r.Served.Load() == 0 {
			t.Errorf("replica %d served %d requests; the balancer did not spread them", i, r.Served.Load())
		}
	}
}

func TestFailedPasswordsSplitAcrossReplicasAddUp(t *testing.T) {
	c := newCluster(t)
	b := c.Browser(t)
	for i := range 5 { // clientBackoff lets five through
		c.Pin(i % 3)
		if resp, _ := b.Login("alice", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d on replica %d: %d", i+1, i%3, resp.StatusCode)
		}
	}
	for i := range c.Replicas {
		c.Pin(i)
		resp, body := b.Login("alice", idptest.GoodPassword)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
			t.Fatalf("replica %d, the right password after five failures elsewhere: %d %q", i, resp.StatusCode, idptest.Alert(body))
		}
	}
	c.Clock.Advance(time.Minute)
	c.Pin(2)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
}

func TestACodeSpentOnOneReplicaIsRefusedOnAnother(t *testing.T) {
	c := newCluster(t)
	secret, recovery := c.Enrolled(t, "alice")
	for _, tc := range []struct{ name, code string }{
		{"a TOTP code, its time step spent", mfa.Code(secret, mfa.Step(c.Clock.Now()), mfa.Digits)},
		{"a recovery code", recovery[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.Pin(0)
			a := c.Browser(t)
			a.Login("alice", idptest.GoodPassword)
			idptest.WantRedirect(t, first(a.Code(tc.code)), "", "/")
			for i := 1; i < len(c.Replicas); i++ {
				c.Pin(i)
				b := c.Browser(t)
				b.Login("alice", idptest.GoodPassword)
				if resp, body := b.Code(tc.code); resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("replica %d took the code spent on replica 0: %d %q", i, resp.StatusCode, idptest.Alert(body))
				}
			}
		})
	}
}

func TestASecurityKeyCeremonyAndItsCounterSpanReplicas(t *testing.T) {
	var origin string
	c := newCluster(t, func(cfg *idp.Config) {
		cfg.BaseURL = strings.Replace(cfg.BaseURL, "://127.0.0.1:", "://localhost:", 1)
		origin = cfg.BaseURL
	})
	c.OpenWindow(t, "", 24*time.Hour)
	w := &keyWeb{AWSWeb: c.AWSWeb, origin: origin}
	k := w.withKey(t, "alice") // round robin: begun on one replica, finished on another
	k.count = 10

	// Begun on replica 0, answered on replica 1: the challenge lives with the session in the store.
	c.Pin(0)
	b := w.passwordOnly(t, "alice")
	ch := w.begin(t, b, "/login/mfa", keyLoginBegin)
	c.Pin(1)
	idptest.WantRedirect(t, first(w.finishLogin(b, "/", k.get(t, ch))), "", "/")
	if got := signCount(t, w.onlyKey(t, "alice")); got != 10 {
		t.Fatalf("stored count %d; want 10", got)
	}

	// A copy of the key, answering with the same count on replica 2, is a clone.
	k.count = 10
	c.Pin(2)
	b = w.passwordOnly(t, "alice")
	if resp, body := w.finishLogin(b, "/", k.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin))); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replica 2 took a count replica 1 had seen: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	w.wantLastAudit(t, "mfa", "alice", "clone_warning", "method", "webauthn")
}

// served are the signing certificates replica i publishes at /saml/metadata, base64 as there.
func served(t *testing.T, c *idptest.Cluster, i int) []string {
	t.Helper()
	c.Pin(i)
	resp, err := http.Get(c.Srv.URL + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("replica %d: GET /saml/metadata: %d %v", i, resp.StatusCode, err)
	}
	return metadataCerts(t, body)
}

func TestEveryReplicaFollowsAKeyRotationWithinTheRefreshInterval(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	b := c.Browser(t)
	c.Pin(0)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")

	// signsWith fails unless replica i signs with exactly key k.
	signsWith := func(i int, k *certs.Key) {
		t.Helper()
		c.Pin(i)
		p := idptest.SignInPost(t, b, "/aws/signin?account=prod&role=Admin")
		want := c.Expect(t, p.Action)
		want.Certs = []*x509.Certificate{k.Cert}
		if v := assertions.InspectAWS([]byte(p.Response), want); !v.Accepted {
			t.Fatalf("replica %d does not sign with key %s: %v", i, k.ID, v.Problems)
		}
	}
	// follow moves the clock on by the refresh interval, the bound, and checks that every replica
	// then publishes what the admin's keyring does and signs with its current key.
	follow := func(step string) {
		t.Helper()
		c.Clock.Advance(certs.DefaultRefresh)
		published, err := c.Ring.Published(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.Replicas {
			var want []string
			for _, k := range published {
				want = append(want, base64.StdEncoding.EncodeToString(k.Cert.Raw))
			}
			if got := served(t, c, i); !slices.Equal(got, want) {
				t.Fatalf("after %s: replica %d publishes %d certificates other than the %d of the store", step, i, len(got), len(want))
			}
			signsWith(i, published[0])
		}
	}
	follow("start")
	old, err := c.Ring.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, action := range []string{certs.Staged, certs.Activated, certs.Retired} {
		if action == certs.Retired {
			c.Clock.Advance(certs.DefaultSettle)
		}
		step, err := c.Ring.Rotate(ctx, nil, false) // what rolegate keys rotate does
		if err != nil || step.Action != action {
			t.Fatalf("rotate: %v %v; want %s", step, err, action)
		}
		follow(action)
	}
	if cur, _ := c.Ring.Current(ctx); cur.ID == old.ID || len(served(t, c, 2)) != 1 {
		t.Fatalf("the rotation did not replace key %s", old.ID)
	}
}
