package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"rolegate/migrations"
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

// The migrations run once however the database's default isolation is set: the lock is taken
// before anything is read, and a snapshot taken before the lock would hide the winner's work.
func TestReplicasStartingTogetherMigrateOnce(t *testing.T) {
	want, err := migrations.For(postgres.Dialect.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, iso := range []string{"read committed", "repeatable read", "serializable"} {
		t.Run("under "+iso, func(t *testing.T) {
			url := pgtest.URL(t)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "SELECT set_config('default_transaction_isolation', $1, false)", iso); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{conn.Config().Database}.Sanitize()+
				" SET default_transaction_isolation = '"+iso+"'"); err != nil {
				t.Fatal(err)
			}
			const replicas = 4
			stores := make([]*sqlstore.Store, replicas)
			for i := range stores {
				stores[i] = open(t, url)
			}
			var wg sync.WaitGroup
			applied := make([][]int, replicas)
			errs := make([]error, replicas)
			gate := make(chan struct{})
			for i, s := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					applied[i], errs[i] = s.Migrate(ctx)
				}()
			}
			close(gate)
			wg.Wait()
			winners := 0
			for i := range stores {
				if errs[i] != nil {
					t.Errorf("replica %d: %v", i, errs[i])
				}
				if len(applied[i]) > 0 {
					winners++
					if len(applied[i]) != len(want) {
						t.Errorf("replica %d applied %v; want all %d", i, applied[i], len(want))
					}
				}
			}
			if winners != 1 {
				t.Fatalf("%d replicas applied migrations; want exactly one", winners)
			}
			var rows, versions, top int
			if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations").Scan(&rows, &versions, &top); err != nil {
				t.Fatal(err)
			}
			if rows != len(want) || versions != len(want) || top != want[len(want)-1].Version {
				t.Fatalf("schema_migrations holds %d rows, %d versions, up to %d; want each of the %d once", rows, versions, top, len(want))
			}

			// A single statement that races, outside any transaction, is not refused either: under
			// serializable, concurrent updates of one counter would fail with 40001.
			hits := make(chan error, 24)
			for i := range cap(hits) {
				go func() {
					_, err := stores[i%replicas].HitThrottle(ctx, "race", time.Hour, time.Now())
					hits <- err
				}()
			}
			for range cap(hits) {
				if err := <-hits; err != nil {
					t.Fatal(err)
				}
			}
			if th, err := stores[0].GetThrottle(ctx, "race", time.Now()); err != nil || th.Count != cap(hits) {
				t.Fatalf("counter %d (%v) after %d concurrent hits", th.Count, err, cap(hits))
			}
		})
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

func TestAppendsBesideARefusedOne(t *testing.T) {
	url := pgtest.URL(t)
	s := open(t, url)
	ctx := context.Background()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW
		WHEN (NEW.type = '`+storetest.RefusedAuditType+`') EXECUTE FUNCTION refuse_audit()`); err != nil {
		t.Fatal(err)
	}
	storetest.AppendsBesideARefusedOne(t, s)
}
