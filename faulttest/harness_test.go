package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"rolegate/internal/testtools"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	alice   = "alice"
	alicePW = "correct horse battery staple"
	account = "111122223333"
	role    = "Admin"
	signin  = "/aws/signin?account=prod&role=" + role
	// unavailablePage is what the page of a 503 must say, in the store's words.
	unavailableMsg = "the database is unavailable"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testtools.RemoveBuilt()
	os.Exit(code)
}

// env is the environment of every rolegate process: nothing from the test's own but PATH and HOME,
// so a ROLEGATE_ variable of the person running the tests cannot change what is tested.
func env(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// cli runs one rolegate command to its end and returns its standard output; it fails t unless the
// command succeeds.
func cli(t testing.TB, environ []string, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, environ, stdin, args...)
	if err != nil {
		t.Fatalf("rolegate %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// runCLI runs one rolegate command and returns its output and exit error.
func runCLI(t testing.TB, environ []string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testtools.Rolegate(t), args...)
	cmd.Env = environ
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// setUp adds alice, account prod and alice's grant of Admin in it, through the CLI.
func setUp(t testing.TB, environ []string) {
	t.Helper()
	cli(t, environ, alicePW+"\n", "user", "add", alice, "--password-stdin")
	cli(t, environ, "", "account", "add", account, "--alias", "prod")
	cli(t, environ, "", "grant", "add", "--user", alice, "--account", "prod", "--role", role)
}

// server is one `rolegate serve` process.
type server struct {
	name  string
	cmd   *exec.Cmd
	out   *testtools.SyncBuffer // stdout and stderr (the JSON log)
	addr  string                // host:port to reach it at (see testtools.ReachAt)
	done  chan struct{}
	state *os.ProcessState // set when done is closed
}

// serve starts `rolegate serve` with args and returns once it listens and /readyz says ready. The
// process is killed when t ends, if it still runs; its output is logged when t failed.
func serve(t testing.TB, name string, environ []string, args ...string) *server {
	t.Helper()
	s := &server{name: name, out: &testtools.SyncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(testtools.Rolegate(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = environ
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the tests
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		listen := "" // from the start log, which comes before the base URL (absent above --log-level info)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.out.Write([]byte(line + "\n"))
			if m := testtools.ServeStarting.FindStringSubmatch(line); m != nil {
				listen = m[1]
			}
			if m := testtools.ServeRunning.FindStringSubmatch(line); m != nil {
				select {
				case addr <- strings.TrimPrefix(testtools.ReachAt(m[1], listen), "http://"):
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		s.cmd.Wait()
		s.state = s.cmd.ProcessState
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, testtools.Tail(s.out.String(), 4000))
		}
	})
	select {
	case s.addr = <-addr:
	case <-s.done:
		t.Fatalf("%s exited before it listened: %v\n%s", name, s.state, s.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s:\n%s", name, s.out.String())
	}
	testtools.WaitFor(t, name+" ready", 30*time.Second, func() bool {
		res, err := http.Get("http://" + s.addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return s
}

// kill ends the process with SIGKILL, if it still runs, and waits for it.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// exited waits up to d for the process to end and returns its state, or nil.
func (s *server) exited(d time.Duration) *os.ProcessState {
	select {
	case <-s.done:
		return s.state
	case <-time.After(d):
		return nil
	}
}

func (s *server) url() string { return "http://" + s.addr }

// balancer is a small load-balancing reverse proxy: round robin over the replicas; a replica that
// refuses the connection is skipped for the next, as a load balancer's retry does. A request lost
// on a replica that dies while it is in flight becomes a 502, counted in lost.
type balancer struct {
	backends []string // host:port
	next     atomic.Uint64
	tr       *http.Transport
	lost     atomic.Int64
}

func newBalancer(t testing.TB, ln net.Listener, backends []string) *balancer {
	// One connection per request: Go's Transport would send a GET lost on a reused connection
	// again by itself, which hides what this proxy is here to show.
	b := &balancer{backends: backends, tr: &http.Transport{DisableKeepAlives: true}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "replica" // RoundTrip picks the replica
			pr.Out.Host = pr.In.Host
		},
		Transport: b,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() == nil { // not a client that went away
				b.lost.Add(1)
			}
			http.Error(w, "502 the replica was lost: "+err.Error(), http.StatusBadGateway)
		},
	}
	srv := &http.Server{Handler: rp}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); b.tr.CloseIdleConnections() })
	return b
}

func (b *balancer) RoundTrip(r *http.Request) (*http.Response, error) {
	start := b.next.Add(1)
	var err error
	for i := range uint64(len(b.backends)) {
		out := r.Clone(r.Context())
		out.URL.Host = b.backends[(start+i)%uint64(len(b.backends))]
		res, rerr := b.tr.RoundTrip(out)
		if rerr == nil {
			return res, nil
		}
		err = rerr
		if !errors.Is(rerr, syscall.ECONNREFUSED) {
			return nil, rerr // sent, and lost: not safe to send again
		}
	}
	return nil, err
}

// signIn signs alice in through the sign-in form at base and returns the Cookie header of her session.
func signIn(t testing.TB, base string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(base+"/login", loginForm(t, c, base))
	if err != nil {
		t.Fatalf("POST /login: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login: %d %s", res.StatusCode, body)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginForm fetches the sign-in form at base with c (whose jar keeps the form's cookie) and
// returns alice's answer to it.
func loginForm(t testing.TB, c *http.Client, base string) url.Values {
	t.Helper()
	res, err := c.Get(base + "/login")
	if err != nil {
		t.Fatalf("GET /login: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatalf("GET /login: %d, no csrf_token in the form", res.StatusCode)
	}
	return url.Values{"username": {alice}, "password": {alicePW}, "csrf_token": {html.UnescapeString(string(m[1]))}}
}

// failure is one answer that was not a Response: status 0 when the request itself failed.
type failure struct {
	Status      int
	ContentType string
	Body        string
	Phase       string
}

// loadClient runs workers that each ask for alice's sign-in to prod over and over, and counts
// every Response received (by its ID) and every failure with its page.
type loadClient struct {
	base, cookie string
	phase        atomic.Value // string: what the test is doing, noted on each failure

	mu        sync.Mutex
	requests  int
	responses map[string]string // Response ID to its phase
	dupes     int
	failures  []failure
	byPhase   map[string]int // Responses per phase
}

func newLoad(base, cookie string) *loadClient {
	l := &loadClient{base: base, cookie: cookie, responses: map[string]string{}, byPhase: map[string]int{}}
	l.phase.Store("start")
	return l
}

// run starts n workers until ctx ends; the returned function waits for them.
func (l *loadClient) run(ctx context.Context, n int) (wait func()) {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: n}}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				l.once(ctx, client)
			}
		}()
	}
	return wg.Wait
}

// readErr starts the Body of a failure whose answer broke off.
const readErr = "reading the answer: "

var samlField = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)

func (l *loadClient) once(ctx context.Context, client *http.Client) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.base+signin, nil)
	req.Header.Set("Cookie", l.cookie)
	res, err := client.Do(req)
	if ctx.Err() != nil {
		return // the test ended the load; this request was never answered
	}
	phase := l.phase.Load().(string)
	if err != nil {
		l.record(failure{Status: 0, Body: err.Error(), Phase: phase}, "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if ctx.Err() != nil {
		return // ended while reading: a cut page is the test's doing
	} else if err != nil {
		l.record(failure{Status: res.StatusCode, Body: readErr + err.Error(), Phase: phase}, "")
		return
	}
	f := failure{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: string(body), Phase: phase}
	if res.StatusCode != http.StatusOK {
		l.record(f, "")
		return
	}
	id, err := responseID(body)
	if err != nil {
		f.Body = err.Error() + ": " + testtools.Tail(f.Body, 500)
		l.record(f, "")
		return
	}
	l.record(f, id)
}

func (l *loadClient) record(f failure, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	if id == "" {
		l.failures = append(l.failures, f)
		return
	}
	if _, ok := l.responses[id]; ok {
		l.dupes++
	}
	l.responses[id] = f.Phase
	l.byPhase[f.Phase]++
}

// count returns the number of Responses received in phase.
func (l *loadClient) count(phase string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byPhase[phase]
}

// only returns a cond for waitFor: at least n failures with status in phase, and it fails t at
// once on a failure with another status there (a 500 where a 503 belongs), with its page.
func (l *loadClient) only(t testing.TB, phase string, status, n int) func() bool {
	return func() bool {
		t.Helper()
		l.mu.Lock()
		defer l.mu.Unlock()
		got := 0
		for _, f := range l.failures {
			if f.Phase == phase && f.Status != status {
				t.Fatalf("while %s: %d %s, want %d: %s", phase, f.Status, f.ContentType, status, testtools.Tail(f.Body, 600))
			}
			if f.Phase == phase {
				got++
			}
		}
		return got >= n
	}
}

// responseID reads the auto-POST page's SAMLResponse: a signed Response whose ID it returns.
func responseID(page []byte) (string, error) {
	m := samlField.FindSubmatch(page)
	if m == nil {
		return "", errors.New("200 without a SAMLResponse")
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(m[1])))
	if err != nil {
		return "", fmt.Errorf("SAMLResponse not base64: %v", err)
	}
	var r struct {
		ID        string `xml:"ID,attr"`
		Assertion struct {
			ID        string `xml:"ID,attr"`
			Signature struct {
				Value string `xml:"SignatureValue"`
			} `xml:"Signature"`
		} `xml:"Assertion"`
	}
	if err := xml.Unmarshal(raw, &r); err != nil {
		return "", fmt.Errorf("SAMLResponse not XML: %v", err)
	}
	if r.ID == "" || r.Assertion.ID == "" || strings.TrimSpace(r.Assertion.Signature.Value) == "" {
		return "", fmt.Errorf("SAMLResponse without an ID or a signed assertion")
	}
	return r.ID, nil
}

// audited returns the Response IDs of the issued assertions in the audit log, read with
// `rolegate audit --json`, and the number of such rows.
func audited(t testing.TB, environ []string) (map[string]bool, int) {
	t.Helper()
	var events []struct {
		Type    string            `json:"type"`
		Result  string            `json:"result"`
		Details map[string]string `json:"details"`
	}
	out := cli(t, environ, "", "audit", "--json", "--limit", "1000000")
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("rolegate audit --json: %v", err)
	}
	ids, rows := map[string]bool{}, 0
	for _, e := range events {
		if e.Type == "assertion" && e.Result == "ok" {
			ids[e.Details["response_id"]] = true
			rows++
		}
	}
	return ids, rows
}

// checkAudited fails t for each Response the client received without its audit row.
func checkAudited(t testing.TB, l *loadClient, ids map[string]bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	missing := 0
	for id, phase := range l.responses {
		if !ids[id] {
			missing++
			if missing <= 5 {
				t.Errorf("Response %s (received while %s) has no audit row", id, phase)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d Responses received have no audit row", missing, len(l.responses))
	}
	if l.dupes > 0 {
		t.Errorf("%d Responses came twice with the same ID", l.dupes)
	}
}

// leaks are words that would show an internal error's detail on a page.
var leaks = []string{"goroutine", "panic", "SQLSTATE", "pgx", "dial tcp", "sqlite", "connection refused", "internal error"}

// checkUnavailablePage fails t unless f is a 503 page that names the database as the problem
// and shows nothing of the cause.
func checkUnavailablePage(t testing.TB, f failure, want string) {
	t.Helper()
	if f.Status != http.StatusServiceUnavailable || !strings.HasPrefix(f.ContentType, "text/html") ||
		!strings.Contains(f.Body, "Service Unavailable") || !strings.Contains(f.Body, want) {
		t.Errorf("while %s: want a 503 page that says %q, got %d %s: %s", f.Phase, want, f.Status, f.ContentType, testtools.Tail(f.Body, 600))
		return
	}
	for _, w := range leaks {
		if strings.Contains(strings.ToLower(f.Body), strings.ToLower(w)) {
			t.Errorf("while %s: the 503 page shows %q: %s", f.Phase, w, testtools.Tail(f.Body, 600))
		}
	}
}
