// Package testtools decides, in one place, what a test does when a tool it needs (PostgreSQL,
// xmlsec1, xmllint and the OASIS schemas, Chromium, saml2aws) is missing: under CI=true the test
// fails; elsewhere it is skipped with a one-line message that starts with Marker, so that
// testreport (make test) can count the skipped tests and print one line per missing tool even
// without -v, where plain go test hides every skip message of a passing package. Plain go test in
// a terminal gets that line too: it is written to the terminal itself, once per go test run.
package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// Marker starts every skip message for a missing tool; testreport looks for it.
const Marker = "SKIPPED for a missing tool"

// InCI reports whether CI is set to a true value (CI=true, CI=1), where nothing may be skipped.
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// RequireTool returns the path of a command, or stops the test through Missing.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	Missing(t, name, fmt.Sprintf("%s not found (apt-get install %s)", name, debianPackage))
	return ""
}

// RequireFile stops the test through Missing when path does not exist; the group is the package.
func RequireFile(t testing.TB, path, debianPackage string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, debianPackage, fmt.Sprintf("%s not found (apt-get install %s)", path, debianPackage))
	}
}

// Missing fails t under CI=true and skips it elsewhere. group names the tool (one report line
// per group); why says what is missing and how to get it, on one line.
func Missing(t testing.TB, group, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s: CI=true, so a missing tool is a failure", why)
	}
	tell(group, why)
	t.Skipf("%s [%s]: %s", Marker, group, why)
}

// tty is where tell writes: the terminal go test was started from, which a passing package's
// captured output never reaches.
var tty = "/dev/tty"

// QuietEnv, set by testreport, stops tell: the report prints its own lines.
const QuietEnv = "ROLEGATE_TESTREPORT"

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// tell writes one line for group to the terminal, once per go test run: every package's test
// binary is a child of the one go command, so a marker file named after that process (and the
// group) lets the first binary that meets the missing tool speak and the others keep quiet. No
// terminal (CI, an editor) means no line; CI fails instead.
func tell(group, why string) {
	if os.Getenv(QuietEnv) != "" {
		return
	}
	f, err := os.OpenFile(tty, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	mark := filepath.Join(os.TempDir(), fmt.Sprintf("rolegate-skipped-%d-%s", os.Getppid(), unsafeName.ReplaceAllString(group, "_")))
	if fi, err := os.Stat(mark); err == nil && time.Since(fi.ModTime()) > time.Hour {
		os.Remove(mark) // a marker of an earlier run whose go command had this process ID
	}
	m, err := os.OpenFile(mark, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // another package of this run has said it
	}
	m.Close()
	fmt.Fprintf(f, "SKIPPED tests that need %s: %s (with CI=true they fail; make test counts them)\n", group, why)
}
