package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rolegate/certs"
	"rolegate/idp"
	"rolegate/store/sqlite"
)

// refused checks that a command line fails with exitInvalid and one line on stderr containing frag.
func refused(t *testing.T, c *cli, args []string, frag string) {
	t.Helper()
	r := c.run("", args...)
	if r.code != exitInvalid || !strings.HasPrefix(r.stderr, "rolegate: ") || strings.Count(r.stderr, "\n") != 1 ||
		!strings.Contains(r.stderr, frag) {
		t.Errorf("rolegate %s: exit %d, stderr %q; want exit %d and one line with %q", strings.Join(args, " "), r.code, r.stderr, exitInvalid, frag)
	}
}

func TestServeRefusesPlainHTTPToAnotherHostAndProxiesThatSpanTheInternet(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		serve := func(extra ...string) []string { return append([]string{"serve", "--addr", "127.0.0.1:0"}, extra...) }
		refused(t, c, serve("--base-url", "http://idp.example.com"), "--insecure-http")
		refused(t, c, serve("--base-url", "http://10.0.0.5:8080"), "--insecure-http")
		refused(t, c, serve("--trusted-proxies", "10.0.0.0/8, 0.0.0.0/0"), `trusted proxy "0.0.0.0/0" covers much of the internet`)
		refused(t, c, serve("--trusted-proxies", "::/0"), `"::/0"`)
		// An empty query or fragment, or white space, would be part of the entity ID: BASE#/saml/metadata.
		for _, base := range []string{"https://idp.example.com#", "https://idp.example.com?", "https://idp.example.com/a b", "https://idp.example.com/\t"} {
			refused(t, c, serve("--base-url", base), "invalid base URL")
		}
		c.env[envInsecureHTTP] = "maybe"
		refused(t, c, serve("--base-url", "http://idp.example.com"), `invalid ROLEGATE_INSECURE_HTTP "maybe"`)
		delete(c.env, envInsecureHTTP)
		// A rate limit that limits nothing, or lets no office in, is refused; so is one that is not a number.
		refused(t, c, serve("--rate-burst", "0"), "invalid rate burst 0")
		refused(t, c, serve("--rate-burst", "1000000"), "invalid rate burst")
		refused(t, c, serve("--rate-per-second", "0"), "invalid rate per second")
		refused(t, c, serve("--rate-per-second", "NaN"), "invalid rate per second")
		c.env["ROLEGATE_RATE_BURST"] = "lots"
		refused(t, c, serve(), `invalid ROLEGATE_RATE_BURST "lots"`)
		delete(c.env, "ROLEGATE_RATE_BURST")
		c.env["ROLEGATE_RATE_PER_SECOND"] = "-1"
		refused(t, c, serve(), "invalid rate per second -1")
		delete(c.env, "ROLEGATE_RATE_PER_SECOND")
		if _, err := os.Stat(c.dataDir); !os.IsNotExist(err) {
			t.Errorf("a refused serve created the data directory (stat: %v)", err)
		}

		// Loopback needs no flag; another host needs it said, by flag or environment.
		for _, tc := range []struct {
			base string
			env  string
			args []string
		}{
			{"http://localhost:9", "", nil},
			{"http://127.0.0.2:9", "", nil},
			{"http://[::1]:9", "", nil},
			{"http://idp.example.com", "", []string{"--insecure-http"}},
			{"http://idp.example.com", "true", nil},
		} {
			c.env[envInsecureHTTP] = tc.env
			// Each start names another entity ID than the last one pinned: said on purpose.
			srv := c.serve(t, append([]string{"--base-url", tc.base, "--change-entity-id"}, tc.args...)...)
			srv.get(t, "/healthz")
			srv.stop(t)
		}
		delete(c.env, envInsecureHTTP)
	})
}

func TestADataDirOrDatabaseOthersMayWriteIsRefused(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "migrate")
		os.MkdirAll(c.dataDir, 0o700) // on PostgreSQL only serve makes it, for the KEK
		if err := os.Chmod(c.dataDir, 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, c, []string{"user", "list"}, "data directory "+c.dataDir+" has mode 0777, writable by group or others: run `chmod go-w "+c.dataDir+"`")
		if err := os.Chmod(c.dataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if c.backend == "sqlite" {
			db := filepath.Join(c.dataDir, sqlite.FileName)
			if err := os.Chmod(db, 0o620); err != nil {
				t.Fatal(err)
			}
			refused(t, c, []string{"user", "list"}, "database file "+db+" has mode 0620")
			if err := os.Chmod(db, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// The key-encryption key in the data dir, once a server made it, must stay private too.
		delete(c.env, certs.EnvKEKFile) // on PostgreSQL, a first serve makes it there too
		c.serve(t).stop(t)
		kek := filepath.Join(c.dataDir, "kek")
		if err := os.Chmod(kek, 0o602); err != nil {
			t.Fatal(err)
		}
		refused(t, c, []string{"serve", "--addr", "127.0.0.1:0"}, "key-encryption key file "+kek+" has mode 0602")
	})
}

func TestADataDirWithHashOrQuestionMarkOpensTheFileInsideIt(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a#b", "a?b", "a%3Fb", "a b?mode=ro#x"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			c := &cli{backend: "sqlite", dataDir: filepath.Join(parent, name, "data"), env: map[string]string{}}
			c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
			if _, err := os.Stat(filepath.Join(c.dataDir, sqlite.FileName)); err != nil {
				t.Fatalf("the database is not inside the data dir: %v", err)
			}
			entries, _ := os.ReadDir(parent)
			if len(entries) != 1 || entries[0].Name() != name {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("the parent holds %q; want only %q (a cut-off path opened another file)", names, name)
			}
			if _, ok := c.users(t)["alice"]; !ok {
				t.Fatal("alice is not in the store the next command opens")
			}
		})
	}
}

func TestDockerComposePublishesOnLoopbackUnlessTold(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var ports int
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "ports:":
			in = true
		case in && strings.HasPrefix(trimmed, "- "):
			ports++
			if !strings.HasPrefix(strings.Trim(strings.TrimPrefix(trimmed, "- "), `"`), "${ROLEGATE_PUBLISH:-127.0.0.1}:") {
				t.Errorf("docker-compose.yml publishes %s on every interface by default", trimmed)
			}
		case in && !strings.HasPrefix(trimmed, "#"):
			in = false
		}
	}
	if ports == 0 {
		t.Fatal("docker-compose.yml publishes no port: the check read nothing")
	}
}

func TestUserPasswdReplacesAnExpiringOneTimePassword(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.serve(t).stop(t) // creates admin with a one-time password
		type listed struct {
			Name              string     `json:"name"`
			MustChange        bool       `json:"must_change_password"`
			PasswordExpiresAt *time.Time `json:"password_expires_at"`
		}
		var before []listed
		c.list(t, &before, "user", "list", "--json")
		if len(before) != 1 || !before[0].MustChange || before[0].PasswordExpiresAt == nil ||
			time.Until(*before[0].PasswordExpiresAt) > idp.OneTimePasswordTTL {
			t.Fatalf("users after the first serve %+v; want admin with a one-time password and its expiry", before)
		}
		c.ok(t, goodPassword+"\n", "user", "passwd", "admin", "--password-stdin", "--must-change=false")
		var after []listed
		c.list(t, &after, "user", "list", "--json")
		if len(after) != 1 || after[0].MustChange || after[0].PasswordExpiresAt != nil {
			t.Fatalf("users after user passwd %+v; want admin with a password that neither must change nor expires", after)
		}
	})
}
