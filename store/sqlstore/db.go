// Package sqlstore implements store.Store once, in SQL that PostgreSQL and SQLite both run.
// store/postgres and store/sqlite adapt their drivers to DB and translate driver errors.
package sqlstore

import (
	"context"
	"errors"
	"time"
)

// Errors a backend's adapter returns in place of its driver's, so this package can map them to codes.
var (
	ErrNoRows     = errors.New("sqlstore: no rows")
	ErrUnique     = errors.New("sqlstore: unique constraint violated")
	ErrForeignKey = errors.New("sqlstore: foreign key constraint violated")
)

// Querier runs statements; both a pool and a transaction are Queriers.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Rows is the result of Query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the result of QueryRow; Scan returns ErrNoRows when there was none. Scan it always: a
// statement that writes holds SQLite's write lock until then.
type Row interface {
	Scan(dest ...any) error
}

// DB is a backend's connection pool.
type DB interface {
	Querier
	// InTx runs fn in a transaction that takes the write lock at its start (BEGIN IMMEDIATE on
	// SQLite), commits when fn returns nil and rolls back otherwise.
	InTx(ctx context.Context, fn func(q Querier) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Dialect holds what differs between the backends' SQL.
type Dialect struct {
	Name string // "postgres" or "sqlite": the migrations folder
	// ForUpdate locks selected rows until the transaction ends ("" where the transaction already
	// holds the database's write lock).
	ForUpdate string
	// MigrationLock is run first in the migration transaction so concurrent replicas migrate one at a time.
	MigrationLock string
	// KeyLock, run with a string, serialises transactions that take it with the same string until
	// they end ("" where the transaction already holds the database's write lock).
	KeyLock string
	// GroupAudit writes the audit rows of concurrent AppendAudit calls in one transaction (where
	// writers take turns, so each row's own commit would queue behind the others').
	GroupAudit bool
}

// Times are stored as Unix microseconds; 0 is the zero time.
func toDB(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromDB(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func secs(d time.Duration) int64 { return int64(d / time.Second) }

func dur(s int64) time.Duration { return time.Duration(s) * time.Second }
