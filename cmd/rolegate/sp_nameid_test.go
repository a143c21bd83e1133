package main

import (
	"strings"
	"testing"
)

func TestAnSPsNameIDFormatIsFixedAndFreedFromTheCLI(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		format := func(entityID string) string {
			t.Helper()
			for _, sp := range c.sps(t) {
				if sp.EntityID == entityID {
					return sp.NameIDFormat
				}
			}
			t.Fatalf("%s is not listed", entityID)
			return ""
		}
		c.ok(t, "", "sp", "add", "--metadata", writeFile(t, "wiki.xml", spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS})), "--nameid-format", "Transient")
		c.ok(t, spMetadata("urn:example:chat", [2]string{"HTTP-POST", "https://chat.example.com/acs"}), "sp", "add", "--metadata", "-")
		if got := format(wikiID); got != "transient" {
			t.Fatalf("added with --nameid-format Transient: %q", got)
		}
		if got := format("urn:example:chat"); got != "unspecified" {
			t.Fatalf("added without --nameid-format: %q", got)
		}
		for _, st := range []struct{ flag, out, state string }{
			{"emailAddress", "emailAddress NameIDs only", "emailAddress"},
			{"persistent", "persistent NameIDs only", "persistent"},
			{"unspecified", "NameID format as requested (persistent by default)", "unspecified"},
		} {
			out := c.ok(t, "", "sp", "set", wikiID, "--nameid-format", st.flag)
			if !strings.Contains(out, st.out) {
				t.Fatalf("sp set --nameid-format %s printed %q; want %q", st.flag, out, st.out)
			}
			if got := format(wikiID); got != st.state {
				t.Fatalf("after --nameid-format %s: %q", st.flag, got)
			}
		}
		c.ok(t, "", "sp", "set", wikiID, "--nameid-format", "emailaddress")
		table := c.ok(t, "", "sp", "list")
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 3 || !strings.Contains(lines[1], wikiID) || !strings.Contains(lines[1], "  emailAddress  ") || !strings.Contains(lines[2], "  unspecified  ") {
			t.Fatalf("sp list printed:\n%s", table)
		}
		// Adding the same SP again is a no-op only with the same format.
		md := writeFile(t, "wiki2.xml", spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS}))
		if r := c.run("", "sp", "add", "--metadata", md, "--nameid-format", "transient", "--if-not-exists"); r.code == 0 {
			t.Fatalf("sp add --if-not-exists with another format succeeded: %q", r.stdout)
		}
	})
}
