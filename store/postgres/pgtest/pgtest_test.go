package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestURLGivesSeparateDatabases(t *testing.T) {
	ctx := context.Background()
	u1, u2 := URL(t), URL(t)
	if u1 == u2 {
		t.Fatalf("two calls gave the same URL %q", u1)
	}
	connect := func(u string) *pgx.Conn {
		t.Helper()
		c, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { c.Close(ctx) }) // left open on purpose until after the drop: WITH (FORCE) copes
		var one int
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
		return c
	}
	c1, c2 := connect(u1), connect(u2)

	var db1, db2 string
	c1.QueryRow(ctx, "SELECT current_database()").Scan(&db1)
	c2.QueryRow(ctx, "SELECT current_database()").Scan(&db2)
	if db1 == db2 || !strings.HasPrefix(db1, "rg_test_") || !strings.HasPrefix(db2, "rg_test_") {
		t.Fatalf("databases %q and %q: want two different rg_test_* databases", db1, db2)
	}

	if _, err := c1.Exec(ctx, "CREATE TABLE only_here (id int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c1.QueryRow(ctx, "SELECT count(*) FROM only_here").Scan(&n); err != nil {
		t.Fatalf("table missing where it was created: %v", err)
	}
	if err := c2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_here'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("table created in %s is visible in %s (count %d, err %v)", db1, db2, n, err)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		u := URL(t)
		name = u[strings.LastIndex(u, "/")+1 : strings.Index(u, "?")]
	})
	if name == "" {
		t.Skip("inner test got no database")
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, srv.adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %s still there after its test (count %d, err %v)", name, n, err)
	}
}

func TestWithDatabase(t *testing.T) {
	got, err := withDatabase("postgres://u:p%40ss@h:5432/postgres?sslmode=disable", "rg_test_ab")
	if want := "postgres://u:p%40ss@h:5432/rg_test_ab?sslmode=disable"; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	if _, err := withDatabase("host=h user=u", "x"); err == nil {
		t.Fatal("keyword/value string accepted as URL")
	}
}

func TestFindBinariesNone(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := pgLibGlob
	pgLibGlob = filepath.Join(t.TempDir(), "*", "bin")
	defer func() { pgLibGlob = old }()
	if dir, err := findBinaries(); err == nil {
		t.Fatalf("found binaries in %s with an empty PATH and glob", dir)
	}
}

func TestFindBinariesHighestVersion(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	root := t.TempDir()
	for _, v := range []string{"9.6", "16", "15", "notaversion"} {
		bin := filepath.Join(root, v, "bin")
		os.MkdirAll(bin, 0o755)
		for _, f := range []string{"initdb", "postgres"} {
			os.WriteFile(filepath.Join(bin, f), []byte("#!/bin/sh\n"), 0o755)
		}
	}
	old := pgLibGlob
	pgLibGlob = filepath.Join(root, "*", "bin")
	defer func() { pgLibGlob = old }()
	dir, err := findBinaries()
	if want := filepath.Join(root, "16", "bin"); err != nil || dir != want {
		t.Fatalf("findBinaries = %q, %v; want %q", dir, err, want)
	}
}
