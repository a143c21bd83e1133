package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"rolegate/internal/testtools"
	"rolegate/store/postgres/pgtest"
)

func TestServeRefusesAKeyRefreshLongerThanTheRotationAllows(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	serve := func(extra ...string) []string { return append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...) }
	refused(t, c, serve("--key-refresh", "11s"), "invalid key refresh 11s: use 0s to 10s")
	refused(t, c, serve("--key-refresh", "-1s"), "invalid key refresh -1s")
	c.env[envKeyRefresh] = "soon"
	refused(t, c, serve(), `invalid ROLEGATE_KEY_REFRESH "soon"`)
	c.env[envKeyRefresh] = "1m"
	refused(t, c, serve(), "invalid key refresh 1m0s")
	// The flag wins over the environment.
	srv := c.serve(t, "--key-refresh", "2s")
	srv.get(t, "/healthz")
	srv.stop(t)
}

// replica is a `rolegate serve` process of the built binary.
type replica struct {
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
}

// TestServeProcessesOverOneDatabaseActAsOneIdP starts three processes of the built binary together
// on a fresh PostgreSQL database, as a deployment's replicas start: they migrate once, make one
// signing key and one bootstrap admin; a session made on one works on the others and ends on all;
// a key rotation by the CLI reaches every one within --key-refresh.
func TestServeProcessesOverOneDatabaseActAsOneIdP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts three servers")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := testtools.Rolegate(t)
	dbURL := pgtest.URL(t)
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	env := append(os.Environ(), "ROLEGATE_KEK="+kek, "ROLEGATE_DATABASE_URL="+dbURL, "ROLEGATE_BASE_URL=http://localhost:8443")
	rg := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data-dir", filepath.Join(dir, "cli")}, args...)...)
		var stderr bytes.Buffer
		cmd.Env, cmd.Stdin, cmd.Stderr = env, strings.NewReader(stdin), &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("rolegate %s: %v\n%s%s", strings.Join(args, " "), err, out, &stderr)
		}
		return string(out)
	}

	reps := make([]*replica, 3)
	for i := range reps {
		r := &replica{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
		r.cmd = exec.Command(bin, "--data-dir", filepath.Join(dir, "replica"+string(rune('0'+i))), "serve", "--addr", "127.0.0.1:0", "--key-refresh", "1s")
		r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = env, r.stdout, r.stderr
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
		reps[i] = r
	}
	admins := 0
	for i, r := range reps {
		r.url = r.listening(t, i)
		if strings.Contains(r.stdout.String(), "one-time password") {
			admins++
		}
	}
	if admins != 1 {
		t.Errorf("%d replicas created the bootstrap admin; want one", admins)
	}
	var keys []keyJSONOut
	if err := json.Unmarshal([]byte(rg("", "keys", "list", "--json")), &keys); err != nil || len(keys) != 1 {
		t.Fatalf("after three starts the store holds keys %+v (%v); want one", keys, err)
	}

	rg(goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
	jar, _ := cookiejar.New(nil) // cookies of 127.0.0.1 go to every port of it
	client := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	reps[0].signIn(t, client, "alice", goodPassword)
	for i, r := range reps {
		if !r.signedIn(t, client) {
			t.Fatalf("replica %d does not know the session made on replica 0", i)
		}
	}
	reps[2].post(t, client, "/logout", url.Values{})
	for i, r := range reps {
		if r.signedIn(t, client) {
			t.Fatalf("replica %d still knows the session ended on replica 2", i)
		}
	}

	// A rotation by the CLI: staged, then activated; each replica's metadata follows within
	// --key-refresh (polled, with a deadline far beyond it).
	for _, step := range []string{"staged", "activated"} {
		if out := rg("", "keys", "rotate"); !strings.Contains(out, step) {
			t.Fatalf("keys rotate: %q; want it %s", out, step)
		}
		var fps []string
		keys = nil
		if err := json.Unmarshal([]byte(rg("", "keys", "list", "--json")), &keys); err != nil {
			t.Fatal(err)
		}
		for _, state := range []string{"current", "next", "previous"} {
			for _, k := range keys {
				if k.State == state {
					fps = append(fps, k.Fingerprint)
				}
			}
		}
		for i, r := range reps {
			deadline := time.Now().Add(30 * time.Second)
			for got := metadataCerts(t, r.get(t, client, "/saml/metadata")); !slices.Equal(got, fps); got = metadataCerts(t, r.get(t, client, "/saml/metadata")) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: replica %d still publishes %v; want %v", step, i, got, fps)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	for i, r := range reps {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("replica %d after SIGTERM: %v\n%s", i, err, r.stderr)
		}
	}
}

// listening waits until the replica says where it listens.
func (r *replica) listening(t *testing.T, i int) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := testtools.ServeStarting.FindStringSubmatch(r.stderr.String()); m != nil {
			return "http://" + m[1] // the base URL is the load balancer's; a replica is reached where it listens
		}
		if r.cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("replica %d did not start\nstdout: %s\nstderr: %s", i, r.stdout, r.stderr)
	return ""
}

func (r *replica) get(t *testing.T, client *http.Client, path string) string {
	t.Helper()
	resp, err := client.Get(r.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s%s: %d\n%s", r.url, path, resp.StatusCode, body)
	}
	return string(body)
}

// post sends form with the CSRF token of the page at / (or /login, signed out).
func (r *replica) post(t *testing.T, client *http.Client, path string, form url.Values) *http.Response {
	t.Helper()
	from := "/"
	if path == "/login" {
		from = "/login"
	}
	page := r.get(t, client, from)
	m := csrfFieldRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token on %s:\n%s", from, page)
	}
	form.Set("csrf_token", html.UnescapeString(m[1]))
	resp, err := client.PostForm(r.url+path, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func (r *replica) signIn(t *testing.T, client *http.Client, user, pw string) {
	t.Helper()
	resp := r.post(t, client, "/login", url.Values{"username": {user}, "password": {pw}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// signedIn reports whether GET / shows the portal rather than the way to the sign-in page.
func (r *replica) signedIn(t *testing.T, client *http.Client) bool {
	t.Helper()
	resp, err := client.Get(r.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// csrfFieldRE finds the CSRF token of a page's first form.
var csrfFieldRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
