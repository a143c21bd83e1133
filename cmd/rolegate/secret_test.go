//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal: what the program writes to tty, the test reads from ptmx.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestANewPasswordIsShownOnATerminalAndNeverWrittenToAFile(t *testing.T) {
	ptmx, tty := openPTY(t)
	dir := t.TempDir()
	a := &app{stdout: tty, dataDir: dir}
	a.showSecret(`Created user "admin" with a one-time password`, adminPasswordFile, "s3cret-s3cret-s3cret", "admin")
	buf := make([]byte, 4096)
	n, err := ptmx.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "one-time password: s3cret-s3cret-s3cret") {
		t.Fatalf("the terminal shows %q (%v); want the password", buf[:n], err)
	}
	if _, err := os.Stat(filepath.Join(dir, adminPasswordFile)); !os.IsNotExist(err) {
		t.Errorf("a password shown on a terminal was also written to a file (stat: %v)", err)
	}
}

func TestAPasswordFileIsNeverWrittenThroughALinkAnAttackerPlanted(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "attacker-readable")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, demoPasswordFile)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	(&app{stdout: &out, dataDir: dir}).showSecret(`Created demo user "demo"`, demoPasswordFile, "s3cret-s3cret-s3cret", "demo")
	if raw, _ := os.ReadFile(target); len(raw) != 0 {
		t.Fatalf("the password went through the planted link into %s", target)
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || strings.Contains(out.String(), "s3cret") {
		t.Fatalf("the password file: %v %v; stdout %q", fi, err, out.String())
	}
}

func TestWhenThePasswordCannotBeWrittenServeSaysHowToSetOne(t *testing.T) {
	var out bytes.Buffer
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	(&app{stdout: &out, dataDir: missing}).showSecret(`Created user "admin" with a one-time password`, adminPasswordFile, "s3cret-s3cret-s3cret", "admin")
	if s := out.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "rolegate user passwd admin") ||
		!strings.Contains(s, filepath.Join(missing, adminPasswordFile)) {
		t.Fatalf("stdout %q; want the failed path and the command that sets a password, never the password", s)
	}
}

// Under systemd or in a container the working directory is anyone's guess: the printed path of the
// password file is absolute even when the data dir was given as a relative one.
func TestThePasswordFilesPathIsPrintedInFull(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("data", 0o700); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	(&app{stdout: &out, dataDir: "data"}).showSecret(`Created user "admin" with a one-time password`, adminPasswordFile, "s3cret-s3cret-s3cret", "admin")
	if want := filepath.Join(dir, "data", adminPasswordFile); !strings.Contains(out.String(), " "+want+" ") {
		t.Fatalf("stdout %q; want the full path %s", out.String(), want)
	}
}
