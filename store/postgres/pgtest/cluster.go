package pgtest

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Cluster is a throwaway PostgreSQL server of one test's own, which the test may stop and start
// again on the same port with the same data: the fault tests take the database away under load.
// It never uses ROLEGATE_TEST_POSTGRES_URL, since a shared server is not a test's to restart.
type Cluster struct {
	mu sync.Mutex
	c  *cluster // the running postmaster; its exited channel is closed after Stop
}

// NewCluster starts a throwaway cluster, stopped and removed when t ends. Without the PostgreSQL
// server binaries it skips t, or fails it when CI=true.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		unavailable(t, err.Error())
		return nil
	}
	k := &Cluster{c: c}
	t.Cleanup(func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if err := k.c.stop(); err != nil {
			t.Errorf("pgtest: removing the cluster: %v", err)
		}
	})
	return k
}

// URL is the connection URL of the cluster's postgres database, as superuser postgres.
func (k *Cluster) URL() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.c.url()
}

// Stop shuts the server down as an operator's restart does ("fast": open sessions are ended).
func (k *Cluster) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.c.halt()
}

// Start starts the stopped server again on the same port and data, and returns once it answers.
func (k *Cluster) Start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-k.c.exited:
	default:
		return fmt.Errorf("pgtest: the cluster is running")
	}
	cred, err := runAs()
	if err != nil {
		return err
	}
	c, err := startPostgres(k.c.binDir, k.c.dir, filepath.Join(k.c.dir, "data"), filepath.Join(k.c.dir, "sock"), cred, k.c.port)
	if err != nil {
		return err
	}
	k.c = c
	return nil
}
