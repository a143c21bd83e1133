package sso_test

import (
	"net/http"
	"os"
	"testing"

	"github.com/crewjam/saml"

	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store/postgres/pgtest"
)

// The replica tests run three servers over one PostgreSQL database, each with its own memory.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestAnAuthnRequestAnsweredByOneReplicaIsAReplayOnEveryOther(t *testing.T) {
	c := idptest.NewCluster(t, 3, certs.DefaultRefresh, func(*idp.Config) {})
	w := newSSOWebOn(t, c.AWSWeb, false)
	b := w.Browser(t) // round robin: each step of the sign-in on the next replica
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding)
	path := w.redirectPath(t, req, "state-42")
	resp, body := b.Get(path)
	start(t, b, resp, body)
	w.accept(t, w.sp, walk(t, b), req.ID)

	for i := range c.Replicas {
		c.Pin(i)
		resp, body := w.Browser(t).Get(path)
		if resp.StatusCode != http.StatusBadRequest || idptest.Alert(body) != "this sign-in request was already used" {
			t.Fatalf("the request again, on replica %d: %d %q", i, resp.StatusCode, idptest.Alert(body))
		}
	}
}
