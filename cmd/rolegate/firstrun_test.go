package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"rolegate/awstest/iamtest"
	"rolegate/certs"
	"rolegate/store/sqlite"
)

// mustRefuse runs a command line that must fail with code, nothing on stdout and one line on
// stderr holding every frag.
func mustRefuse(t *testing.T, c *cli, code int, args []string, frags ...string) {
	t.Helper()
	r := c.run("", args...)
	for _, f := range frags {
		wantRefused(t, "rolegate "+strings.Join(args, " "), r, code, f)
	}
}

func TestServePrintsOneURLWhereTheFirstSignInWorksFromAnyNameOfTheServer(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	srv := c.serve(t)
	// The admin's password follows the URL; wait for it.
	for end := time.Now().Add(time.Minute); !strings.Contains(srv.stdout.String(), adminPasswordFile) && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	out := srv.stdout.String()
	m := regexp.MustCompile(`^Rolegate is running at (http://localhost:[0-9]+)\n`).FindStringSubmatch(out)
	if m == nil || strings.Count(out, "http") != 1 {
		t.Fatalf("serve printed\n%s\nwant one URL, the base URL, first", out)
	}
	base := m[1]
	_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
	pw, err := os.ReadFile(filepath.Join(c.dataDir, adminPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	// A person types 127.0.0.1 where the base URL says localhost: sent on, and signs in.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := client.Get("http://127.0.0.1:" + port + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tok := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != base+"/login" || tok == nil {
		t.Fatalf("GET 127.0.0.1:%s/login ended at %s with %d", port, resp.Request.URL, resp.StatusCode)
	}
	resp, err = client.PostForm(base+"/login", url.Values{"csrf_token": {string(tok[1])}, "username": {"admin"}, "password": {strings.TrimSpace(string(pw))}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "the form expired") || resp.Request.URL.Path == "/login" {
		t.Fatalf("signing in as admin: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	srv.stop(t)
}

func TestTheEntityIDIsPinnedAtFirstStartAndChangedOnlyOnPurpose(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		const other = "https://sso.example.com"
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin")
		c.ok(t, "", "account", "add", prodID, "--alias", "prod")
		// Before any start there is no entity ID to hand out, and nothing is pinned by asking.
		mustRefuse(t, c, exitInvalid, []string{"aws", "metadata"}, "--base-url")
		if out := c.ok(t, "", "user", "mfa", "invite", "alice"); strings.Contains(out, "link:") {
			t.Fatalf("an invite with no base URL known printed a link:\n%s", out)
		}
		c.serve(t, "--base-url", testBase).stop(t)

		// Later starts keep it, and refuse another one, in words on what it breaks.
		if out := c.serve(t).stop(t); !strings.HasPrefix(out, "Rolegate is running at "+testBase+"\n") {
			t.Fatalf("a start without --base-url printed\n%s", out)
		}
		c.serve(t, "--base-url", testBase+"/").stop(t) // the same entity ID
		mustRefuse(t, c, exitConflict, []string{"serve", "--addr", "127.0.0.1:0", "--base-url", other},
			"pinned to "+testBase+"/saml/metadata", "SAML provider", "--change-entity-id")
		c.env["ROLEGATE_BASE_URL"] = other
		mustRefuse(t, c, exitConflict, []string{"serve", "--addr", "127.0.0.1:0"}, "--change-entity-id")
		delete(c.env, "ROLEGATE_BASE_URL")

		// The aws commands and invites default to it, and refuse another.
		if md := c.ok(t, "", "aws", "metadata"); !strings.Contains(md, `entityID="`+testBase+`/saml/metadata"`) {
			t.Fatalf("aws metadata without --base-url:\n%s", md)
		}
		for _, args := range [][]string{
			{"aws", "metadata", "--base-url", other},
			{"aws", "register", "--all", "--base-url", other},
			{"aws", "register", "--all", "--dry-run", "--base-url", other},
			{"aws", "check", "--all", "--base-url", other},
			{"user", "mfa", "invite", "alice", "--base-url", other},
		} {
			mustRefuse(t, c, exitConflict, args, "--change-entity-id")
		}
		if out := c.ok(t, "", "user", "mfa", "invite", "alice"); !strings.Contains(out, "link: "+testBase+"/account/mfa?invite=") {
			t.Fatalf("an invite without --base-url printed\n%s", out)
		}

		// On purpose: the new one is pinned, said and audited.
		out := c.serve(t, "--base-url", other, "--change-entity-id").stop(t)
		if !strings.Contains(out, "The entity ID changed from "+testBase+"/saml/metadata to "+other+"/saml/metadata") || !strings.Contains(out, "aws register --all") {
			t.Fatalf("a change of entity ID printed\n%s", out)
		}
		if md := c.ok(t, "", "aws", "metadata"); !strings.Contains(md, `entityID="`+other+`/saml/metadata"`) {
			t.Fatal("aws metadata does not follow the change")
		}
		st := c.openStore(t)
		defer st.Close()
		pins, changes := auditDetails(t, st, "entity_id.pin"), auditDetails(t, st, "entity_id.change")
		if len(pins) != 1 || pins[0]["entity_id"] != testBase+"/saml/metadata" ||
			len(changes) != 1 || changes[0]["from"] != testBase+"/saml/metadata" || changes[0]["to"] != other+"/saml/metadata" {
			t.Fatalf("audited pins %v, changes %v", pins, changes)
		}
		mustRefuse(t, c, exitInvalid, []string{"serve", "--addr", "127.0.0.1:0", "--change-entity-id"}, "needs the new --base-url")
	})
}

func TestAMistypedDataDirIsSaidAndNoStoreIsMade(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		for _, args := range [][]string{
			{"user", "list"}, {"group", "list"}, {"account", "list"}, {"grant", "list"}, {"tag", "list"}, {"sp", "list"},
			{"keys", "list"}, {"keys", "rotate"}, {"audit"}, {"session", "list"}, {"user", "passwd", "alice", "--password-stdin"},
			{"aws", "metadata", "--base-url", testBase}, {"aws", "check", "--all", "--base-url", testBase},
			{"aws", "trust-policy", "--account", "prod", "--role", "R"}, {"user", "mfa", "invite", "alice"},
		} {
			mustRefuse(t, c, exitNotFound, args, "no Rolegate store in ")
		}
		if c.backend == "sqlite" {
			if _, err := os.Stat(c.dataDir); !os.IsNotExist(err) {
				t.Fatalf("a refused command made the data dir: %v", err)
			}
		} else {
			st := c.openStore(t)
			has, err := st.HasSchema(context.Background())
			st.Close()
			if err != nil || has {
				t.Fatalf("a refused command set up the database: %v %v", has, err)
			}
		}
		// The README's setup begins on a fresh store with an add, which makes one.
		c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin")
		if out := c.ok(t, "", "user", "list"); !strings.Contains(out, "alice") {
			t.Fatalf("user list after user add:\n%s", out)
		}
	})
}

// The demo's default store is relative to the working directory: this test moves it, so it is
// not parallel.
func TestTheDemoNeverSeedsAStoreThatHoldsRealData(t *testing.T) {
	t.Chdir(t.TempDir())
	real := &cli{backend: "sqlite", dataDir: defaultDataDir, env: map[string]string{}}
	real.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin")

	demo := &cli{backend: "sqlite", env: map[string]string{}} // no --data-dir
	out := demo.serve(t, "--demo").stop(t)
	if !strings.Contains(out, "Demo mode, on the store in "+demoDataDir) || !strings.Contains(out, "rolegate --data-dir "+demoDataDir+" user mfa invite demo") {
		t.Fatalf("the demo does not say where its store is:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(demoDataDir, sqlite.FileName)); err != nil {
		t.Fatalf("no demo store: %v", err)
	}
	if users := real.ok(t, "", "user", "list"); strings.Contains(users, "demo") {
		t.Fatalf("the demo seeded the real store:\n%s", users)
	}
	// Its own store again: seeded already, and marked as the demo's.
	if out := demo.serve(t, "--demo").stop(t); !strings.Contains(out, "rolegate --data-dir "+demoDataDir+" user passwd demo") {
		t.Fatalf("a second demo start printed\n%s", out)
	}

	// Pointed at the real store, it refuses and writes nothing.
	mustRefuse(t, real, exitConflict, []string{"serve", "--addr", "127.0.0.1:0", "--demo"}, "holds real data", "user alice", demoDataDir)
	demo.env["ROLEGATE_DATA_DIR"] = defaultDataDir // named by the environment: the same
	mustRefuse(t, demo, exitConflict, []string{"serve", "--addr", "127.0.0.1:0", "--demo"}, "holds real data")
	if users := real.ok(t, "", "user", "list"); strings.Contains(users, "demo") {
		t.Fatalf("a refused demo seeded the real store:\n%s", users)
	}

	// The PostgreSQL store named by --database-url is the one there is: refused when it holds real data.
	pg := newCLI(t, "postgres")
	pg.ok(t, "", "group", "add", "platform")
	mustRefuse(t, pg, exitConflict, []string{"serve", "--addr", "127.0.0.1:0", "--demo"}, "holds real data", "group platform")
	fresh := newCLI(t, "postgres")
	fresh.serve(t, "--demo").stop(t)
	fresh.serve(t, "--demo").stop(t)
}

func TestTheCLIOnPostgreSQLLeavesNoStrayKEK(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "postgres")
	delete(c.env, certs.EnvKEKFile)
	kek := filepath.Join(c.dataDir, certs.KEKFileName)
	c.ok(t, "", "migrate")
	for _, args := range [][]string{{"keys", "rotate"}, {"aws", "metadata", "--base-url", testBase}} {
		mustRefuse(t, c, exitInvalid, args, "no key-encryption key for the PostgreSQL store", certs.EnvKEK)
	}
	if _, err := os.Stat(c.dataDir); !os.IsNotExist(err) {
		t.Fatalf("the CLI made the data dir on PostgreSQL: %v", err)
	}
	// The first serve on a database with no key makes one; once keys are sealed with it, no other.
	c.serve(t).stop(t)
	if _, err := os.Stat(kek); err != nil {
		t.Fatalf("the first serve made no KEK: %v", err)
	}
	if err := os.Remove(kek); err != nil {
		t.Fatal(err)
	}
	c.ok(t, "", "keys", "list") // needs no KEK
	mustRefuse(t, c, exitInvalid, []string{"aws", "metadata"}, "no key-encryption key for the PostgreSQL store")
	r := c.run("", "serve", "--addr", "127.0.0.1:0")
	if _, err := os.Stat(kek); r.code == 0 || !os.IsNotExist(err) {
		t.Fatalf("serve without the KEK of the store's keys: exit %d, stderr %q, KEK file made: %v", r.code, r.stderr, err == nil)
	}
}

// The README's "Setting it up for AWS", read from README.md and run command by command on a fresh
// store: every rolegate command there exits 0, as the section says. The lines run as written, with
// three stand-ins: the prompt of `user add` gets a pseudo-terminal, the aws commands reach an IAM
// stand-in through --endpoint-url, and `serve` listens on a free port. The AWS CLI's own lines
// (`aws iam ...`) are left out: they talk to AWS, not to Rolegate.
// Not parallel: the AWS SDK reads its shared files through the process environment.
func TestTheREADMESetupWorksOnAFreshStoreAsWritten(t *testing.T) {
	lines := readmeSetupLines(t)
	iam := iamtest.New(t)
	dir := t.TempDir()
	setAWSEnv(t, iam, dir, map[string]string{"prod-admin": prodID})
	t.Chdir(dir) // trust-ReadOnly.json and the default data dir land here
	c := &cli{backend: "sqlite", env: map[string]string{}}
	ran, served := 0, false
	for _, line := range lines {
		if v, ok := strings.CutPrefix(line, "export ROLEGATE_BASE_URL="); ok {
			c.env["ROLEGATE_BASE_URL"] = v
			continue
		}
		stdin := ""
		if m := echoRE.FindStringSubmatch(line); m != nil {
			stdin, line = m[1]+"\n", m[2]
		}
		out := ""
		if before, file, ok := strings.Cut(line, " > "); ok {
			line, out = before, strings.TrimSpace(file)
		}
		args, ok := strings.CutPrefix(line, "rolegate ")
		if !ok {
			continue // the AWS CLI
		}
		words := strings.Fields(args)
		if words[0] == "aws" && words[1] != "trust-policy" && words[1] != "metadata" {
			words = append(words, "--endpoint-url", iam.URL())
		}
		ran++
		switch {
		case words[0] == "serve":
			if got := c.serve(t, words[1:]...).stop(t); !strings.HasPrefix(got, "Rolegate is running at https://idp.example.com\n") {
				t.Fatalf("rolegate %s printed\n%s", line, got)
			}
			served = true
		case words[0] == "user" && words[1] == "add" && stdin == "": // the prompt, on a terminal
			main, tty := openPTY(t)
			if _, err := main.WriteString(goodPassword + "\n" + goodPassword + "\n"); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr strings.Builder
			if code := run(c.context(), c.args(words...), tty, &stdout, &stderr, c.getenv); code != 0 {
				t.Fatalf("rolegate %s: exit %d\n%s%s", line, code, stdout.String(), stderr.String())
			}
		default:
			r := c.run(stdin, words...)
			if r.code != 0 {
				t.Fatalf("rolegate %s: exit %d\n%s%s", line, r.code, r.stdout, r.stderr)
			}
			if out != "" {
				if err := os.WriteFile(out, []byte(r.stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if ran < 15 || !served {
		t.Fatalf("ran %d rolegate lines of the README's setup (serve among them: %v); the section is not where the test looks", ran, served)
	}
	if _, err := os.Stat(filepath.Join(defaultDataDir, sqlite.FileName)); err != nil {
		t.Fatalf("the setup did not work on the default store: %v", err)
	}
	var policy map[string]any
	if b, err := os.ReadFile("trust-ReadOnly.json"); err != nil || json.Unmarshal(b, &policy) != nil {
		t.Fatalf("trust-ReadOnly.json is not the trust policy: %v %s", err, b)
	}
	if _, ok := iam.Provider(prodID, "Rolegate"); !ok {
		t.Errorf("the setup left account %s without its SAML provider", prodID)
	}
	// The base URL is pinned by the registration: the server and later commands keep to it.
	delete(c.env, "ROLEGATE_BASE_URL")
	if out := c.serve(t).stop(t); !strings.HasPrefix(out, "Rolegate is running at https://idp.example.com\n") {
		t.Fatalf("serve after the setup printed\n%s", out)
	}
}

// echoRE is a README line that pipes a password in: echo 'PW' | rolegate ...
var echoRE = regexp.MustCompile(`^echo '([^']*)' \| (rolegate .*)$`)

// readmeSetupLines are the command lines of the README's "Setting it up for AWS" section, up to
// its first subsection, without comments.
func readmeSetupLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Setting it up for AWS\n")
	if !ok {
		t.Fatal(`README.md has no "## Setting it up for AWS" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n### ")
	var lines []string
	for i, block := range strings.Split(sec, "```") {
		if i%2 == 0 || !strings.HasPrefix(block, "sh\n") {
			continue
		}
		for _, l := range strings.Split(block, "\n")[1:] {
			if j := strings.Index(l, " #"); j >= 0 {
				l = l[:j]
			}
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
	}
	return lines
}
