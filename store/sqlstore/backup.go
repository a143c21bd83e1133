package sqlstore

import (
	"context"
	"fmt"

	"rolegate/migrations"
	"rolegate/store"
)

// CopyTo writes a consistent copy of the embedded database to path, which must not exist or be
// empty, while other connections go on reading and writing: VACUUM INTO reads one snapshot (in
// WAL mode, writers do not wait for it), unlike a copy of the file and its write-ahead log.
func (s *Store) CopyTo(ctx context.Context, path string) error {
	if s.d.Name != "sqlite" {
		return store.Errorf(store.Invalid, "only the embedded store is copied by rolegate; use pg_dump for PostgreSQL")
	}
	_, err := s.db.Exec(ctx, `VACUUM INTO $1`, path)
	return err
}

// CheckIntegrity runs SQLite's integrity check over the whole database.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	if s.d.Name != "sqlite" {
		return store.Errorf(store.Invalid, "the integrity check is the embedded store's")
	}
	rows, err := s.db.Query(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return store.Errorf(store.Invalid, "the database fails its integrity check: %v", problems)
	}
	return nil
}

// Inventory is what a store holds, counted, for a backup's and a restore's report.
type Inventory struct {
	// Schema is the migration version the store is at; Known the latest this binary knows.
	Schema, Known                     int
	Users, Groups, Accounts, Grants   int64
	SigningKeys, AuditEvents, Factors int64
	// KEKIDs are the IDs of the key-encryption keys that sealed the store's signing keys.
	KEKIDs []string
}

// Inventory counts what the store holds.
func (s *Store) Inventory(ctx context.Context) (Inventory, error) {
	var inv Inventory
	ms, err := migrations.For(s.d.Name)
	if err != nil {
		return inv, err
	}
	inv.Known = len(ms)
	if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&inv.Schema); err != nil {
		return inv, fmt.Errorf("schema version: %w", err)
	}
	for _, c := range []struct {
		table string
		n     *int64
	}{
		{"users", &inv.Users}, {"groups", &inv.Groups}, {"accounts", &inv.Accounts}, {"grants", &inv.Grants},
		{"signing_keys", &inv.SigningKeys}, {"audit_events", &inv.AuditEvents}, {"mfa_factors", &inv.Factors},
	} {
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+c.table).Scan(c.n); err != nil {
			return inv, fmt.Errorf("count %s: %w", c.table, err)
		}
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT kek_id FROM signing_keys ORDER BY kek_id`)
	if err != nil {
		return inv, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return inv, err
		}
		inv.KEKIDs = append(inv.KEKIDs, id)
	}
	return inv, rows.Err()
}
