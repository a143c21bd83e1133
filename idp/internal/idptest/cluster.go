package idptest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/idp"
	"rolegate/store/postgres"
	"rolegate/store/postgres/pgtest"
	"rolegate/store/sqlstore"
)

// Cluster is n replicas of the IdP over one fresh PostgreSQL database, behind a load balancer with
// no stickiness. Each replica is an idp.Server of its own, with its own connection pool, keyring,
// hasher, rate limiter and caches, as n `rolegate serve` processes would be; they share only the
// database, the base URL, the KEK and the (fake) clock. The embedded AWSWeb is what a client and an
// admin see: Srv is the load balancer, Store and Ring are the admin's (as the CLI opens them), and
// the AWS data of NewAWSWeb is stored.
//
// A package that uses it must stop the throwaway PostgreSQL from TestMain (see pgtest.Main).
type Cluster struct {
	*AWSWeb
	Replicas []*Replica

	pin  atomic.Int64 // the replica every request goes to; -1 sends them round robin
	next atomic.Int64
}

// Replica is one of a Cluster's servers.
type Replica struct {
	Store  *sqlstore.Store
	Ring   *certs.Keyring
	Served atomic.Int64 // requests the load balancer sent it
	h      http.Handler
}

// NewCluster starts n replicas whose keyrings reread the key list every refresh (of the fake
// clock), with settings changed by mod. Requests go round robin until Pin says otherwise.
func NewCluster(t testing.TB, n int, refresh time.Duration, mod func(*idp.Config)) *Cluster {
	t.Helper()
	url := pgtest.URL(t)
	c := &Cluster{AWSWeb: &AWSWeb{Web: &Web{Clock: NewClock(time.Now().UTC().Truncate(time.Second)), Hasher: NewHasher(), Logs: &Logs{}},
		KEK: NewKEK(t)}}
	c.pin.Store(-1)
	c.Srv = httptest.NewServer(http.HandlerFunc(c.balance))
	t.Cleanup(c.Srv.Close)
	cfg := idp.Config{BaseURL: c.Srv.URL, Now: c.Clock.Now, Secrets: c.KEK}
	mod(&cfg)
	c.BaseURL = cfg.BaseURL

	// The replicas start together, as a deployment's do: each opens, migrates and ensures a key.
	c.Replicas = make([]*Replica, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		r := &Replica{}
		c.Replicas[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Store, r.Ring, errs[i] = c.open(url)
			if errs[i] == nil {
				r.Ring.Refresh = refresh
				errs[i] = r.Ring.Ensure(context.Background())
			}
		}()
	}
	wg.Wait()
	for i, r := range c.Replicas {
		if r.Store != nil {
			t.Cleanup(func() { r.Store.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		rc := cfg
		if rc.Hasher == nil {
			rc.Hasher = NewHasher() // each its own bound on concurrent hashes
		}
		r.h = idp.New(rc, r.Store, r.Ring, logger(c.Logs)).Handler()
	}

	var err error
	if c.Store, c.Ring, err = c.open(url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Store.Close() })
	c.Ring.Refresh = 0
	c.seedAWS(t)
	return c
}

// open opens and migrates a store over the database at url, and a keyring over it under the KEK.
func (c *Cluster) open(url string) (*sqlstore.Store, *certs.Keyring, error) {
	ctx := context.Background()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		return st, nil, err
	}
	return st, certs.NewKeyring(st, c.KEK, 2048, "test", c.Clock.Now), nil
}

// Pin sends the requests that follow to replica i; -1 sends them round robin again.
func (c *Cluster) Pin(i int) { c.pin.Store(int64(i)) }

func (c *Cluster) balance(rw http.ResponseWriter, r *http.Request) {
	i := c.pin.Load()
	if i < 0 {
		i = (c.next.Add(1) - 1) % int64(len(c.Replicas))
	}
	rep := c.Replicas[i]
	rep.Served.Add(1)
	rep.h.ServeHTTP(rw, r)
}
