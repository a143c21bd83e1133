package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"rolegate/migrations"
	"rolegate/store/sqlite"
)

// An SP registered before migration 6 comes out of it releasing nothing and open to every user: the
// upgrade does not start sending attributes, nor lock anyone out.
func TestAnSPRegisteredBeforeMigrationSixReleasesNothingAfterIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), sqlite.FileName)
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations.For("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:5] {
		if _, err := raw.Exec(m.SQL); err != nil {
			t.Fatalf("migration %d: %v", m.Version, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 1)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := raw.Exec(`INSERT INTO service_providers (entity_id, metadata, created_at) VALUES ('urn:old', '<md/>', 1)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

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
