package testtools

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeTB records how Missing stopped the test.
type fakeTB struct {
	testing.TB
	how, msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.how, f.msg = "fatal", format
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.how = "skip"
	if len(args) > 0 {
		f.msg = args[0].(string) + " " + args[1].(string)
	}
	runtime.Goexit()
}

func TestMissingFailsOnlyInCI(t *testing.T) {
	for _, tc := range []struct{ ci, want string }{{"true", "fatal"}, {"1", "fatal"}, {"", "skip"}, {"false", "skip"}} {
		t.Setenv("CI", tc.ci)
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Missing(f, "xmlsec1", "xmlsec1 not found") }()
		<-done
		if f.how != tc.want {
			t.Errorf("CI=%q: got %q, want %q", tc.ci, f.how, tc.want)
		}
	}
}

func TestRequireToolFindsACommandAndStopsOnAMissingOne(t *testing.T) {
	t.Setenv("CI", "")
	if p := RequireTool(t, "go", "golang"); !strings.HasSuffix(p, "go") {
		t.Fatalf("RequireTool(go) = %q", p)
	}
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); RequireTool(f, "rolegate-no-such-tool", "nothing") }()
	<-done
	if f.how != "skip" || f.msg != Marker+" rolegate-no-such-tool" {
		t.Fatalf("got %q %q", f.how, f.msg)
	}
}

// Plain go test hides a passing package's output, so the skip is also said on the terminal, once
// per group and go test run however many tests and packages meet it.
func TestAMissingToolIsToldOnTheTerminalOncePerRun(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(QuietEnv, "")
	term := filepath.Join(t.TempDir(), "tty")
	if err := os.WriteFile(term, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := tty
	tty = term
	t.Cleanup(func() { tty = old })
	group := "no-such-tool-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() {
		os.Remove(filepath.Join(os.TempDir(), fmt.Sprintf("rolegate-skipped-%d-%s", os.Getppid(), group)))
	})
	for range 3 {
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Missing(f, group, group+" not found") }()
		<-done
	}
	b, _ := os.ReadFile(term)
	if got := string(b); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "SKIPPED tests that need "+group+": "+group+" not found") {
		t.Errorf("the terminal got %q; want one line naming the group", got)
	}
	t.Setenv(QuietEnv, "1") // under testreport, which prints its own line
	tell(group+"-other", "x")
	if b2, _ := os.ReadFile(term); len(b2) != len(b) {
		t.Errorf("with %s set the terminal got %q", QuietEnv, b2[len(b):])
	}
}

func TestReachAtTakesTheBaseURLOnlyWhenItNamesTheListenersPort(t *testing.T) {
	for _, tc := range []struct{ base, listen, want string }{
		{"http://localhost:8080", "127.0.0.1:8080", "http://localhost:8080"},
		{"http://localhost:8080/", "127.0.0.1:8080", "http://localhost:8080"},
		{"http://localhost:8443", "127.0.0.1:40001", "http://127.0.0.1:40001"}, // a load balancer's base URL
		{"https://idp.example.com", "127.0.0.1:443", "http://127.0.0.1:443"},   // TLS is a proxy's
		{"http://localhost:8080", "", "http://localhost:8080"},                 // serve logs above info
	} {
		if got := ReachAt(tc.base, tc.listen); got != tc.want {
			t.Errorf("ReachAt(%q, %q) = %q, want %q", tc.base, tc.listen, got, tc.want)
		}
	}
}
