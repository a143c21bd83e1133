package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"rolegate/store"
)

// spPolicy is an SP's release list and access as `sp list --json` shows them.
func (c *cli) spPolicy(t *testing.T, entityID string) string {
	t.Helper()
	for _, sp := range c.sps(t) {
		if sp.EntityID == entityID {
			if sp.Release == nil || sp.AllowedGroups == nil {
				t.Fatalf("sp list --json gives null for an empty list: %+v", sp)
			}
			return "release=" + strings.Join(sp.Release, ",") + " groups=" + strings.Join(sp.AllowedGroups, ",") +
				map[bool]string{true: " restricted", false: " open"}[sp.Restricted]
		}
	}
	t.Fatalf("%s is not listed", entityID)
	return ""
}

func TestSPReleaseListAndAllowedGroupsAreSetFromTheCLI(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "group", "add", "ops")
		c.ok(t, "", "group", "add", "devs")
		c.ok(t, "", "sp", "add", "--metadata", writeFile(t, "wiki.xml", spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS})),
			"--release", "groups,email", "--allow-group", "OPS")
		c.ok(t, spMetadata("urn:example:chat", [2]string{"HTTP-POST", "https://chat.example.com/acs"}), "sp", "add", "--metadata", "-")
		if got := c.spPolicy(t, wikiID); got != "release=email,groups groups=ops restricted" {
			t.Fatalf("wiki added with --release and --allow-group: %s", got)
		}
		if got := c.spPolicy(t, "urn:example:chat"); got != "release= groups= open" {
			t.Fatalf("an SP added without flags: %s; want no attributes and open to everyone", got)
		}

		steps := []struct {
			args       []string
			out, state string
		}{
			{[]string{"--release", "none"}, "releases no attributes; open to members of ops", "release= groups=ops restricted"},
			{[]string{"--release", " username, EMAIL ,email"}, "releases email,username; open to members of ops", "release=email,username groups=ops restricted"},
			{[]string{"--release", ""}, "releases no attributes; open to members of ops", "release= groups=ops restricted"},
			{[]string{"--allow-group", "devs", "--allow-group", "ops"}, "open to members of devs,ops", "release= groups=devs,ops restricted"},
			{[]string{"--remove-allow-group", "OPS"}, "open to members of devs", "release= groups=devs restricted"},
			// Taking the last group off does not open the SP: that needs --clear-allow-groups.
			{[]string{"--remove-allow-group", "devs"}, "open to no one", "release= groups= restricted"},
			{[]string{"--clear-allow-groups"}, "open to everyone", "release= groups= open"},
			{[]string{"--clear-allow-groups", "--allow-group", "devs", "--release", "name"}, "releases name; open to members of devs", "release=name groups=devs restricted"},
		}
		for _, st := range steps {
			out := c.ok(t, "", append([]string{"sp", "set", wikiID}, st.args...)...)
			if !strings.HasPrefix(out, "updated service provider "+wikiID+": ") || !strings.Contains(out, ": "+st.out+";") && !strings.Contains(out, "; "+st.out+";") || strings.Count(out, "\n") != 1 {
				t.Fatalf("sp set %q printed %q; want it to say %q", st.args, out, st.out)
			}
			if got := c.spPolicy(t, wikiID); got != st.state {
				t.Fatalf("after sp set %q: %s; want %s", st.args, got, st.state)
			}
		}

		// Deleting the only allowed group leaves the SP open to no one, and the table says so.
		c.ok(t, "", "group", "remove", "--yes", "devs")
		if got := c.spPolicy(t, wikiID); got != "release=name groups= restricted" {
			t.Fatalf("after the only allowed group was deleted: %s", got)
		}
		table := c.ok(t, "", "sp", "list")
		lines := strings.Split(strings.TrimSpace(table), "\n")
		if len(lines) != 3 || !strings.Contains(lines[1], wikiID) || !strings.Contains(lines[1], "  name  ") || !strings.Contains(lines[1], "no-one") ||
			!strings.Contains(lines[2], "everyone") {
			t.Fatalf("sp list printed:\n%s", table)
		}

		events, err := c.openStore(t).ListAudit(context.Background(), store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		sets := 0
		for _, e := range events {
			if e.Type == "sp.set" {
				sets++
				if e.Details["entity_id"] != wikiID || e.Result != "ok" {
					t.Errorf("audit %+v", e)
				}
			}
			if e.Type == "sp.add" && e.Details["entity_id"] == wikiID && (e.Details["release"] != "email,groups" || e.Details["allowed_groups"] != "ops") {
				t.Errorf("sp.add audit %+v", e.Details)
			}
		}
		if sets != len(steps) {
			t.Errorf("%d sp.set audit events; want %d", sets, len(steps))
		}
	})
}

func TestBadSPPolicyInputIsRefusedWithOneLineAndChangesNothing(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "group", "add", "ops")
		c.ok(t, "", "group", "add", "devs")
		c.ok(t, "", "sp", "add", "--metadata", writeFile(t, "wiki.xml", spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS})),
			"--release", "email", "--allow-group", "ops")
		snapshot := func() string {
			raw, _ := json.Marshal(c.sps(t))
			return string(raw)
		}
		before := snapshot()
		chat := spMetadata("urn:example:chat", [2]string{"HTTP-POST", "https://chat.example.com/acs"})
		cases := []struct {
			name  string
			stdin string
			args  []string
			code  int
			frag  string
		}{
			{"an unknown attribute", "", []string{"sp", "set", wikiID, "--release", "email,password"}, exitInvalid, `unknown attribute "password" to release: use email, name, username, groups`},
			{"a SAML name rather than a release word", "", []string{"sp", "set", wikiID, "--release", "mail"}, exitInvalid, `unknown attribute "mail"`},
			{"none mixed with names", "", []string{"sp", "set", wikiID, "--release", "email,none"}, exitInvalid, `unknown attribute "none"`},
			{"an empty name in the list", "", []string{"sp", "set", wikiID, "--release", "email,,groups"}, exitInvalid, `unknown attribute ""`},
			{"an unknown group", "", []string{"sp", "set", wikiID, "--allow-group", "nobody"}, exitNotFound, `group "nobody" not found`},
			{"an unknown group with a good release list", "", []string{"sp", "set", wikiID, "--release", "groups", "--allow-group", "devs", "--allow-group", "nobody"},
				exitNotFound, `group "nobody" not found`},
			{"a malformed group name", "", []string{"sp", "set", wikiID, "--allow-group", "ops;drop"}, exitInvalid, "invalid group name"},
			{"removing a group that is not allowed", "", []string{"sp", "set", wikiID, "--clear-allow-groups", "--remove-allow-group", "ops"},
				exitNotFound, `group "ops" is not among the groups allowed to use ` + wikiID},
			{"an unknown SP", "", []string{"sp", "set", "urn:nobody", "--release", "email"}, exitNotFound, `service provider "urn:nobody" not found`},
			{"nothing to change", "", []string{"sp", "set", wikiID}, exitInvalid, "nothing to change"},
			{"no entity ID", "", []string{"sp", "set", "--release", "email"}, exitInvalid, "ENTITY_ID"},
			{"sp add with an unknown attribute", chat, []string{"sp", "add", "--metadata", "-", "--release", "everything"}, exitInvalid, `unknown attribute "everything"`},
			{"an unknown NameID format", "", []string{"sp", "set", wikiID, "--nameid-format", "x509SubjectName"}, exitInvalid,
				`unknown NameID format "x509SubjectName": use persistent, transient, emailAddress or unspecified`},
			{"a NameID format's SAML URI", "", []string{"sp", "set", wikiID, "--nameid-format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"}, exitInvalid,
				"unknown NameID format"},
			{"an empty NameID format", "", []string{"sp", "set", wikiID, "--release", "groups", "--nameid-format", ""}, exitInvalid, `unknown NameID format ""`},
			{"sp add with an unknown NameID format", chat, []string{"sp", "add", "--metadata", "-", "--nameid-format", "kerberos"}, exitInvalid, `unknown NameID format "kerberos"`},
			{"sp add with an unknown group", chat, []string{"sp", "add", "--metadata", "-", "--allow-group", "nobody"}, exitNotFound, `group "nobody" not found`},
		}
		for _, tc := range cases {
			r := c.run(tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.frag) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit %d and one line containing %q", tc.name, r.code, r.stderr, r.stdout, tc.code, tc.frag)
			}
			if after := snapshot(); after != before {
				t.Fatalf("%s changed the service providers:\n%s\nwas\n%s", tc.name, after, before)
			}
		}
	})
}
