// Package pgtest gives tests a fresh, empty PostgreSQL database.
//
// Each call of URL creates a new database with a random name (rg_test_<hex>) and drops it when the
// test ends, so tests are independent and may run in parallel.
//
// Where the server comes from:
//
//   - If ROLEGATE_TEST_POSTGRES_URL is set (e.g.
//     postgres://postgres:pw@127.0.0.1:5432/postgres?sslmode=disable), databases are created on that
//     server; the role must be allowed to CREATE DATABASE. A server that cannot be reached then is a
//     test failure, not a skip.
//   - Otherwise one throwaway cluster per test binary is started lazily from the local PostgreSQL
//     binaries (initdb and postgres on PATH, else the highest version under
//     /usr/lib/postgresql/*/bin). As root, initdb and postgres run as the OS user postgres.
//   - If neither is possible, the test is skipped with a loud message, or fails when CI=true.
//
// A package that uses URL must stop the throwaway cluster after its tests by calling Main from
// TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without it the cluster is still killed when the test binary exits (parent-death signal), but its
// temporary directory is left behind.
//
// NewCluster instead gives one test a throwaway server of its own, which it may stop and start
// again (the fault tests restart PostgreSQL under load).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"rolegate/internal/testtools"
)

// EnvURL names the environment variable holding the URL of an existing server to use.
const EnvURL = "ROLEGATE_TEST_POSTGRES_URL"

// pgLibGlob is where Debian-style installations keep the server binaries, one folder per version.
var pgLibGlob = "/usr/lib/postgresql/*/bin"

const (
	readyTimeout   = 30 * time.Second
	connectTimeout = 10 * time.Second
)

var (
	once   sync.Once
	srv    *server // set by once
	srvErr error   // why no server is available; set by once
)

// server is where test databases are created.
type server struct {
	adminURL string   // URL of a database to connect to for CREATE/DROP DATABASE
	cluster  *cluster // non-nil for a throwaway cluster started by this process
}

// URL returns the connection URL of a new, empty database, dropped when t ends. It skips t (or fails
// it when CI=true) when no PostgreSQL server can be had.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { srv, srvErr = setup() })
	if srvErr != nil {
		var cfg configError
		if errors.As(srvErr, &cfg) {
			t.Fatalf("pgtest: %v", srvErr)
		}
		unavailable(t, srvErr.Error())
		return ""
	}
	if c := srv.cluster; c != nil {
		c.logOnce.Do(func() {
			t.Logf("pgtest: throwaway PostgreSQL (%s) on 127.0.0.1:%d started in %v", c.binDir, c.port, c.startup.Round(time.Millisecond))
		})
	}

	name := "rg_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if err := adminExec(ctx, srv.adminURL,
		"CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		// WITH (FORCE) (PostgreSQL 13+) terminates connections the test left open.
		if err := adminExec(ctx, srv.adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(srv.adminURL, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// Main runs the tests and then stops the throwaway cluster, if one was started. Call it from
// TestMain: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if srv != nil && srv.cluster != nil {
		if err := srv.cluster.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping throwaway PostgreSQL: %v\n", err)
		}
	}
	return code
}

// configError is an explicit configuration that does not work: always a failure, never a skip.
type configError struct{ error }

// unavailable skips t, or fails it when CI=true.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	testtools.Missing(t, "PostgreSQL", fmt.Sprintf("no PostgreSQL for tests: %s; set %s or install postgresql", reason, EnvURL))
}

func setup() (*server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		if _, err := withDatabase(u, "postgres"); err != nil {
			return nil, configError{fmt.Errorf("%s: %w", EnvURL, err)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		if err := adminExec(ctx, u, "SELECT 1"); err != nil {
			return nil, configError{fmt.Errorf("%s: cannot use server: %w", EnvURL, err)}
		}
		return &server{adminURL: u}, nil
	}
	c, err := startCluster()
	if err != nil {
		return nil, err
	}
	return &server{adminURL: c.url(), cluster: c}, nil
}

func adminExec(ctx context.Context, connURL, sql string) error {
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns connURL with its database name replaced by db.
func withDatabase(connURL, db string) (string, error) {
	u, err := url.Parse(connURL)
	if err != nil {
		// err quotes the URL, password included: keep it out of test logs.
		return "", errors.New("not a valid postgres:// URL")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("want a postgres:// URL, got scheme %q", u.Scheme)
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// cluster is a throwaway PostgreSQL started by this process.
type cluster struct {
	binDir  string
	dir     string // temporary directory holding data/, sock/ and postgres.log
	port    int
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	startup time.Duration
	logOnce sync.Once
}

func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// findBinaries returns a folder holding initdb and postgres: the one of initdb on PATH, else the
// highest version matching pgLibGlob.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if dir := filepath.Dir(real); isExec(filepath.Join(dir, "postgres")) {
				return dir, nil
			}
		}
		if q, err := exec.LookPath("postgres"); err == nil {
			if real, err := filepath.EvalSymlinks(q); err == nil && filepath.Dir(real) == filepath.Dir(p) {
				return filepath.Dir(p), nil
			}
		}
	}
	dirs, _ := filepath.Glob(pgLibGlob)
	type cand struct {
		dir string
		ver float64
	}
	var cands []cand
	for _, d := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil || !isExec(filepath.Join(d, "initdb")) || !isExec(filepath.Join(d, "postgres")) {
			continue
		}
		cands = append(cands, cand{d, v})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no PostgreSQL server binaries (initdb and postgres) on PATH or in %s", pgLibGlob)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ver > cands[j].ver })
	return cands[0].dir, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// runAs returns the credential to run initdb and postgres with: nil as a normal user, the OS user
// postgres as root (initdb refuses to run as root).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no OS user postgres to run initdb as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("OS user postgres: bad uid/gid %q/%q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func startCluster() (c *cluster, err error) {
	t0 := time.Now()
	binDir, err := findBinaries()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rolegate-pgtest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	sock := filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		for _, p := range []string{dir, sock} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(binDir, "initdb"), "-D", data,
		"-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir // the test's working folder may be unreadable to user postgres
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb (%s) failed: %v: %s", binDir, err, strings.TrimSpace(string(out)))
	}

	// The port is picked free then bound by postgres: another process may take it in between, so try
	// a few times.
	for attempt := 1; ; attempt++ {
		c, err = startPostgres(binDir, dir, data, sock, cred, 0)
		if err == nil || attempt == 3 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	c.startup = time.Since(t0)
	return c, nil
}

// startPostgres starts the postmaster on data, on port, or on a free port when port is 0.
func startPostgres(binDir, dir, data, sock string, cred *syscall.Credential, port int) (*cluster, error) {
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// If the test binary dies without reaching Main's cleanup (panic, timeout), the postmaster
		// gets an immediate-shutdown signal instead of living on.
		Pdeathsig: syscall.SIGQUIT,
		Setpgid:   true, // a ^C in the terminal goes to the tests, not straight to postgres
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &cluster{binDir: binDir, dir: dir, port: port, cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(c.exited) }()

	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := adminExec(ctx, c.url(), "SELECT 1")
		cancel()
		if err == nil {
			return c, nil
		}
		select {
		case <-c.exited:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres exited during startup: %s", strings.TrimSpace(string(out)))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("postgres not ready after %v: %v; log: %s", readyTimeout, err, strings.TrimSpace(string(out)))
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// kill stops the postmaster at once and waits for it.
func (c *cluster) kill() {
	c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
}

// stop shuts the cluster down and removes its folder.
func (c *cluster) stop() error {
	c.halt()
	return os.RemoveAll(c.dir)
}

// halt shuts the postmaster down ("fast" shutdown: SIGINT, which ends open sessions) and waits.
func (c *cluster) halt() {
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.kill()
	}
}
