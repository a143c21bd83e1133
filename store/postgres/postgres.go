// Package postgres is the production store: PostgreSQL through pgx. Several replicas may share one
// database; migrations take an advisory lock.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"rolegate/store"
	"rolegate/store/sqlstore"
)

// migrationLockID is the advisory lock key under which replicas migrate one at a time ("rolegate").
const migrationLockID = 0x726f6c6567617465

// Dialect is PostgreSQL's SQL.
var Dialect = sqlstore.Dialect{
	Name:          "postgres",
	ForUpdate:     " FOR UPDATE",
	MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockID),
	KeyLock:       "SELECT pg_advisory_xact_lock(hashtext($1))",
}

// Open connects to the database at url (a postgres:// URL or a key=value DSN).
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: invalid database URL: %w", err)
	}
	// Every statement runs READ COMMITTED whatever the database's default (see InTx); set on the
	// session rather than as a startup parameter, which a pooler such as PgBouncer may refuse.
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
		if down(err) {
			return nil, store.UnavailableError("cannot reach PostgreSQL at "+where, err)
		}
		return nil, fmt.Errorf("postgres: cannot reach %s: %w", where, err)
	}
	return sqlstore.New(&adapter{pool: pool}, Dialect), nil
}

func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%w: %v", sqlstore.ErrUnique, err)
		case "23503":
			return fmt.Errorf("%w: %v", sqlstore.ErrForeignKey, err)
		}
	}
	if down(err) {
		return store.UnavailableError("the database is unavailable; try again in a moment", err)
	}
	return err
}

// down reports whether err says that the server cannot be reached, is going away or cannot take
// more now (a restart, a failover, a full disk), not that the statement was wrong. The pool
// replaces broken connections by itself, so a later request may well succeed.
func down(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 connection exception; 57P01-57P03 shutting down or starting up; 53100 disk
		// full; 53300 too many connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53100" || pe.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), translate(err)
}

func (c conn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	return pgRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return pgRow{c.q.QueryRow(ctx, sql, args...)}
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Err() error          { return translate(r.Rows.Err()) }
func (r pgRows) Scan(d ...any) error { return translate(r.Rows.Scan(d...)) }

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(d ...any) error { return translate(r.r.Scan(d...)) }

type adapter struct{ pool *pgxpool.Pool }

func (a *adapter) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return conn{a.pool}.Exec(ctx, q, args...)
}

func (a *adapter) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return conn{a.pool}.Query(ctx, q, args...)
}

func (a *adapter) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return conn{a.pool}.QueryRow(ctx, q, args...)
}

func (a *adapter) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	var fnErr error
	// READ COMMITTED whatever the database's default: the store's locks (the migration lock, FOR
	// UPDATE, advisory key locks) rely on each statement seeing what was committed before it ran,
	// and an older snapshot would hide the work of the replica that held the lock first.
	err := pgx.BeginTxFunc(ctx, a.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		fnErr = fn(conn{tx})
		return fnErr
	})
	if fnErr != nil {
		return fnErr // already translated by conn, or the caller's own error
	}
	return translate(err)
}

func (a *adapter) Ping(ctx context.Context) error { return translate(a.pool.Ping(ctx)) }
func (a *adapter) Close() error                   { a.pool.Close(); return nil }
