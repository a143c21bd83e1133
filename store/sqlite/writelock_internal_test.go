package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"rolegate/store"
	"rolegate/store/sqlstore"
	"rolegate/store/storetest"
)

// openBoth opens a migrated store on a new file and returns it with its adapter and the file's path.
func openBoth(t testing.TB, busyMS int) (*sqlstore.Store, *adapter, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	a, err := connect(path, busyMS)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(a, Dialect)
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, a, path
}

// holdWriteLock takes SQLite's write lock on a connection of its own, as another process would,
// and returns the function that lets it go.
func holdWriteLock(t *testing.T, path string) func() {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			if _, err := c.ExecContext(context.Background(), "COMMIT"); err != nil {
				t.Error(err)
			}
			c.Close()
			other.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// eachWrite runs one of each kind of write the store makes: a group-committed append, a statement
// with RETURNING, a plain statement and a transaction.
func eachWrite(s *sqlstore.Store, n int) []error {
	ctx := context.Background()
	now := time.Now()
	return []error{
		s.AppendAudit(ctx, &store.AuditEvent{Type: "assertion", User: fmt.Sprint("u", n), Result: "ok"}),
		s.CreateGroup(ctx, &store.Group{Name: fmt.Sprint("g", n)}),
		func() error { _, err := s.HitThrottle(ctx, fmt.Sprint("k", n%5), time.Minute, now); return err }(),
		func() error { _, err := s.DeleteExpiredSessions(ctx, now); return err }(),
		s.CreateUser(ctx, &store.User{Name: fmt.Sprint("user", n)}),
	}
}

// With no busy timeout, SQLite fails a write that finds the write lock taken: none of this
// process's writes may meet another of its own there.
func TestThisProcessWritesOneAtATimeAndNeverWaitsInSQLite(t *testing.T) {
	s, _, _ := openBoth(t, 0)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*5)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for _, err := range eachWrite(s, w*each+i) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	busy := 0
	for err := range errs {
		var se *store.Error
		if errors.As(err, &se) && se.Code == store.Unavailable {
			busy++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if busy > 0 {
		t.Fatalf("%d of %d writes found SQLite's write lock taken by this process", busy, workers*each*5)
	}
}

// Another process's write lock is waited for through SQLite's busy handler, as before: the writes
// wait, then go through when it is let go.
func TestWritesWaitForAnotherProcessesWriteLock(t *testing.T) {
	s, _, path := openBoth(t, busyTimeout)
	release := holdWriteLock(t, path)
	done := make(chan []error, 4)
	for n := range 4 {
		go func() { done <- eachWrite(s, n) }()
	}
	select {
	case errs := <-done:
		t.Fatalf("writes went through while another process held the write lock: %v", errs)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	for range 4 {
		for _, err := range <-done {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	all, err := s.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil || len(all) != 4 {
		t.Fatalf("%d events, %v; want 4", len(all), err)
	}
}

// A write that outwaits the busy timeout fails as busy, writing nothing, and lets go of this
// process's write lock: the next write goes through.
func TestAWriteThatOutwaitsTheBusyTimeoutFailsAndLetsTheNextThrough(t *testing.T) {
	s, _, path := openBoth(t, 200)
	release := holdWriteLock(t, path)
	for i, err := range eachWrite(s, 1) {
		var se *store.Error
		if !errors.As(err, &se) || se.Code != store.Unavailable {
			t.Errorf("write %d beside another process's lock: %v, want busy", i, err)
		}
	}
	release()
	for i, err := range eachWrite(s, 1) {
		if err != nil {
			t.Errorf("write %d after the lock was let go: %v", i, err)
		}
	}
	if all, _ := s.ListAudit(context.Background(), store.AuditFilter{}); len(all) != 1 {
		t.Fatalf("%d events, want the one written after the lock was let go", len(all))
	}
}

// Rows that wait while a commit runs are written together by the next one; a refused row fails
// alone, and a row whose caller gives up while it waits is not written.
func TestAppendsWaitingForACommitShareTheNextOne(t *testing.T) {
	s, a, _ := openBoth(t, busyTimeout)
	if _, err := a.db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.type = 'refused'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.wlock <- struct{}{} // a write under way: the first append waits for it, the others for that one
	type result struct {
		name string
		e    *store.AuditEvent
		err  error
	}
	results := make(chan result, 5)
	appendAs := func(c context.Context, name, typ string) {
		e := &store.AuditEvent{Type: typ, User: name, Result: "ok"}
		results <- result{name, e, s.AppendAudit(c, e)}
	}
	go appendAs(ctx, "first", "assertion")
	time.Sleep(50 * time.Millisecond)
	gone, giveUp := context.WithCancel(ctx)
	for _, r := range []struct{ name, typ string }{{"b", "assertion"}, {"c", storetest.RefusedAuditType}, {"d", "assertion"}} {
		go appendAs(ctx, r.name, r.typ)
	}
	go appendAs(gone, "gone", "assertion")
	time.Sleep(100 * time.Millisecond)
	giveUp()
	if r := <-results; r.name != "gone" || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("the first to return is %s with %v; want gone, cancelled", r.name, r.err)
	}
	<-a.wlock
	got := map[string]result{}
	for range 4 {
		r := <-results
		got[r.name] = r
	}
	for _, n := range []string{"first", "b", "d"} {
		if got[n].err != nil || got[n].e.ID == 0 {
			t.Errorf("%s: ID %d, %v", n, got[n].e.ID, got[n].err)
		}
	}
	if got["c"].err == nil || got["c"].e.ID != 0 {
		t.Errorf("the refused row: ID %d, %v", got["c"].e.ID, got["c"].err)
	}
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, e := range all {
		users = append(users, e.User)
		if e.ID != got[e.User].e.ID {
			t.Errorf("%s is stored as %d, its append said %d", e.User, e.ID, got[e.User].e.ID)
		}
	}
	sort.Strings(users)
	if fmt.Sprint(users) != "[b d first]" {
		t.Fatalf("stored %v, want b, d and first once each", users)
	}
}

// SQLite's own checkpoint is off (it would run inside the write that fills the WAL, holding up
// every other write of this process); the adapter's own, beside the writes, copies their pages
// into the database file.
func TestWritesAreCheckpointedIntoTheDatabaseFile(t *testing.T) {
	s, a, path := openBoth(t, busyTimeout)
	size := func() int64 {
		a.ckpt.Lock() // the checkpoint under way is done
		defer a.ckpt.Unlock()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	const n = 3000 // about 150 bytes each in the table and its indexes
	for i := range n {
		if err := s.AppendAudit(context.Background(), &store.AuditEvent{Type: "assertion", User: fmt.Sprint("u", i), Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if grew := size() - before; grew < n*100 {
		t.Fatalf("the database file grew by %d bytes over %d appends: their pages are still only in the WAL", grew, n)
	}
}

func TestWhichStatementsTakeTheWriteLock(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                      false,
		"\n\t\tselect * FROM t":         false,
		"PRAGMA integrity_check":        false,
		"VACUUM INTO $1":                false,
		"VACUUM":                        true,
		"INSERT INTO t VALUES (1)":      true,
		"  UPDATE t SET x = 1":          true,
		"DELETE FROM t":                 true,
		"WITH x AS (SELECT 1) DELETE t": true,
		"CREATE TABLE t (x INTEGER)":    true,
		"":                              true,
	} {
		if got := writes(q); got != want {
			t.Errorf("writes(%q) = %v, want %v", q, got, want)
		}
	}
}

// Under writes that never pause, the WAL still starts over now and then: a checkpoint that
// copies pages while writes go on beside it never catches up with them, and a WAL that is never
// wholly copied is never reused, so it would grow with every write for as long as the load
// lasts.
func TestTheWALStaysBoundedUnderWritesThatNeverPause(t *testing.T) {
	s, a, path := openBoth(t, busyTimeout)
	const writers, each = 8, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.HitThrottle(context.Background(), fmt.Sprint("k", w, "-", i), time.Minute, time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	a.ckpt.Lock() // the checkpoint under way is done
	defer a.ckpt.Unlock()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL %d bytes after %d writes", fi.Size(), writers*each)
	if limit := int64(16 << 20); fi.Size() > limit { // about 50 MiB without a reuse
		t.Fatalf("the WAL is %d bytes after %d writes, over %d: it was never started over", fi.Size(), writers*each, limit)
	}
}

// A write whose context ends while it waits for this process's write lock gives up with the
// context's error and writes nothing; a write the database refuses lets the lock go. Either way
// the lock is free afterwards, neither kept nor let go twice.
func TestAWriteThatGivesUpOrFailsLeavesTheWriteLockFree(t *testing.T) {
	_, a, _ := openBoth(t, busyTimeout)
	ctx := context.Background()
	const ins = `INSERT INTO settings (name, value, updated_at) VALUES ($1, 'v', 0)`
	kinds := []struct {
		name  string
		write func(c context.Context, name string) error
	}{
		{"a statement", func(c context.Context, n string) error { _, err := a.Exec(c, ins, n); return err }},
		{"a statement with RETURNING, scanned", func(c context.Context, n string) error {
			var got string
			return a.QueryRow(c, ins+` RETURNING name`, n).Scan(&got)
		}},
		{"a statement with RETURNING, its rows read", func(c context.Context, n string) error {
			rows, err := a.Query(c, ins+` RETURNING name`, n)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		}},
		{"a transaction", func(c context.Context, n string) error {
			return a.InTx(c, func(q sqlstore.Querier) error { _, err := q.Exec(c, ins, n); return err })
		}},
	}
	free := func(when string) {
		t.Helper()
		select {
		case a.wlock <- struct{}{}:
			<-a.wlock
		case <-time.After(time.Second):
			t.Fatalf("%s: this process's write lock is still held", when)
		}
	}

	a.wlock <- struct{}{} // another write under way
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	for _, k := range kinds {
		if err := k.write(short, "gave-up"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s waiting past its deadline returned %v, want the deadline", k.name, err)
		}
	}
	<-a.wlock
	free("after the writes that gave up")
	var n int
	if err := a.db.QueryRow(`SELECT COUNT(*) FROM settings WHERE name = 'gave-up'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("writes that gave up wrote %d rows (%v)", n, err)
	}

	if _, err := a.Exec(ctx, ins, "taken"); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if err := k.write(ctx, "taken"); !errors.Is(err, sqlstore.ErrUnique) {
			t.Errorf("%s of a name taken returned %v, want a unique violation", k.name, err)
		}
		free("after " + k.name + " failed")
	}
	for _, k := range kinds {
		if err := k.write(ctx, k.name); err != nil {
			t.Errorf("%s after the failures: %v", k.name, err)
		}
	}
}
