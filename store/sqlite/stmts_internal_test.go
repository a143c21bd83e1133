package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

func TestPreparedStatementsAreBoundedAndFollowTheSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	a := &adapter{db: db, wlock: make(chan struct{}, 1)}
	t.Cleanup(func() { a.Close() })
	one := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := a.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for i := range maxStmts + 10 {
		if got := one(fmt.Sprintf("SELECT %d + ?", i), 1); got != i+1 {
			t.Fatalf("SELECT %d + 1 = %d", i, got)
		}
	}
	if len(a.stmts) != maxStmts {
		t.Errorf("%d statements kept, want the bound %d", len(a.stmts), maxStmts)
	}
	if got := one("SELECT 5 + ?", 2); got != 7 {
		t.Errorf("a kept statement with other arguments: %d", got)
	}
	if _, err := a.Exec(ctx, "SELEC nonsense"); err == nil {
		t.Error("a statement that does not parse ran")
	}

	// A statement kept before the schema changes answers after it, from the new schema, even
	// when another connection changed it.
	if _, err := a.Exec(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	a.dropStmts() // room again
	const count = "SELECT count(*) FROM t"
	if one(count) != 0 {
		t.Fatal("an empty table counts rows")
	}
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec("DROP TABLE t; CREATE TABLE t (y TEXT, x INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2)"); err != nil {
		t.Fatal(err)
	}
	if got := one(count); got != 2 {
		t.Errorf("after the table was made again elsewhere: %d rows, want 2", got)
	}
}
