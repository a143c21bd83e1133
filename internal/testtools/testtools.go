// Package testtools decides, in one place, what a test does when a tool it needs (PostgreSQL,
// xmlsec1, xmllint and the OASIS schemas, Chromium, saml2aws) is missing: under CI=true the test
// fails; elsewhere it is skipped with a one-line message that starts with Marker, so that
// testreport (make test) can count the skipped tests and print one line per missing tool even
// without -v, where plain go test hides every skip message of a passing package.
package testtools

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
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
	t.Skipf("%s [%s]: %s", Marker, group, why)
}
