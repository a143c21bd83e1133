package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"rolegate/store"
	"rolegate/store/postgres"
	"rolegate/store/postgres/pgtest"
	"rolegate/store/sqlstore"
	"rolegate/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, url string) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, pgtest.URL(t))
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	const replicas = 4
	var wg sync.WaitGroup
	applied := make(chan int, replicas)
	for range replicas {
		s := open(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Migrate(context.Background())
			if err != nil {
				t.Error(err)
			}
			applied <- len(v)
		}()
	}
	wg.Wait()
	close(applied)
	total, winners := 0, 0
	for n := range applied {
		total += n
		if n > 0 {
			winners++
		}
	}
	if winners != 1 || total == 0 {
		t.Fatalf("%d replicas applied migrations (%d in all); want exactly one", winners, total)
	}
}

// migrationCase runs check, a storetest migration case, on a fresh store and its database opened raw.
func migrationCase(t *testing.T, check func(*testing.T, storetest.Migrator, func(string, ...any) error)) {
	url := pgtest.URL(t)
	s := open(t, url)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	check(t, s, func(q string, args ...any) error {
		_, err := conn.Exec(context.Background(), q, args...)
		return err
	})
}

func TestMigrationRefusesUsersWhoShareAnEmailAddress(t *testing.T) {
	migrationCase(t, storetest.EmailMigration)
}

func TestSigningKeysComeThroughMigrationThirteen(t *testing.T) {
	migrationCase(t, storetest.KeyRotationMigration)
}
