package main

import (
	"context"
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

// The README's "Setting it up for AWS", command by command, on a fresh store: every rolegate
// command there exits 0. Two changes only: alice's password comes on standard input (the README's
// prompt needs a terminal), and the aws commands reach an IAM stand-in through --endpoint-url.
// Not parallel: the AWS SDK reads its shared files through the process environment.
func TestTheREADMESetupWorksOnAFreshStoreAsWritten(t *testing.T) {
	iam := iamtest.New(t)
	dir := t.TempDir()
	setAWSEnv(t, iam, dir, map[string]string{"prod-admin": prodID})
	t.Chdir(dir) // trust-ReadOnly.json and the default data dir land here
	c := &cli{backend: "sqlite", env: map[string]string{"ROLEGATE_BASE_URL": "https://idp.example.com"}}
	for _, line := range []string{
		"user add alice --email alice@example.com --attr team=platform --password-stdin",
		"user add bob --password-stdin",
		"group add platform",
		"group add-member platform alice",
		"account add 111122223333 --alias prod --provider-name Rolegate --region us-east-2 --session-duration 4h",
		"grant add --group platform --account prod --role ReadOnly",
		"grant add --user alice --account prod --role admin/Administrator --session-duration 1h",
		"grant list --user alice --effective",
		"tag add --account prod --key team --from-attr team --transitive",
		"tag add --account prod --key env --value production",
		"account set prod --session-name-source email --source-identity username",
		"tag list --account prod",
		"account set prod --aws-profile prod-admin",
		"aws register --all --dry-run",
		"aws register --all",
		"aws check --all",
		"aws trust-policy --account prod --role ReadOnly",
		"aws metadata --out rolegate-metadata.xml",
	} {
		args := strings.Fields(line)
		if args[0] == "aws" && args[1] != "trust-policy" && args[1] != "metadata" {
			args = append(args, "--endpoint-url", iam.URL())
		}
		if r := c.run(goodPassword+"\n", args...); r.code != 0 {
			t.Fatalf("rolegate %s: exit %d\n%s%s", line, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(defaultDataDir, sqlite.FileName)); err != nil {
		t.Fatalf("the setup did not work on the default store: %v", err)
	}
	// The base URL is pinned by the registration: the server and later commands keep to it.
	delete(c.env, "ROLEGATE_BASE_URL")
	if out := c.serve(t).stop(t); !strings.HasPrefix(out, "Rolegate is running at https://idp.example.com\n") {
		t.Fatalf("serve after the setup printed\n%s", out)
	}
}
