package faulttest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // PRAGMA integrity_check on the embedded store's file

	"rolegate/internal/testtools"
)

// mount runs mount(8) with args, and umount on target when t ends; where mounting is not
// permitted (no root, no CAP_SYS_ADMIN) it stops t through testtools.Missing.
func mount(t testing.TB, target string, args ...string) {
	t.Helper()
	out, err := exec.Command("mount", append(args, target)...).CombinedOutput()
	if err != nil {
		testtools.Missing(t, "mount", fmt.Sprintf("mount %s: %v: %s: the disk fault tests need root or CAP_SYS_ADMIN",
			strings.Join(args, " "), err, strings.TrimSpace(string(out))))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", target).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", target, err, out)
		}
	})
}

// tmpfs mounts a tmpfs of size at a new folder and returns it.
func tmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	mount(t, dir, "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs")
	return dir
}

// fill writes a file in dir until its file system is full, and returns the file's path.
func fill(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); errors.Is(err, syscall.ENOSPC) {
			break
		} else if err != nil {
			t.Fatalf("filling %s: %v", dir, err)
		}
	}
	// The last blocks: what a 64 KiB write could not take.
	for _, err := f.Write(chunk[:512]); err == nil; _, err = f.Write(chunk[:512]) {
	}
	return path
}

// integrity runs SQLite's PRAGMA integrity_check on the database file at path.
func integrity(t testing.TB, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&got); err != nil || got != "ok" {
		t.Errorf("integrity_check of %s: %q %v", path, got, err)
	}
}

// TestDiskFullEmbeddedStore fills the disk of the embedded store's data dir under load: sign-ins
// that must write (the session, the audit row) get a 503 page that says the disk is full, never a
// 500 and never a Response without its audit row; once space is freed, the same process serves
// again; the database passes integrity_check.
func TestDiskFullEmbeddedStore(t *testing.T) {
	mnt := tmpfs(t, "16m")
	dir := filepath.Join(mnt, "data")
	e := env("ROLEGATE_DATA_DIR=" + dir)
	setUp(t, e)
	s := serve(t, "rolegate", e, "--rate-burst", "100000", "--rate-per-second", "10000") // at info: the start log names the listen address
	l := newLoad(s.url(), signIn(t, s.url()))
	ctx, stop := context.WithCancel(context.Background())
	wait := l.run(ctx, 4)
	defer func() { stop(); wait() }()

	l.phase.Store("room")
	testtools.WaitFor(t, "20 Responses", 30*time.Second, func() bool { return l.count("room") >= 20 })
	l.phase.Store("full")
	filler := fill(t, mnt)
	testtools.WaitFor(t, "10 answers of 503 with the disk full", 30*time.Second, l.only(t, "full", 503, 10))
	l.phase.Store("freed")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, "20 Responses once space was freed, without a restart", 30*time.Second, func() bool { return l.count("freed") >= 20 })
	stop()
	wait()

	full := 0
	for _, f := range l.failures {
		if f.Phase == "room" {
			t.Errorf("before the disk was full: %d %s", f.Status, testtools.Tail(f.Body, 600))
			continue
		}
		full++
		checkUnavailablePage(t, f, "disk is full")
	}
	ids, rows := audited(t, e)
	checkAudited(t, l, ids)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := s.exited(30 * time.Second); st == nil || st.ExitCode() != 0 {
		t.Fatalf("rolegate after SIGTERM: %v", st)
	}
	integrity(t, filepath.Join(dir, "rolegate.db"))
	t.Logf("requests %d, Responses %d (before %d, disk full %d, freed %d), audit rows of issued assertions %d, 503s %d",
		l.requests, len(l.responses), l.count("room"), l.count("full"), l.count("freed"), rows, full)
}

// TestReadOnlyDataDir: on a data dir whose file system is read-only, serve and an admin command
// each refuse with one line that names the database and the reason, and exit status 7
// (unavailable); the database is as it was and passes integrity_check.
func TestReadOnlyDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	setUp(t, env("ROLEGATE_DATA_DIR="+dir))
	ro := t.TempDir()
	mount(t, ro, "--bind", dir)
	if out, err := exec.Command("mount", "-o", "remount,ro,bind", ro).CombinedOutput(); err != nil {
		testtools.Missing(t, "mount", fmt.Sprintf("remount read-only: %v: %s", err, out))
	}
	e := env("ROLEGATE_DATA_DIR=" + ro)
	want := fmt.Sprintf("rolegate: cannot write the database %s: its file system is read-only\n", filepath.Join(ro, "rolegate.db"))
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0"},
		{"user", "add", "bob", "--password-stdin"},
	} {
		stdout, stderr, err := runCLI(t, e, "another password\n", args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 7 || stderr != want || strings.Contains(stdout, "running at") {
			t.Errorf("rolegate %s on a read-only data dir: %v\nstdout: %s\nstderr: %q\nwant stderr %q and exit status 7",
				strings.Join(args, " "), err, stdout, stderr, want)
		}
	}
	if out := cli(t, env("ROLEGATE_DATA_DIR="+dir), "", "user", "list", "--json"); !strings.Contains(out, `"alice"`) || strings.Contains(out, "bob") {
		t.Errorf("users after the refusals: %s, want alice alone", out)
	}
	integrity(t, filepath.Join(dir, "rolegate.db"))
}
