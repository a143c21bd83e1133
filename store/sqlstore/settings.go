package sqlstore

import (
	"context"
	"fmt"

	"rolegate/store"
)

// ---- settings

func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, wrap(err, fmt.Sprintf("setting %q", name))
}

func (s *Store) InitSetting(ctx context.Context, name, value string) (string, error) {
	if err := store.ValidateSetting(name, value); err != nil {
		return "", err
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, value, toDB(s.now())); err != nil {
		return "", err
	}
	return s.Setting(ctx, name)
}

func (s *Store) SetSetting(ctx context.Context, name, value string) error {
	if err := store.ValidateSetting(name, value); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, toDB(s.now()))
	return err
}

// HasSchema reports whether the database holds Rolegate's schema: false for a database that no
// serve or migrate has set up yet.
func (s *Store) HasSchema(ctx context.Context) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if s.d.Name == "postgres" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
	}
	var n int
	err := s.db.QueryRow(ctx, q).Scan(&n)
	return n > 0, err
}
