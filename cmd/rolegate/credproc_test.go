package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"rolegate/awstest/ststest"
)

// credRig is a real `rolegate serve`, an STS stand-in trusting its metadata, and a user's home.
type credRig struct {
	c     *cli
	srv   *server
	sts   *ststest.Server
	state string // the profile's state file
}

func newCredRig(t *testing.T, c *cli) *credRig {
	t.Helper()
	c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
	c.ok(t, "", "grant", "add", "--user", "alice", "--account", "prod", "--role", "Admin")
	r := &credRig{c: c, srv: c.serve(t)}
	r.sts = ststest.New(t, ststest.Config{MetadataURL: r.srv.url + "/saml/metadata"})
	home := t.TempDir()
	c.env["XDG_CONFIG_HOME"] = filepath.Join(home, "config")
	c.env["AWS_SHARED_CREDENTIALS_FILE"] = filepath.Join(home, "aws", "credentials")
	c.env["AWS_ENDPOINT_URL_STS"], c.env["AWS_CA_BUNDLE"] = r.sts.Endpoint, r.sts.CAFile
	c.env["ROLEGATE_USERNAME"] = "alice"
	r.state = filepath.Join(home, "config", "rolegate", "profiles", "work.json")
	return r
}

// login is `rolegate login --ecp` for profile work with alice's password pw.
func (r *credRig) login(t *testing.T, pw string) {
	t.Helper()
	r.c.env["ROLEGATE_PASSWORD"] = pw
	r.c.ok(t, "", "login", "--ecp", "--url", r.srv.url, "--profile", "work", "--account", "prod")
}

// age makes the cached credentials expire in d, as if time had passed.
func (r *credRig) age(t *testing.T, d time.Duration) {
	t.Helper()
	b, err := os.ReadFile(r.state)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["credentials"].(map[string]any)["Expiration"] = time.Now().Add(d).UTC().Format(time.RFC3339)
	b, _ = json.Marshal(st)
	if err := os.WriteFile(r.state, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

type processJSON struct {
	Version                                                int
	AccessKeyId, SecretAccessKey, SessionToken, Expiration string
}

func (r *credRig) process(t *testing.T) processJSON {
	t.Helper()
	var p processJSON
	out := r.c.ok(t, "", "credential-process", "--profile", "work")
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Version != 1 {
		t.Fatalf("credential-process printed %q", out)
	}
	return p
}

// ended asserts that credential-process is refused with one line saying to log in again.
func (r *credRig) ended(t *testing.T) {
	t.Helper()
	r.age(t, 4*time.Minute)
	res := r.c.run("", "credential-process", "--profile", "work")
	if res.code != 3 || res.stdout != "" || strings.Count(res.stderr, "\n") != 1 || !strings.Contains(res.stderr, "run rolegate login --profile work again") {
		t.Fatalf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
}

func TestCredentialProcessRefreshesAcrossAnExpiryUntilTheSessionEnds(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		r := newCredRig(t, c)
		r.login(t, goodPassword)
		if fi, err := os.Stat(r.state); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("state file: %v %v", fi, err)
		}
		first := r.sts.Issued()[0]
		p := r.process(t)
		if p.AccessKeyId != first.AccessKeyID || p.SessionToken != first.SessionToken || len(r.sts.Issued()) != 1 {
			t.Fatalf("not the cached credentials: %+v", p)
		}
		// Four minutes left: fresh keys from STS, with no password given.
		delete(c.env, "ROLEGATE_PASSWORD")
		r.age(t, 4*time.Minute)
		p = r.process(t)
		iss := r.sts.Issued()
		if len(iss) != 2 || p.AccessKeyId != iss[1].AccessKeyID || p.AccessKeyId == first.AccessKeyID || iss[1].RoleArn != first.RoleArn {
			t.Fatalf("no refresh: %+v, STS issued %d", p, len(iss))
		}
		if exp, err := time.Parse(time.RFC3339, p.Expiration); err != nil || time.Until(exp) < 30*time.Minute {
			t.Fatalf("expiration %q", p.Expiration)
		}

		// exec hands the keys to the command and its exit status back.
		res := c.run("", "exec", "--profile", "work", "--", "sh", "-c", `echo "$AWS_ACCESS_KEY_ID $AWS_PROFILE"; exit 7`)
		if res.code != 7 || strings.TrimSpace(res.stdout) != p.AccessKeyId || res.stderr != "" {
			t.Fatalf("exec: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
		}
		if res := c.run("", "exec", "--profile", "work", "sh"); res.code != 2 {
			t.Fatalf("exec without --: exit %d", res.code)
		}

		// console sends the keys to an https federation endpoint only.
		if res := c.run("", "console", "--profile", "work", "--print", "--federation-endpoint", "http://127.0.0.1:1/federation"); res.code != 2 || res.stdout != "" ||
			!strings.Contains(res.stderr, "not an https URL") {
			t.Fatalf("console over http: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
		}

		// An admin revokes it: the next refresh is refused, and no STS call is made.
		var list []cliSessionJSON
		c.list(t, &list, "session", "list", "--user", "alice", "--json")
		if len(list) != 1 {
			t.Fatalf("sessions %+v", list)
		}
		c.ok(t, "", "session", "revoke", list[0].ID)
		r.ended(t)

		// A new password ends it too; so does disabling the user.
		r.login(t, goodPassword)
		c.ok(t, "another good long password\n", "user", "passwd", "alice", "--password-stdin", "--must-change=false")
		r.ended(t)
		r.login(t, "another good long password")
		r.process(t)
		c.ok(t, "", "user", "disable", "alice")
		r.ended(t)
		if n := len(r.sts.Issued()); n != 4 {
			t.Fatalf("STS was called %d times, want 4 (three logins, one refresh)", n)
		}
		// Nothing of the profile: the same one line, from each command.
		for _, args := range [][]string{{"credential-process"}, {"exec", "--", "true"}, {"console", "--print"}} {
			res = c.run("", append([]string{args[0], "--profile", "other"}, args[1:]...)...)
			if res.code != 3 || res.stdout != "" || !strings.Contains(res.stderr, "profile other has no Rolegate session") {
				t.Fatalf("%v: exit %d %q", args, res.code, res.stderr)
			}
		}
	})
}

// exec leaves the ending to the command: a SIGTERM to rolegate goes on to it (it was killed
// outright, and terraform under exec lost its state lock), rolegate waits and passes its status,
// and a command killed by a signal ends rolegate with 128 and the signal's number, as a shell does.
// Not parallel: it signals the test process itself, as main's NotifyContext would see it.
func TestExecPassesSignalsOnAndReportsDeathBySignal(t *testing.T) {
	c := &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{}}
	r := newCredRig(t, c)
	r.login(t, goodPassword)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := filepath.Join(t.TempDir(), "ready")
	got := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := run(ctx, c.args("exec", "--profile", "work", "--", "sh", "-c",
			`trap 'echo cleaned up; exit 5' TERM; : > "$1"; i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; exit 9`, "sh", ready),
			strings.NewReader(""), &stdout, &stderr, c.getenv)
		got <- result{code, stdout.String(), stderr.String()}
	}()
	for i := 0; ; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		} else if i == 100 {
			t.Fatal("the command did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	res := <-got
	if res.code != 5 || strings.TrimSpace(res.stdout) != "cleaned up" || res.stderr != "" {
		t.Fatalf("SIGTERM: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	res = c.run("", "exec", "--profile", "work", "--", "sh", "-c", `kill -KILL $$`)
	if res.code != 128+9 || res.stderr != "" {
		t.Fatalf("killed: exit %d, stderr %q", res.code, res.stderr)
	}
}

// A profiles directory other users can write is refused by credential-process and login alike:
// one of them could have put their own state, CLI session and keys there.
func TestProfileStateInADirectoryOthersCanWriteIsRefused(t *testing.T) {
	t.Parallel()
	c := &cli{backend: "sqlite", dataDir: filepath.Join(t.TempDir(), "data"), env: map[string]string{}}
	r := newCredRig(t, c)
	r.login(t, goodPassword)
	dir := filepath.Dir(r.state)
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		res := c.run("", "credential-process", "--profile", "work")
		if res.code != 2 || res.stdout != "" || !strings.Contains(res.stderr, "chmod 700 "+d) {
			t.Fatalf("credential-process with %s 0777: exit %d, stdout %q, stderr %q", d, res.code, res.stdout, res.stderr)
		}
		before, _ := os.ReadFile(c.env["AWS_SHARED_CREDENTIALS_FILE"])
		res = c.run("", "login", "--ecp", "--url", r.srv.url, "--profile", "work", "--account", "prod")
		if res.code != 2 || !strings.Contains(res.stderr, "chmod 700 "+d) {
			t.Fatalf("login with %s 0777: exit %d, stderr %q", d, res.code, res.stderr)
		}
		// Refused before the sign-in: the credentials file is as it was.
		if after, _ := os.ReadFile(c.env["AWS_SHARED_CREDENTIALS_FILE"]); string(after) != string(before) {
			t.Fatalf("login with %s 0777 changed the credentials file", d)
		}
		os.Chmod(d, 0o700)
	}
	r.process(t)
}
