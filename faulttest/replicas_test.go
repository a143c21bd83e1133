package faulttest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"rolegate/internal/testtools"
	"rolegate/store/postgres/pgtest"
)

// newKEK returns a random key-encryption key in ROLEGATE_KEK's form: every replica needs the same.
func newKEK(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestReplicaKilledAndPostgresRestartedUnderLoad runs three replicas on one PostgreSQL behind a
// round-robin proxy while a load client signs in to AWS over and over. One replica is killed with
// SIGKILL: only the requests in flight on it are lost (the proxy's 502s, no more than the client's
// concurrency) and the others keep serving. PostgreSQL then refuses the audit rows alone (a trigger
// raising disk_full): every answer is a 503 page and no Response comes. PostgreSQL is then stopped and started again: while it
// is down every answer is a 503 page that names the database, never a 500; afterwards the same
// replica processes serve again by themselves. Every Response the client received has its audit row.
func TestReplicaKilledAndPostgresRestartedUnderLoad(t *testing.T) {
	const workers = 8
	pg := pgtest.NewCluster(t)
	common := env("ROLEGATE_DATABASE_URL="+pg.URL(), "ROLEGATE_KEK="+newKEK(t))
	admin := append(common, "ROLEGATE_DATA_DIR="+t.TempDir())
	setUp(t, admin)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	var replicas []*server
	var addrs []string
	for i := range 3 {
		r := serve(t, fmt.Sprintf("replica %d", i+1), append(common, "ROLEGATE_DATA_DIR="+t.TempDir()),
			"--base-url", base, "--rate-burst", "100000", "--rate-per-second", "10000") // at info: the start log names the listen address
		replicas, addrs = append(replicas, r), append(addrs, r.addr)
	}
	proxy := newBalancer(t, ln, addrs)
	l := newLoad(base, signIn(t, base))
	ctx, stop := context.WithCancel(context.Background())
	wait := l.run(ctx, workers)
	defer func() { stop(); wait() }()

	l.phase.Store("warm")
	testtools.WaitFor(t, "30 Responses through three replicas", 30*time.Second, func() bool { return l.count("warm") >= 30 })

	l.phase.Store("kill")
	replicas[0].kill()
	testtools.WaitFor(t, "60 Responses from the two replicas left", 30*time.Second, func() bool { return l.count("kill") >= 60 })

	// PostgreSQL refuses the audit rows alone (as with its disk full): no row, no Response.
	l.phase.Store("audit-refused")
	pgExec(t, pg.URL(), `CREATE FUNCTION rg_fault() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'fault test: no room for audit rows' USING ERRCODE = 'disk_full'; END $$;
		CREATE TRIGGER rg_fault BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION rg_fault()`)
	testtools.WaitFor(t, "20 answers of 503 with the audit rows refused", 30*time.Second, l.only(t, "audit-refused", 503, 20))
	refusedAt := l.count("audit-refused")
	testtools.WaitFor(t, "20 more answers of 503 with the audit rows refused", 30*time.Second, l.only(t, "audit-refused", 503, 40))
	if n := l.count("audit-refused"); n != refusedAt {
		t.Errorf("%d Responses came while the audit rows were refused", n-refusedAt)
	}
	pgExec(t, pg.URL(), `DROP TRIGGER rg_fault ON audit_events; DROP FUNCTION rg_fault()`)

	l.phase.Store("pg-down")
	pg.Stop()
	testtools.WaitFor(t, "20 answers of 503 with PostgreSQL down", 30*time.Second, l.only(t, "pg-down", 503, 20))
	for _, r := range replicas[1:] {
		if st, body := get(t, r.url()+"/readyz"); st != http.StatusServiceUnavailable || !json.Valid(body) {
			t.Errorf("%s /readyz with PostgreSQL down: %d %s", r.name, st, body)
		}
		if st, body := get(t, r.url()+"/healthz"); st != http.StatusOK {
			t.Errorf("%s /healthz with PostgreSQL down: %d %s (the process itself is fine)", r.name, st, body)
		}
	}

	l.phase.Store("pg-back")
	if err := pg.Start(); err != nil {
		t.Fatalf("starting PostgreSQL again: %v", err)
	}
	testtools.WaitFor(t, "60 Responses after PostgreSQL came back, without restarting a replica", 30*time.Second,
		func() bool { return l.count("pg-back") >= 60 })
	stop()
	wait()
	for _, r := range replicas[1:] {
		if st := r.exited(0); st != nil {
			t.Errorf("%s exited: %v", r.name, st)
		}
		if st, body := get(t, r.url()+"/readyz"); st != http.StatusOK {
			t.Errorf("%s /readyz after PostgreSQL came back: %d %s", r.name, st, body)
		}
	}

	// Lost with the killed replica: a 502 from the proxy, or a page cut off as it died mid-answer.
	lost, cut, unavailable := 0, 0, 0
	for _, f := range l.failures {
		switch {
		case f.Phase == "kill" && f.Status == http.StatusBadGateway:
			lost++
		case f.Phase == "kill" && f.Status == http.StatusOK && strings.HasPrefix(f.Body, readErr):
			cut++
		case f.Phase == "audit-refused" || f.Phase == "pg-down" || f.Phase == "pg-back":
			unavailable++
			checkUnavailablePage(t, f, unavailableMsg)
		default:
			t.Errorf("while %s: %d %s: %s", f.Phase, f.Status, f.ContentType, testtools.Tail(f.Body, 600))
		}
	}
	if lost+cut > workers {
		t.Errorf("%d requests lost with the killed replica: more than the %d that can be in flight", lost+cut, workers)
	}
	if n := proxy.lost.Load(); int(n) != lost {
		t.Errorf("the proxy lost %d requests, the client saw %d 502s", n, lost)
	}
	ids, rows := audited(t, admin)
	checkAudited(t, l, ids)
	t.Logf("requests %d, Responses %d (warm %d, replica killed %d, audit refused %d, PostgreSQL down %d, back %d), audit rows of issued assertions %d, 503s %d, 502s %d, cut off %d",
		l.requests, len(l.responses), l.count("warm"), l.count("kill"), l.count("audit-refused"), l.count("pg-down"), l.count("pg-back"), rows, unavailable, lost, cut)
}

// pgExec runs statements on the database at url.
func pgExec(t testing.TB, url, stmts string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmts); err != nil {
		t.Fatalf("%s: %v", stmts, err)
	}
}

// get fetches url and returns its status and body.
func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}
