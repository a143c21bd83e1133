package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"rolegate/idp/password"
)

func TestAUserAddedByTheCLISurvivesARestart(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		out := c.ok(t, goodPassword+"\n", "user", "add", "alice", "--email", "alice@example.com",
			"--attr", "team=platform", "--password-stdin", "--must-change=false")
		if !strings.Contains(out, "added user alice") {
			t.Errorf("user add printed %q, want it to name the added user", out)
		}

		first := c.serve(t)
		for _, path := range []string{"/healthz", "/readyz", "/saml/metadata"} {
			body := first.get(t, path)
			if path == "/saml/metadata" {
				if n := len(metadataCerts(t, body)); n != 1 {
					t.Errorf("metadata lists %d signing certificates, want 1", n)
				}
				if !strings.Contains(body, `/saml/metadata"`) || !strings.Contains(body, "entityID=") {
					t.Errorf("metadata has no entityID ending in /saml/metadata:\n%s", body)
				}
			}
		}
		if out := first.stop(t); strings.Contains(out, "one-time password") {
			t.Errorf("the first serve created a bootstrap admin although alice exists:\n%s", out)
		}

		second := c.serve(t)
		second.get(t, "/readyz")
		if out := second.stop(t); strings.Contains(out, "one-time password") {
			t.Errorf("the second serve created a bootstrap admin:\n%s", out)
		}

		users := c.users(t)
		alice, ok := users["alice"]
		if !ok {
			t.Fatalf("alice is gone after two restarts; users: %+v", users)
		}
		if alice.Email != "alice@example.com" || alice.Attributes["team"] != "platform" || len(alice.Attributes) != 1 ||
			!alice.HasPassword || alice.Disabled || alice.MustChangePassword || len(alice.Groups) != 0 {
			t.Errorf("alice after restarts = %+v; want email alice@example.com, attributes {team: platform}, a password, enabled, in no group", alice)
		}
		if _, ok := users["admin"]; ok || len(users) != 1 {
			t.Errorf("users after restarts = %v; want only alice (no bootstrap admin on a store that has a user)", keysOf(users))
		}
	})
}

// secretFileRE finds the file a serve whose stdout is no terminal wrote a new password to.
var secretFileRE = regexp.MustCompile(`the password is in (\S+) \(mode 0600\)`)

func TestTheFirstServeWritesTheAdminPasswordToAPrivateFileWhenStdoutIsNoTerminal(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		first := c.serve(t)
		first.get(t, "/healthz")
		out := first.stop(t)
		shown := secretFileRE.FindAllStringSubmatch(out, -1)
		if len(shown) != 1 || !strings.Contains(out, `"admin"`) || !strings.Contains(out, "one-time password") {
			t.Fatalf("the first serve named %d password files, want 1, for the admin's one-time password:\n%s", len(shown), out)
		}
		path := shown[0][1]
		if path != filepath.Join(c.dataDir, "initial-admin-password") {
			t.Errorf("the password file is %s, want initial-admin-password in the data dir", path)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("the password file: %v, mode %v; want 0600", err, fi)
		}
		raw, _ := os.ReadFile(path)
		pw := strings.TrimSpace(string(raw))
		if len(pw) < 20 || strings.Contains(out, pw) {
			t.Fatalf("the password %q is too short, or was printed to a stdout that a log collector may keep:\n%s", pw, out)
		}

		second := c.serve(t)
		second.get(t, "/healthz")
		if out := second.stop(t); strings.Contains(out, "one-time password") {
			t.Errorf("the second serve showed a one-time password again:\n%s", out)
		}

		st := c.openStore(t)
		admin, err := st.GetUser(context.Background(), "admin")
		if err != nil {
			t.Fatalf("GetUser(admin): %v", err)
		}
		ok, _, err := password.New(password.DefaultParams, 1).Verify(context.Background(), pw, admin.PasswordHash)
		if err != nil || !ok {
			t.Errorf("the shown password does not verify against admin's stored hash: ok=%v err=%v", ok, err)
		}
		if !admin.MustChangePassword {
			t.Errorf("admin's bootstrap password is not marked as one to change")
		}
		if left := time.Until(admin.PasswordExpiresAt); left <= 23*time.Hour || left > 24*time.Hour {
			t.Errorf("admin's one-time password expires in %s; want 24h", left)
		}
		if users := c.users(t); len(users) != 1 || !users["admin"].HasPassword || !users["admin"].MustChangePassword {
			t.Errorf("users after two serves = %+v; want admin only, with a password to change", users)
		}
	})
}

func TestAdminCommandsWorkWhileAServerRunsOnTheSameStore(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		srv := c.serve(t)
		srv.get(t, "/readyz")

		c.ok(t, goodPassword+"\n", "user", "add", "carol", "--password-stdin", "--must-change=false")
		c.ok(t, "", "group", "add", "ops")
		c.ok(t, "", "group", "add-member", "ops", "carol")
		carol, ok := c.users(t)["carol"]
		if !ok || !slices.Equal(carol.Groups, []string{"ops"}) || !carol.HasPassword {
			t.Errorf("carol while the server runs = %+v (found %v); want her with a password, in group ops", carol, ok)
		}

		srv.get(t, "/readyz") // the server still reaches its store
		srv.stop(t)
	})
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// startingLine returns the JSON of the log line that serve writes when it starts.
func startingLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "starting" {
			return rec
		}
	}
	t.Fatalf("serve logged no starting line:\n%s", stderr)
	return nil
}

func TestServeRequiresMFAFromTheFlagOrTheEnvironment(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		for _, s := range []struct {
			name string
			env  string
			args []string
			want bool
		}{
			{"by default MFA is not required everywhere", "", nil, false},
			{"the flag requires it", "", []string{"--require-mfa"}, true},
			{"the environment requires it", "true", nil, true},
			{"the flag overrides the environment", "true", []string{"--require-mfa=false"}, false},
		} {
			t.Run(s.name, func(t *testing.T) {
				c.env[envRequireMFA] = s.env
				defer delete(c.env, envRequireMFA)
				srv := c.serve(t, s.args...)
				srv.stop(t)
				if got := startingLine(t, srv.stderr.String())["require_mfa"]; got != s.want {
					t.Errorf("the starting line logs require_mfa %v, want %v", got, s.want)
				}
			})
		}
	})
}

func TestServeRefusesABadRequireMFASettingBeforeTouchingTheStore(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		for _, s := range []struct {
			name, env string
			args      []string
			frag      string
		}{
			{"in the environment", "maybe", nil, `invalid ROLEGATE_REQUIRE_MFA "maybe": use true or false`},
			{"in the flag", "", []string{"--require-mfa=maybe"}, `"maybe"`},
		} {
			t.Run(s.name, func(t *testing.T) {
				c.env[envRequireMFA] = s.env
				defer delete(c.env, envRequireMFA)
				r := c.run("", append([]string{"serve", "--addr", "127.0.0.1:0"}, s.args...)...)
				if r.code != exitInvalid || r.stdout != "" || !strings.HasPrefix(r.stderr, "rolegate: ") || strings.Count(r.stderr, "\n") != 1 ||
					!strings.Contains(r.stderr, s.frag) {
					t.Errorf("serve: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", r.code, r.stdout, r.stderr, exitInvalid, s.frag)
				}
				if _, err := os.Stat(c.dataDir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a refused serve created the data directory (stat: %v)", err)
				}
			})
		}
	})
}
