package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"rolegate/migrations"
	"rolegate/store"
	"rolegate/store/sqlite"
)

// migrateTo makes a database at path with the migrations up to version, then runs stmts.
func migrateTo(t *testing.T, path string, version int, stmts ...string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ms, err := migrations.For("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:version] {
		if _, err := raw.Exec(m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 1)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range stmts {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// An SP registered before migration 6 comes out of it releasing nothing and open to every user: the
// upgrade does not start sending attributes, nor lock anyone out.
func TestAnSPRegisteredBeforeMigrationSixReleasesNothingAfterIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	migrateTo(t, path, 5, `INSERT INTO service_providers (entity_id, metadata, created_at) VALUES ('urn:old', '<md/>', 1)`)

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	applied, err := s.Migrate(ctx)
	if err != nil || len(applied) == 0 || applied[0] != 6 {
		t.Fatalf("migrate applied %v, %v; want 6 onwards", applied, err)
	}
	sp, err := s.GetServiceProvider(ctx, "urn:old")
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Release) != 0 || sp.Restricted || len(sp.AllowedGroups) != 0 || string(sp.Metadata) != "<md/>" {
		t.Fatalf("after the upgrade: %+v", sp)
	}
}

// Migration 13 rebuilds the signing-key table: the keys come through it whole, the live-state rule
// still holds, and the state previous is accepted.
func TestSigningKeysSurviveMigrationThirteen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	migrateTo(t, path, 12,
		`INSERT INTO signing_keys VALUES ('a', 'retired', x'01', x'02', 'kek1', 1, 2, 3)`,
		`INSERT INTO signing_keys VALUES ('b', 'current', x'03', x'04', 'kek1', 2, 3, 0)`,
		`INSERT INTO signing_keys VALUES ('c', 'next', x'05', x'06', 'kek1', 4, 0, 0)`)
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if applied, err := s.Migrate(ctx); err != nil || len(applied) == 0 || applied[0] != 13 {
		t.Fatalf("migrate applied %v, %v; want 13 onwards", applied, err)
	}
	keys, err := s.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		us := func(t time.Time) int64 { // as stored: microseconds, 0 for none
			if t.IsZero() {
				return 0
			}
			return t.UnixMicro()
		}
		got = append(got, fmt.Sprintf("%s:%s:%x:%x:%s:%d:%d:%d", k.ID, k.State, k.Certificate, k.SealedKey, k.KEKID,
			us(k.CreatedAt), us(k.ActivatedAt), us(k.RetiredAt)))
	}
	want := []string{"a:retired:01:02:kek1:1:2:3", "b:current:03:04:kek1:2:3:0", "c:next:05:06:kek1:4:0:0"}
	if !slices.Equal(got, want) {
		t.Fatalf("keys after migration 13: %v; want %v", got, want)
	}
	if err := s.CreateSigningKey(ctx, &store.SigningKey{ID: "d", State: store.KeyNext, Certificate: []byte{7}, SealedKey: []byte{8},
		KEKID: "kek1", CreatedAt: time.Unix(5, 0)}); !store.IsCode(err, store.Conflict) {
		t.Fatalf("a second next key after migration 13: %v; want conflict", err)
	}
	if err := s.PromoteSigningKey(ctx, "c", time.Unix(6, 0)); err != nil {
		t.Fatalf("activation after migration 13: %v", err)
	}
}
