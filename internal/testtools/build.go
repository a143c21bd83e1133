package testtools

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// built is the rolegate binary of this test process, made on first use.
var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// Rolegate returns the path of a rolegate binary built from this module once per test process,
// with the toolchain that built the test. A package that uses it removes it from TestMain with
// RemoveBuilt.
func Rolegate(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "rolegate-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "rolegate")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		if out, err := exec.Command(goTool, "build", "-o", built.path, "rolegate/cmd/rolegate").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if built.err != nil {
		t.Fatalf("building rolegate: %v", built.err)
	}
	return built.path
}

// RemoveBuilt removes the binary Rolegate built, if any; call it after m.Run in TestMain.
func RemoveBuilt() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// WaitFor polls cond until it holds, failing t after d: a deadline, never a timed assertion.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tail is the last n bytes of a process's output, for a failure message.
func Tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// SyncBuffer is a bytes.Buffer that a process's output goroutines and the test may share.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// How a test finds a running `rolegate serve`: ServeStarting matches the start log line (at info)
// and gives the listen address; ServeRunning matches the one URL serve prints, its base URL.
var (
	ServeStarting = regexp.MustCompile(`"msg":"starting","addr":"([^"]+)"`)
	ServeRunning  = regexp.MustCompile(`Rolegate is running at (\S+)`)
)

// ReachAt is the URL a client on this machine reaches a server at: its base URL when that is plain
// http on the port it listens on (a request by another name would be sent there), else
// http://listen; the base URL alone when the listen address is unknown (serve logs above info).
func ReachAt(base, listen string) string {
	if listen == "" {
		return base
	}
	u, err := url.Parse(base)
	_, port, _ := net.SplitHostPort(listen)
	if err == nil && u.Scheme == "http" && u.Port() == port {
		return strings.TrimRight(base, "/")
	}
	return "http://" + listen
}
