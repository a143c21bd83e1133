package idp_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/idp/password"
	"rolegate/store/sqlite"
	"rolegate/store/sqlstore"
)

// newHasher is a fast hasher for tests; production parameters are tested in idp/password.
func newHasher() *password.Hasher {
	return password.New(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
}

// testStore is a migrated SQLite store in a temporary directory.
func testStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// testRing is a keyring over st with a current key, rereading the store on every call.
func testRing(t *testing.T, st *sqlstore.Store, now func() time.Time) *certs.Keyring {
	t.Helper()
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	ring := certs.NewKeyring(st, kek, 2048, "test", now)
	ring.Refresh = 0
	if err := ring.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ring
}

// testKEK is a fresh key-encryption key.
func testKEK(t *testing.T) *certs.KEK {
	t.Helper()
	kek, _, err := certs.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	return kek
}
