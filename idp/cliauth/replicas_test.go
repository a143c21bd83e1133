package cliauth_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store/postgres/pgtest"
)

// The replica tests run three servers over one PostgreSQL database, each with its own memory.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func newCluster(t *testing.T) (*idptest.Cluster, *awsWeb) {
	t.Helper()
	c := idptest.NewCluster(t, 3, certs.DefaultRefresh, func(*idp.Config) {})
	return c, &awsWeb{c.AWSWeb}
}

func TestADeviceCodeAskedOfOneReplicaIsApprovedAndPolledOnOthersOnce(t *testing.T) {
	c, w := newCluster(t)
	c.Pin(0)
	g := w.requestDevice(t, "prod")
	w.wantPoll(t, g.DeviceCode, "authorization_pending")
	// The poll interval is kept with the code: a fast poll to another replica is still too fast.
	c.Clock.Advance(time.Second)
	c.Pin(1)
	w.wantPoll(t, g.DeviceCode, "slow_down")

	b := w.Browser(t)
	b.Login("alice", idptest.GoodPassword)
	c.Pin(2)
	if resp, body := decide(b, g.UserCode, "approve", "111122223333 Admin"); resp.StatusCode != http.StatusOK {
		t.Fatalf("approving on replica 2: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	c.Clock.Advance(time.Minute)
	c.Pin(0)
	if status, a := w.poll(t, g.DeviceCode); status != http.StatusOK || a.Account != "111122223333" {
		t.Fatalf("polling replica 0 after the approval on replica 2: %d %+v", status, a)
	}
	c.Clock.Advance(time.Minute)
	for i := range c.Replicas {
		c.Pin(i)
		w.wantPoll(t, g.DeviceCode, "invalid_grant")
	}
}

func TestABrowserFlowCodeIsTradedOnAnyReplicaOnce(t *testing.T) {
	c, w := newCluster(t)
	b := w.Browser(t) // round robin
	r := newCLIRequest()
	r.extra = map[string][]string{"account": {"prod"}}
	b.Login("alice", idptest.GoodPassword)
	code := r.code(t, b, "111122223333 Admin")
	for i := range c.Replicas {
		c.Pin(i)
		status, a := w.exchange(t, code, r.verifier, r.redirect)
		switch {
		case i == 0 && (status != http.StatusOK || a.Account != "111122223333"):
			t.Fatalf("the first exchange, on replica 0: %d %+v", status, a)
		case i > 0 && (status != http.StatusBadRequest || a.Error != "invalid_grant"):
			t.Fatalf("the code again, on replica %d: %d %+v", i, status, a)
		}
	}
}
