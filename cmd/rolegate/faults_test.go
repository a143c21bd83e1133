package main

import (
	"net"
	"strings"
	"testing"
)

// exitUnavailable is the exit status of the database unavailable (exitCodes in main.go).
const exitUnavailable = 7

func TestServeRefusesAShutdownTimeoutThatBoundsNothing(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	for _, tc := range []struct {
		flag, env, frag string
	}{
		{"0s", "", "invalid shutdown timeout 0s"},
		{"-5s", "", "invalid shutdown timeout -5s"},
		{"", "soon", `invalid ROLEGATE_SHUTDOWN_TIMEOUT "soon"`},
		{"", "0", "invalid shutdown timeout 0s"},
	} {
		args := []string{"serve", "--addr", "127.0.0.1:0"}
		if tc.flag != "" {
			args = append(args, "--shutdown-timeout", tc.flag)
		}
		c.env["ROLEGATE_SHUTDOWN_TIMEOUT"] = tc.env
		refused(t, c, args, tc.frag)
	}
}

// A PostgreSQL that cannot be reached is the unavailable exit status and one line that names it;
// the cause follows for the operator.
func TestCommandsOnAnUnreachablePostgreSQLExitUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := newCLI(t, "sqlite")
	c.dbURL = "postgres://rolegate@" + addr + "/rolegate?sslmode=disable&connect_timeout=5"
	for _, args := range [][]string{{"user", "list"}, {"serve", "--addr", "127.0.0.1:0"}} {
		r := c.run("", args...)
		if r.code != exitUnavailable || strings.Count(r.stderr, "\n") != 1 ||
			!strings.HasPrefix(r.stderr, "rolegate: cannot reach PostgreSQL at 127.0.0.1:"+addr[strings.LastIndex(addr, ":")+1:]+"/rolegate: ") {
			t.Errorf("rolegate %s: exit %d, stderr %q; want exit %d and one line naming the server", strings.Join(args, " "), r.code, r.stderr, exitUnavailable)
		}
	}
}
