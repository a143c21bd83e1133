package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/internal/testtools"
	"rolegate/store"
	"rolegate/store/postgres"
	"rolegate/store/postgres/pgtest"
	"rolegate/store/sqlite"
	"rolegate/store/sqlstore"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	testtools.RemoveBuilt() // the binary the process tests ran
	os.Exit(code)
}

// A correct password for --password-stdin: long enough for the policy.
const goodPassword = "correct horse battery staple"

// cli runs the rolegate command line against one fresh store.
type cli struct {
	backend string            // "sqlite" or "postgres"
	dataDir string            // always set: the embedded database or just the KEK file
	dbURL   string            // set for postgres
	env     map[string]string // what the command sees as its environment; never the process's
	clock   func() time.Time  // the clock of the commands' signing keys; nil means time.Now
}

// newCLI is a CLI on a fresh store of backend: an embedded one, or a fresh PostgreSQL database.
func newCLI(t *testing.T, backend string) *cli {
	t.Helper()
	c := &cli{backend: backend, dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{}}
	if backend == "postgres" {
		c.dbURL = pgtest.URL(t)
		// The servers' key, as a mounted secret holds it: the CLI never makes one on PostgreSQL.
		c.env[certs.EnvKEKFile] = writeKEKFile(t, t.TempDir())
	}
	return c
}

// writeKEKFile writes a new key-encryption key to dir/kek, mode 0600, as a first serve does, and
// returns the file's path.
func writeKEKFile(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, certs.KEKFileName)
	_, text, err := certs.GenerateKEK()
	if err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err == nil {
		err = os.WriteFile(path, []byte(text+"\n"), 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// forEachBackend runs fn, in parallel, once on a fresh embedded store and once on a fresh
// PostgreSQL database.
func forEachBackend(t *testing.T, fn func(t *testing.T, c *cli)) {
	t.Helper()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fn(t, newCLI(t, backend))
		})
	}
}

func (c *cli) getenv(key string) string { return c.env[key] }

// context is the context the CLI's commands run in: it carries the CLI's clock.
func (c *cli) context() context.Context {
	if c.clock == nil {
		return context.Background()
	}
	return context.WithValue(context.Background(), clockKey{}, c.clock)
}

// args are the command line: --data-dir and --database-url first, when set.
func (c *cli) args(args ...string) []string {
	var out []string
	if c.dataDir != "" {
		out = append(out, "--data-dir", c.dataDir)
	}
	if c.dbURL != "" {
		out = append(out, "--database-url", c.dbURL)
	}
	return append(out, args...)
}

// result is what one command line did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs one command line with stdin as its standard input.
func (c *cli) run(stdin string, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(c.context(), c.args(args...), strings.NewReader(stdin), &stdout, &stderr, c.getenv)
	return result{code, stdout.String(), stderr.String()}
}

// ok runs a command line that must succeed, and returns its standard output.
func (c *cli) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("rolegate %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// list runs a command line printing JSON and decodes its output into v.
func (c *cli) list(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.ok(t, "", args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("rolegate %s: output is not the expected JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// openStore opens the store the CLI works on, directly, for what the CLI does not show.
func (c *cli) openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	var s *sqlstore.Store
	var err error
	if c.dbURL != "" {
		s, err = postgres.Open(context.Background(), c.dbURL)
	} else {
		s, err = sqlite.Open(filepath.Join(c.dataDir, sqlite.FileName))
	}
	if err != nil {
		t.Fatalf("open the %s store: %v", c.backend, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// JSON shapes of the list commands, as far as the tests read them.
type (
	userJSONOut struct {
		Name               string            `json:"name"`
		Email              string            `json:"email"`
		DisplayName        string            `json:"display_name"`
		Attributes         map[string]string `json:"attributes"`
		Groups             []string          `json:"groups"`
		Disabled           bool              `json:"disabled"`
		HasPassword        bool              `json:"has_password"`
		MustChangePassword bool              `json:"must_change_password"`
	}
	grantJSONOut struct {
		ID           int64  `json:"id"`
		Group        string `json:"group"`
		User         string `json:"user"`
		AccountID    string `json:"account_id"`
		AccountAlias string `json:"account_alias"`
		Role         string `json:"role"`
	}
	keyJSONOut struct {
		ID          string `json:"id"`
		State       string `json:"state"`
		Fingerprint string `json:"sha256_fingerprint"`
		Bits        int    `json:"bits"`
	}
)

func (c *cli) users(t *testing.T) map[string]userJSONOut {
	t.Helper()
	var list []userJSONOut
	c.list(t, &list, "user", "list", "--json")
	out := map[string]userJSONOut{}
	for _, u := range list {
		out[u.Name] = u
	}
	return out
}

func (c *cli) keys(t *testing.T) []keyJSONOut {
	t.Helper()
	var list []keyJSONOut
	c.list(t, &list, "keys", "list", "--json")
	return list
}

// syncBuffer is a buffer a server goroutine may write while the test reads it.
type syncBuffer = testtools.SyncBuffer

// server is a `rolegate serve` running in a goroutine.
type server struct {
	url            string // http://HOST:PORT as serve announced it
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan int
	once           sync.Once
	code           int
}

// serve starts `rolegate serve --addr 127.0.0.1:0` with the extra flags and waits until it says
// where it listens.
func (c *cli) serve(t *testing.T, extra ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(c.context())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	args := c.args(append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...)...)
	go func() { s.done <- run(ctx, args, strings.NewReader(""), s.stdout, s.stderr, c.getenv) }()
	t.Cleanup(func() { s.wait() }) // never leave a server running on a store being deleted
	give := time.NewTimer(2 * time.Minute)
	defer give.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		// serve logs where it listens (at info) before it prints the base URL on stdout: a base URL
		// without that line is a server logging at warn or above, reachable at the base URL itself.
		if r := testtools.ServeRunning.FindStringSubmatch(s.stdout.String()); r != nil {
			listen := ""
			if m := testtools.ServeStarting.FindStringSubmatch(s.stderr.String()); m != nil {
				listen = m[1]
			}
			s.url = testtools.ReachAt(r[1], listen)
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("serve exited with %d before listening\nstdout: %s\nstderr: %s", code, s.stdout, s.stderr)
		case <-give.C:
			t.Fatalf("serve did not say where it listens\nstdout: %s\nstderr: %s", s.stdout, s.stderr)
		case <-tick.C:
		}
	}
}

// wait cancels the server's context and returns its exit status.
func (s *server) wait() int {
	s.once.Do(func() {
		s.cancel()
		s.code = <-s.done
	})
	return s.code
}

// stop shuts the server down gracefully; it must exit with 0. It returns what serve printed.
func (s *server) stop(t *testing.T) string {
	t.Helper()
	if code := s.wait(); code != 0 {
		t.Fatalf("serve exited with %d after a graceful shutdown; stderr: %s", code, s.stderr)
	}
	return s.stdout.String()
}

// get fetches path from the server; the status must be 200.
func (s *server) get(t *testing.T, path string) string {
	t.Helper()
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Get(s.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// metadataCerts returns the SHA-256 fingerprints of the X509Certificate elements in metadata,
// in document order.
func metadataCerts(t *testing.T, metadata string) []string {
	t.Helper()
	var out []string
	for _, c := range metadataX509(t, metadata) {
		out = append(out, certs.Fingerprint(c))
	}
	return out
}

// metadataX509 returns the certificates of the X509Certificate elements in metadata, in document order.
func metadataX509(t *testing.T, metadata string) []*x509.Certificate {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(metadata))
	var out []*x509.Certificate
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("metadata is not XML: %v\n%s", err, metadata)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "X509Certificate" {
			continue
		}
		var text string
		if err := dec.DecodeElement(&text, &se); err != nil {
			t.Fatalf("X509Certificate: %v", err)
		}
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
		if err != nil {
			t.Fatalf("X509Certificate is not base64: %v", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("X509Certificate is not a certificate: %v", err)
		}
		out = append(out, cert)
	}
}

// auditCount is how many audit events the store holds.
func auditCount(t *testing.T, st store.Store) int {
	t.Helper()
	events, err := st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatalf("list audit events: %v", err)
	}
	return len(events)
}
