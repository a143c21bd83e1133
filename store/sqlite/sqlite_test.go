package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"rolegate/store"
	"rolegate/store/sqlite"
	"rolegate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), sqlite.FileName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateIsIdempotentAndTwoProcessesShareTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", sqlite.FileName)
	a, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	done := make(chan []int, 2)
	for _, s := range []interface {
		Migrate(context.Context) ([]int, error)
	}{a, b} {
		go func() {
			v, err := s.Migrate(ctx)
			if err != nil {
				t.Error(err)
			}
			done <- v
		}()
	}
	first, second := <-done, <-done
	if len(first)+len(second) == 0 || (len(first) > 0 && len(second) > 0) {
		t.Fatalf("concurrent migrations applied %v and %v: want exactly one to apply", first, second)
	}
	if again, err := a.Migrate(ctx); err != nil || len(again) != 0 {
		t.Fatalf("third migrate applied %v, %v", again, err)
	}
	if err := a.CreateUser(ctx, &store.User{Name: "shared"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetUser(ctx, "shared"); err != nil {
		t.Fatalf("the second handle does not see the first one's write: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file mode %v, want 0600", fi.Mode().Perm())
	}
}

// migrationCase runs check, a storetest migration case, on a fresh store and its database opened raw.
func migrationCase(t *testing.T, check func(*testing.T, storetest.Migrator, func(string, ...any) error)) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(t, s, func(q string, args ...any) error {
		_, err := db.Exec(q, args...)
		return err
	})
}

func TestMigrationRefusesUsersWhoShareAnEmailAddress(t *testing.T) {
	migrationCase(t, storetest.EmailMigration)
}

func TestSigningKeysComeThroughMigrationThirteen(t *testing.T) {
	migrationCase(t, storetest.KeyRotationMigration)
}

func TestAppendsBesideARefusedOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.type = '` + storetest.RefusedAuditType + `'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	storetest.AppendsBesideARefusedOne(t, s)
}
