package faulttest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"rolegate/internal/testtools"
	"strings"
	"syscall"
	"testing"
	"time"
)

// heldLogin is a password sign-in whose handler is running: the server has asked for its body
// (100 Continue), which the test holds back until release.
type heldLogin struct {
	body string
	pw   *io.PipeWriter
	done chan loginResult
}

type loginResult struct {
	res *http.Response
	err error
}

// startLogin starts alice's sign-in at base and returns once Rolegate's handler reads its body:
// from then on the request is in flight in the server, whatever the test does to the process.
func startLogin(t testing.TB, base string) *heldLogin {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: &http.Transport{ExpectContinueTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	h := &heldLogin{body: loginForm(t, c, base).Encode(), done: make(chan loginResult, 1)}
	pr, pw := io.Pipe()
	h.pw = pw
	reading := make(chan struct{})
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{Got100Continue: func() { close(reading) }})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", pr)
	req.ContentLength = int64(len(h.body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Expect", "100-continue")
	go func() {
		res, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		h.done <- loginResult{res, err}
	}()
	select {
	case <-reading:
	case r := <-h.done:
		t.Fatalf("the sign-in was answered before its body was sent: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not ask for the sign-in's body within 30s")
	}
	return h
}

// release sends the held body.
func (h *heldLogin) release() {
	go func() {
		io.WriteString(h.pw, h.body)
		h.pw.Close()
	}()
}

// result waits for the sign-in's answer.
func (h *heldLogin) result(t testing.TB) loginResult {
	t.Helper()
	select {
	case r := <-h.done:
		return r
	case <-time.After(60 * time.Second):
		t.Fatal("no answer to a sign-in within 60s")
		return loginResult{}
	}
}

// refused reports whether a new connection to addr is refused.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return true
}

// TestSigtermDrainsInFlightSignIns sends SIGTERM while four password sign-ins are in their
// handlers (four: alice's free attempts before her sign-ins back off are five): new connections are refused at once, the process waits, and each sign-in completes
// with its session once the test lets it; then the process exits with status 0.
func TestSigtermDrainsInFlightSignIns(t *testing.T) {
	const n = 4
	e := env("ROLEGATE_DATA_DIR=" + t.TempDir())
	setUp(t, e)
	s := serve(t, "rolegate", e, "--shutdown-timeout", "30s", "--rate-burst", "1000", "--rate-per-second", "1000")
	var held []*heldLogin
	for range n {
		held = append(held, startLogin(t, s.url()))
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, "new connections refused after SIGTERM", 10*time.Second, func() bool { return refused(s.addr) })
	if st := s.exited(0); st != nil {
		t.Fatalf("rolegate exited with %d sign-ins in flight: %v", n, st)
	}
	for _, h := range held {
		h.release()
	}
	ok := 0
	for i, h := range held {
		r := h.result(t)
		if r.err != nil {
			t.Errorf("sign-in %d in flight at SIGTERM: %v", i, r.err)
			continue
		}
		if r.res.StatusCode != http.StatusSeeOther || len(r.res.Cookies()) == 0 {
			t.Errorf("sign-in %d in flight at SIGTERM: %d, cookies %v; want 303 with a session", i, r.res.StatusCode, r.res.Cookies())
			continue
		}
		ok++
	}
	st := s.exited(30 * time.Second)
	if st == nil || st.ExitCode() != 0 {
		t.Fatalf("after draining: %v; want exit status 0", st)
	}
	if out := s.out.String(); !strings.Contains(out, "finishing in-flight requests") || !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("the log does not tell the drain:\n%s", testtools.Tail(out, 2000))
	}
	t.Logf("sign-ins in flight at SIGTERM %d, completed with a session %d, exit status %d", n, ok, st.ExitCode())
}

// TestSigtermDrainIsBounded: a request that does not finish within --shutdown-timeout is cut, and
// the process exits with a non-zero status and one line that says why, soon after the bound.
func TestSigtermDrainIsBounded(t *testing.T) {
	const bound = time.Second
	e := env("ROLEGATE_DATA_DIR=" + t.TempDir())
	setUp(t, e)
	s := serve(t, "rolegate", e, "--shutdown-timeout", bound.String())
	h := startLogin(t, s.url())
	sent := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := s.exited(bound + 10*time.Second)
	took := time.Since(sent)
	if st == nil {
		t.Fatalf("rolegate still runs %v after SIGTERM with --shutdown-timeout %v", took, bound)
	}
	if st.ExitCode() == 0 || took < bound {
		t.Errorf("exit status %d after %v; want non-zero, after at least %v", st.ExitCode(), took, bound)
	}
	if out := s.out.String(); !strings.Contains(out, "requests still running after --shutdown-timeout 1s") {
		t.Errorf("no line says why:\n%s", testtools.Tail(out, 2000))
	}
	h.release()
	if r := h.result(t); r.err == nil {
		t.Errorf("the request cut at the bound was answered: %d", r.res.StatusCode)
	}
	t.Logf("exit status %d after %v with --shutdown-timeout %v", st.ExitCode(), took.Round(time.Millisecond), bound)
}
