package main

import (
	"bytes"
	"strings"
	"testing"
)

// openPTY is in secret_test.go.
func TestARemoveOnATerminalAsksFirst(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	c.ok(t, "", "user", "add", "alice", "--no-password")
	c.ok(t, "", "group", "add", "devs")
	c.ok(t, "", "group", "add-member", "devs", "alice")
	for _, cc := range []struct {
		answer string
		code   int
		gone   bool
	}{
		{"\n", exitInvalid, false}, {"no\n", exitInvalid, false}, {"maybe\n", exitInvalid, false}, {"y\n", 0, true},
	} {
		main, term := openPTY(t)
		if _, err := main.WriteString(cc.answer); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run(c.context(), c.args("user", "remove", "alice"), term, &stdout, &stderr, c.getenv)
		if code != cc.code || !strings.Contains(stderr.String(), "also removes 1 membership (devs)") || !strings.Contains(stderr.String(), "Remove? [y/N]") {
			t.Errorf("answering %q: exit %d, stderr %q; want exit %d after a question naming the membership", cc.answer, code, stderr.String(), cc.code)
		}
		r := c.run("", "user", "list", "-o", "name")
		if gone := !strings.Contains(r.stdout, "alice"); gone != cc.gone {
			t.Errorf("answering %q: alice gone = %v, want %v", cc.answer, gone, cc.gone)
		}
	}
}
