package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestServeLogsAtTheLevelTheOperatorChose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                  string
		flag, env             string
		requests, failedLogin bool
	}{
		{"the default, info, has requests and failed sign-ins", "", "", true, true},
		{"--log-level warn has neither", "warn", "", false, false},
		{"ROLEGATE_LOG_LEVEL=error has neither", "", "error", false, false},
		{"the flag wins over the environment", "INFO", "error", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t, "sqlite")
			c.ok(t, goodPassword+"\n", "user", "add", "alice", "--password-stdin", "--must-change=false")
			if tc.env != "" {
				c.env[envLogLevel] = tc.env
			}
			var extra []string
			if tc.flag != "" {
				extra = []string{"--log-level", tc.flag}
			}
			srv := c.serve(t, extra...)
			if _, res := signIn(t, srv.url, "alice", "wrong-password-typed"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a wrong password: %d", res.StatusCode)
			}
			srv.get(t, "/healthz")
			srv.stop(t)
			logs := srv.stderr.String()
			if got := strings.Contains(logs, `"msg":"request"`); got != tc.requests {
				t.Errorf("request lines logged: %v, want %v\n%s", got, tc.requests, logs)
			}
			failed := strings.Contains(logs, `"msg":"sign-in failed"`) && strings.Contains(logs, `"user":"alice"`) &&
				strings.Contains(logs, `"reason":"bad_credentials"`)
			if failed != tc.failedLogin {
				t.Errorf("the failed sign-in logged with user and reason: %v, want %v\n%s", failed, tc.failedLogin, logs)
			}
			if strings.Contains(logs, "wrong-password-typed") {
				t.Errorf("the typed password is in the log:\n%s", logs)
			}
		})
	}
}

func TestAnUnknownLogLevelIsRefusedBeforeServing(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve", "--log-level", "loud"}, {"serve", "--log-level", "info+2"}} {
		c := newCLI(t, "sqlite")
		r := c.run("", args...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, "use debug, info, warn or error") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want one line naming the levels", args, r.code, r.stderr)
		}
	}
	c := newCLI(t, "sqlite")
	c.env[envLogLevel] = "verbose"
	if r := c.run("", "serve"); r.code != exitInvalid || !strings.Contains(r.stderr, `"verbose"`) {
		t.Errorf("ROLEGATE_LOG_LEVEL=verbose: exit %d, stderr %q", r.code, r.stderr)
	}
}
