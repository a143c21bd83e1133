// Package sqlite is the embedded store: one SQLite file in WAL mode, safe for a server and admin
// commands working on it at once. modernc.org/sqlite is pure Go, so the binary needs no cgo.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unicode"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"rolegate/store"
	"rolegate/store/sqlstore"
)

// Dialect is SQLite's SQL. Every transaction is BEGIN IMMEDIATE, so it holds the write lock
// from its start and needs no row locks. Audit rows are group-committed: one writer at a time
// means concurrent appends would otherwise queue for a commit each.
var Dialect = sqlstore.Dialect{Name: "sqlite", GroupAudit: true}

// FileName is the database file's name inside the data dir.
const FileName = "rolegate.db"

// Open opens (creating when missing) the database file at path and returns the store. The file is
// created with mode 0600: it holds password hashes and sealed keys. A file that group or others may
// write is refused.
func Open(path string) (*sqlstore.Store, error) { return open(path, busyTimeout) }

// busyTimeout is how long, in ms, a write waits for another process's write lock (an admin
// command beside a running server) before failing as busy.
const busyTimeout = 10000

// open is Open with the busy timeout given, so tests can see a lock wait as an error.
func open(path string, busyMS int) (*sqlstore.Store, error) {
	a, err := connect(path, busyMS)
	if err != nil {
		return nil, err
	}
	return sqlstore.New(a, Dialect), nil
}

// connect opens the file at path as an adapter.
func connect(path string, busyMS int) (*adapter, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, syscall.EROFS) {
		return nil, store.UnavailableError(fmt.Sprintf("cannot write the database %s: its file system is read-only", path), nil)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := store.CheckNotWritableByOthers("database file", path, fi.Mode()); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// The WAL is checkpointed by checkpoint, mostly outside this process's write lock, not by the
	// write that fills it while every other write of this process waits for it.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	// The path goes in escaped: a "?", "#" or "%" in it is part of the file's name, not of the URI.
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db.SetMaxOpenConns(8)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &adapter{db: db, wlock: make(chan struct{}, 1)}, nil
}

// translate maps driver errors to sqlstore's.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.ErrNoRows
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", sqlstore.ErrUnique, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %v", sqlstore.ErrForeignKey, err)
		}
		// The primary code: the low byte of an extended one.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return store.UnavailableError("the database's disk is full; tell your administrator", err)
		case sqlite3.SQLITE_READONLY:
			return store.UnavailableError("the database is read-only; tell your administrator", err)
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return store.UnavailableError("the database cannot be read or written; tell your administrator", err)
		case sqlite3.SQLITE_BUSY:
			return store.UnavailableError("the database is busy; try again in a moment", err)
		}
	}
	return err
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type conn struct{ q querier }

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return sqlRow{c.q.QueryRowContext(ctx, query, args...)}
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close()              { r.Rows.Close() }
func (r sqlRows) Err() error          { return translate(r.Rows.Err()) }
func (r sqlRows) Scan(d ...any) error { return translate(r.Rows.Scan(d...)) }

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(d ...any) error { return translate(r.r.Scan(d...)) }

// adapter runs statements as prepared statements kept per SQL text: SQLite parses and plans each
// text once per connection, not at every call (it was half the store's time of a sign-in).
// The statements are the package's own texts, a bounded set; past maxStmts distinct texts a
// statement runs unprepared.
//
// It also runs this process's writes one at a time (wlock): SQLite lets one writer in, and a
// second one waits in its busy handler, which sleeps 1, 2, 5, 10 ms... between tries; queued in
// Go, it starts the moment the first ends. The busy handler is left for other processes (an
// admin command beside a running server).
type adapter struct {
	db     *sql.DB
	wlock  chan struct{} // holds a token while this process writes
	writes int           // writes since the last checkpoint; guarded by wlock
	ckpt   sync.Mutex    // held by the checkpoint under way
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
}

// maxStmts bounds the prepared statements kept: far above the store's distinct texts.
const maxStmts = 1024

// lockWrites takes this process's write lock, or gives up when ctx ends first.
func (a *adapter) lockWrites(ctx context.Context) error {
	select {
	case a.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlockWrites lets this process's write lock go, and starts a checkpoint every checkpointEvery
// writes.
func (a *adapter) unlockWrites() {
	a.writes++
	due := a.writes >= checkpointEvery
	if due {
		a.writes = 0
	}
	<-a.wlock
	if due {
		go a.checkpoint()
	}
}

// checkpointEvery is how many writes go by between checkpoints: SQLite's own automatic
// checkpoint comes at 1000 WAL pages, and a write here is 1 to 4 pages.
const checkpointEvery = 250

// checkpoint copies the WAL's pages into the database file, as far as readers allow (PASSIVE:
// it waits for no one), first beside this process's writes, then, for the few pages they wrote
// meanwhile, with them held: a WAL wholly copied is started over by the next write, and one
// never wholly copied (writes that never pause outrun a checkpoint beside them) grows for as
// long as they last. One at a time; a checkpoint due while another runs is left to that one.
func (a *adapter) checkpoint() {
	if !a.ckpt.TryLock() {
		return
	}
	defer a.ckpt.Unlock()
	a.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	a.wlock <- struct{}{}
	defer func() { <-a.wlock }()
	a.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
}

// writes reports whether q may write, so needs the write lock: all but SELECT, PRAGMA and
// VACUUM INTO (which reads the database into another file).
func writes(q string) bool {
	verb, rest := word(q)
	switch strings.ToUpper(verb) {
	case "SELECT", "PRAGMA":
		return false
	case "VACUUM":
		into, _ := word(rest)
		return !strings.EqualFold(into, "INTO")
	}
	return true
}

// word splits off s's first word.
func word(s string) (string, string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// stmt is q's kept prepared statement, prepared now if it is not kept yet; nil when it cannot be
// prepared (running it unprepared then answers with the error) or there is no room.
func (a *adapter) stmt(ctx context.Context, q string) *sql.Stmt {
	a.mu.Lock()
	st, ok := a.stmts[q]
	a.mu.Unlock()
	if ok {
		return st
	}
	st, err := a.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.stmts[q]; ok { // prepared at the same time by another call
		st.Close()
		return prev
	}
	if a.stmts == nil {
		a.stmts = map[string]*sql.Stmt{}
	}
	if len(a.stmts) >= maxStmts {
		st.Close()
		return nil
	}
	a.stmts[q] = st
	return st
}

// on is the querier for q outside a transaction: its prepared statement, or the database.
func (a *adapter) on(ctx context.Context, q string) querier {
	if st := a.stmt(ctx, q); st != nil {
		return stmtQuerier{st}
	}
	return a.db
}

// stmtQuerier runs its prepared statement, whatever the query text (it is the statement's).
type stmtQuerier struct{ st *sql.Stmt }

func (s stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return s.st.ExecContext(ctx, args...)
}

func (s stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

func (s stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return s.st.QueryRowContext(ctx, args...)
}

// txQuerier runs a transaction's statements through the kept prepared statements too
// (Tx.StmtContext reuses the statement already prepared on the transaction's connection).
type txQuerier struct {
	a  *adapter
	tx *sql.Tx
}

func (t txQuerier) on(ctx context.Context, q string) querier {
	if st := t.a.stmt(ctx, q); st != nil {
		return stmtQuerier{t.tx.StmtContext(ctx, st)}
	}
	return t.tx
}

func (t txQuerier) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.on(ctx, q).ExecContext(ctx, q, args...)
}

func (t txQuerier) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.on(ctx, q).QueryContext(ctx, q, args...)
}

func (t txQuerier) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.on(ctx, q).QueryRowContext(ctx, q, args...)
}

func (a *adapter) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if writes(q) {
		if err := a.lockWrites(ctx); err != nil {
			return 0, err
		}
		defer a.unlockWrites()
	}
	return conn{a.on(ctx, q)}.Exec(ctx, q, args...)
}

// Query and QueryRow of a statement that writes (INSERT ... RETURNING) hold the write lock until
// its rows are closed or scanned: the statement's transaction ends then.
func (a *adapter) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	if !writes(q) {
		return conn{a.on(ctx, q)}.Query(ctx, q, args...)
	}
	if err := a.lockWrites(ctx); err != nil {
		return nil, err
	}
	rows, err := conn{a.on(ctx, q)}.Query(ctx, q, args...)
	if err != nil {
		a.unlockWrites()
		return nil, err
	}
	return &unlockingRows{Rows: rows, unlock: sync.OnceFunc(a.unlockWrites)}, nil
}

func (a *adapter) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if !writes(q) {
		return conn{a.on(ctx, q)}.QueryRow(ctx, q, args...)
	}
	if err := a.lockWrites(ctx); err != nil {
		return errRow{err}
	}
	return unlockingRow{row: conn{a.on(ctx, q)}.QueryRow(ctx, q, args...), unlock: sync.OnceFunc(a.unlockWrites)}
}

type unlockingRows struct {
	sqlstore.Rows
	unlock func()
}

func (r *unlockingRows) Close() {
	r.Rows.Close()
	r.unlock()
}

func (r *unlockingRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.unlock() // the rows are done; database/sql has closed them
	return false
}

type unlockingRow struct {
	row    sqlstore.Row
	unlock func()
}

func (r unlockingRow) Scan(d ...any) error {
	defer r.unlock()
	return r.row.Scan(d...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (a *adapter) InTx(ctx context.Context, fn func(sqlstore.Querier) error) error {
	if err := a.lockWrites(ctx); err != nil {
		return err
	}
	defer a.unlockWrites()
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	if err := fn(conn{txQuerier{a, tx}}); err != nil {
		tx.Rollback()
		return err
	}
	return translate(tx.Commit())
}

func (a *adapter) Ping(ctx context.Context) error { return translate(a.db.PingContext(ctx)) }

func (a *adapter) Close() error {
	a.ckpt.Lock() // no checkpoint on a closed pool
	defer a.ckpt.Unlock()
	a.dropStmts()
	return a.db.Close()
}

// dropStmts closes the prepared statements kept.
func (a *adapter) dropStmts() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for q, st := range a.stmts {
		st.Close()
		delete(a.stmts, q)
	}
}
