package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rolegate/assertions"
	"rolegate/awslogin"
	"rolegate/awslogin/logintest"
	"rolegate/awstest/ststest"
	"rolegate/store"
)

// loginRig is an ECP stand-in and an STS stand-in trusting it, for `rolegate login`.
type loginRig struct {
	idp  *logintest.IdP
	sts  *ststest.Server
	file string
	env  map[string]string
}

func rolePair(account, role string) assertions.RolePair {
	return assertions.RolePair{RoleARN: assertions.ARN(store.PartitionAWS, account, "role/"+role),
		ProviderARN: assertions.ARN(store.PartitionAWS, account, "saml-provider/Rolegate")}
}

func newLoginRig(t *testing.T) *loginRig {
	t.Helper()
	idp := logintest.NewIdP(t, map[string]logintest.User{
		"alice": {Password: goodPassword, Roles: []assertions.RolePair{rolePair("111122223333", "admin")}},
		"bob":   {Password: goodPassword, OTP: "246810", Roles: []assertions.RolePair{rolePair("111122223333", "dev"), rolePair("444455556666", "dev")}},
	})
	idp.Aliases = map[string]string{"111122223333": "prod", "444455556666": "staging"}
	r := &loginRig{idp: idp, sts: ststest.New(t, ststest.Config{MetadataURL: idp.URL + "/saml/metadata"}), file: filepath.Join(t.TempDir(), "credentials")}
	r.env = map[string]string{"AWS_SHARED_CREDENTIALS_FILE": r.file, "AWS_ENDPOINT_URL_STS": r.sts.Endpoint, "AWS_CA_BUNDLE": r.sts.CAFile}
	return r
}

// run runs `rolegate login --ecp --url IDP` with args and stdin; no terminal.
func (r *loginRig) run(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	full := append([]string{"login", "--ecp", "--url", r.idp.URL}, args...)
	code := run(context.Background(), full, strings.NewReader(stdin), &out, &errOut, func(k string) string { return r.env[k] })
	return code, out.String(), errOut.String()
}

func TestLoginCommand(t *testing.T) {
	t.Run("a script logs in with the password on standard input", func(t *testing.T) {
		r := newLoginRig(t)
		code, out, errOut := r.run(goodPassword+"\n", "--username", "alice", "--password-stdin", "--profile", "ci")
		if code != 0 || !strings.Contains(out, "profile ci in "+r.file+": 111122223333 admin, until ") {
			t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
		}
		iss := r.sts.Issued()
		b, _ := os.ReadFile(r.file)
		if len(iss) != 1 || !strings.Contains(string(b), "[ci]\n") || !strings.Contains(string(b), "aws_session_token = "+iss[0].SessionToken) {
			t.Fatalf("credentials file:\n%s", b)
		}
	})
	t.Run("the environment gives username, password and one-time code; --account and --role pick", func(t *testing.T) {
		r := newLoginRig(t)
		r.env["ROLEGATE_USERNAME"], r.env["ROLEGATE_PASSWORD"], r.env["ROLEGATE_OTP"] = "bob", goodPassword, "246810"
		r.env["AWS_PROFILE"] = "from-env"
		code, out, errOut := r.run("", "--account", "staging", "--role", "dev", "--duration", "15m")
		if code != 0 || !strings.Contains(out, "profile from-env in ") || !strings.Contains(out, "staging (444455556666) dev") {
			t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
		}
		if iss := r.sts.Issued(); iss[0].DurationSeconds != 900 || !strings.Contains(iss[0].RoleArn, "444455556666") {
			t.Fatalf("STS got %+v", iss)
		}
		if h := r.idp.Requests()[0]; h.Get("X-Rolegate-Account") != "staging" || h.Get("X-Rolegate-OTP") != "246810" {
			t.Fatalf("ECP headers %v", h)
		}
	})
	t.Run("the one-time code may follow the password on standard input", func(t *testing.T) {
		r := newLoginRig(t)
		code, _, errOut := r.run(goodPassword+"\n246810\n", "--username", "bob", "--password-stdin", "--account", "prod")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

func TestLoginCommandRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*loginRig)
		stdin string
		args  []string
		exit  int
		words []string
	}{
		{name: "without --url", args: []string{"--url", ""}, exit: 2, words: []string{"needs --url"}},
		{name: "a wrong password exits unauthorized", stdin: "wrong\n", args: []string{"--username", "alice", "--password-stdin"},
			exit: 3, words: []string{"wrong username or password"}},
		{name: "a missing one-time code exits unauthorized and says how to give one", args: []string{"--username", "bob", "--password-stdin", "--account", "prod"},
			stdin: goodPassword + "\n", exit: 3, words: []string{"one-time code", "ROLEGATE_OTP"}},
		{name: "a wrong one-time code exits unauthorized", args: []string{"--username", "bob", "--password-stdin", "--account", "prod"},
			stdin: goodPassword + "\n000000\n", exit: 3, words: []string{"one-time code was refused"}},
		{name: "throttling exits unauthorized with the wait", setup: func(r *loginRig) { r.idp.RetryAfter = time.Minute },
			stdin: goodPassword + "\n", args: []string{"--username", "alice", "--password-stdin"}, exit: 3, words: []string{"wait 1m0s"}},
		{name: "an ungranted account exits forbidden", stdin: goodPassword + "\n", args: []string{"--username", "alice", "--password-stdin", "--account", "staging"},
			exit: 4, words: []string{"no role", "grant"}},
		{name: "several roles without a terminal exit invalid naming them", stdin: goodPassword + "\n246810\n", args: []string{"--username", "bob", "--password-stdin"},
			exit: 2, words: []string{"several roles", "111122223333 dev", "444455556666 dev"}},
		{name: "a trust policy that does not trust the provider exits forbidden", setup: func(r *loginRig) {
			r.sts.Configure(func(c *ststest.Config) { c.Untrusted = []string{rolePair("111122223333", "admin").RoleARN} })
		}, stdin: goodPassword + "\n", args: []string{"--username", "alice", "--password-stdin"}, exit: 4, words: []string{"trust policy"}},
		{name: "a duration over the role's maximum exits invalid", stdin: goodPassword + "\n", args: []string{"--username", "alice", "--password-stdin", "--duration", "2h"},
			exit: 2, words: []string{"shorter --duration"}},
		{name: "a duration AWS never accepts exits invalid before signing in", args: []string{"--username", "alice", "--duration", "13h"}, exit: 2, words: []string{"duration"}},
		{name: "a profile with long-term keys exits conflict", setup: func(r *loginRig) {
			os.WriteFile(r.file, []byte("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n"), 0o600)
		}, stdin: goodPassword + "\n", args: []string{"--username", "alice", "--password-stdin"}, exit: 6, words: []string{"long-term access keys"}},
		{name: "two ways at once", args: []string{"--browser"}, exit: 2, words: []string{"choose one way to sign in"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newLoginRig(t)
			if c.setup != nil {
				c.setup(r)
			}
			before, _ := os.ReadFile(r.file)
			code, out, errOut := r.run(c.stdin, c.args...)
			if code != c.exit || out != "" {
				t.Fatalf("exit %d (want %d), out %q, err %q", code, c.exit, out, errOut)
			}
			for _, w := range c.words {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
			if after, _ := os.ReadFile(r.file); !bytes.Equal(before, after) {
				t.Fatalf("the credentials file changed after a refusal:\n%s", after)
			}
		})
	}
}

func TestLoginModeFollowsTheFlagElseTheDisplay(t *testing.T) {
	cases := []struct {
		name                 string
		ecp, browser, device bool
		env                  map[string]string
		goos, want           string
	}{
		{name: "a Linux desktop opens the browser", env: map[string]string{"DISPLAY": ":0"}, goos: "linux", want: "browser"},
		{name: "Wayland opens the browser", env: map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, goos: "linux", want: "browser"},
		{name: "SSH without a display uses the device code", env: map[string]string{"SSH_CONNECTION": "192.0.2.1 5000 192.0.2.2 22"}, goos: "linux", want: "device-code"},
		{name: "SSH with X forwarding opens the browser", env: map[string]string{"SSH_CONNECTION": "x", "DISPLAY": "localhost:10.0"}, goos: "linux", want: "browser"},
		{name: "a Linux console without a display uses the device code", goos: "linux", want: "device-code"},
		{name: "a Mac opens the browser", goos: "darwin", want: "browser"},
		{name: "SSH into a Mac uses the device code", env: map[string]string{"SSH_TTY": "/dev/ttys001"}, goos: "darwin", want: "device-code"},
		{name: "--device-code wins over a display", device: true, env: map[string]string{"DISPLAY": ":0"}, goos: "linux", want: "device-code"},
		{name: "--browser wins over SSH", browser: true, env: map[string]string{"SSH_CONNECTION": "x"}, goos: "linux", want: "browser"},
		{name: "--ecp", ecp: true, goos: "linux", want: "ecp"},
		{name: "two flags are refused", ecp: true, device: true, goos: "linux", want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := loginMode(c.ecp, c.browser, c.device, func(k string) string { return c.env[k] }, c.goos)
			if got != c.want || (c.want == "") != (err != nil) {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// A login the IdP gave no CLI session replaces the profile's earlier state all the same:
// credential-process then serves this login's credentials until they expire, never the earlier
// login's role and keys (nor refreshes them through its session).
func TestLoginWithoutACLISessionReplacesTheProfilesOldState(t *testing.T) {
	r := newLoginRig(t)
	r.env["XDG_CONFIG_HOME"] = filepath.Join(t.TempDir(), "config")
	stale := &awslogin.State{URL: "https://old.example", Session: &awslogin.Session{ID: "cs_old", Token: "old-token", Expires: time.Now().Add(time.Hour)},
		Account: "999988887777", RoleARN: "arn:aws:iam::999988887777:role/old", RoleName: "old",
		Creds: &awslogin.Credentials{AccessKeyID: "ASIAOLDOLDOLDOLDOLD1", SecretAccessKey: "old", SessionToken: "old", Expiration: time.Now().Add(time.Hour)}}
	if err := awslogin.SaveState(func(k string) string { return r.env[k] }, "ci", stale); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := r.run(goodPassword+"\n", "--username", "alice", "--password-stdin", "--profile", "ci")
	if code != 0 || !strings.Contains(errOut, "issued no Rolegate session") {
		t.Fatalf("login: exit %d, stderr %q", code, errOut)
	}
	var out, errBuf bytes.Buffer
	code = run(context.Background(), []string{"credential-process", "--profile", "ci"}, strings.NewReader(""), &out, &errBuf, func(k string) string { return r.env[k] })
	if iss := r.sts.Issued(); code != 0 || !strings.Contains(out.String(), `"AccessKeyId":"`+iss[0].AccessKeyID+`"`) {
		t.Fatalf("credential-process: exit %d, stdout %q, stderr %q", code, out.String(), errBuf.String())
	}
}
