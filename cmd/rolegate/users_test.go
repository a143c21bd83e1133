package main

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestUserChangesShowInUserList(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "bob", "--attr", "team=core", "--attr", "dept=eng", "--password-stdin", "--must-change=false")

		steps := []struct {
			name      string
			args      []string
			disabled  bool
			attrs     map[string]string
			stdoutHas string
		}{
			{"disable marks bob disabled", []string{"user", "disable", "bob"},
				true, map[string]string{"team": "core", "dept": "eng"}, "disabled user bob"},
			{"disable again keeps bob disabled", []string{"user", "disable", "BOB"},
				true, map[string]string{"team": "core", "dept": "eng"}, "disabled user bob"},
			{"enable makes bob active again", []string{"user", "enable", "bob"},
				false, map[string]string{"team": "core", "dept": "eng"}, "enabled user bob"},
			{"set-attr sets team and an empty dept removes dept", []string{"user", "set-attr", "bob", "team=x", "dept="},
				false, map[string]string{"team": "x"}, "updated attributes of bob"},
			{"set-attr adds a new attribute and keeps the others", []string{"user", "set-attr", "bob", "site=ams"},
				false, map[string]string{"team": "x", "site": "ams"}, "updated attributes of bob"},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				out := c.ok(t, "", s.args...)
				if !containsLine(out, s.stdoutHas) {
					t.Errorf("printed %q, want %q", out, s.stdoutHas)
				}
				bob, ok := c.users(t)["bob"]
				if !ok {
					t.Fatalf("bob is missing from user list")
				}
				if bob.Disabled != s.disabled || !maps.Equal(bob.Attributes, s.attrs) || !bob.HasPassword {
					t.Errorf("bob = %+v; want disabled=%v, attributes %v, a password", bob, s.disabled, s.attrs)
				}
			})
		}
	})
}

func TestGrantsCanBeListedEffectivelyAndRemovedByFlagsOrID(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, goodPassword+"\n", "user", "add", "bob", "--password-stdin", "--must-change=false")
		c.ok(t, goodPassword+"\n", "user", "add", "dave", "--password-stdin", "--must-change=false")
		c.ok(t, "", "group", "add", "devs")
		c.ok(t, "", "group", "add-member", "devs", "bob")
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod")
		c.ok(t, "", "grant", "add", "--group", "devs", "--account", "prod", "--role", "Admin")
		c.ok(t, "", "grant", "add", "--user", "bob", "--account", "111122223333", "--role", "ReadOnly")
		c.ok(t, "", "grant", "add", "--user", "dave", "--account", "prod", "--role", "Billing")

		grants := func(t *testing.T, args ...string) []string {
			t.Helper()
			var list []grantJSONOut
			c.list(t, &list, append([]string{"grant", "list", "--json"}, args...)...)
			var out []string
			for _, g := range list {
				if g.AccountID != "111122223333" || g.AccountAlias != "prod" {
					t.Errorf("grant %+v: want account 111122223333 alias prod", g)
				}
				out = append(out, g.Group+"|"+g.User+"|"+g.Role)
			}
			slices.Sort(out)
			return out
		}
		idOf := func(t *testing.T, user, role string) string {
			t.Helper()
			var list []grantJSONOut
			c.list(t, &list, "grant", "list", "--json", "--user", user)
			for _, g := range list {
				if g.Role == role {
					return strconv.FormatInt(g.ID, 10)
				}
			}
			t.Fatalf("no grant of %s to %s in %+v", role, user, list)
			return ""
		}

		listings := []struct {
			name string
			args []string
			want []string
		}{
			{"all grants", nil, []string{"devs||Admin", "|bob|ReadOnly", "|dave|Billing"}},
			{"bob's direct grants", []string{"--user", "bob"}, []string{"|bob|ReadOnly"}},
			{"bob's effective grants include his group's", []string{"--user", "bob", "--effective"}, []string{"devs||Admin", "|bob|ReadOnly"}},
			{"dave's effective grants are only his own", []string{"--user", "dave", "--effective"}, []string{"|dave|Billing"}},
			{"the group's grants", []string{"--group", "devs"}, []string{"devs||Admin"}},
		}
		for _, l := range listings {
			t.Run("grant list shows "+l.name, func(t *testing.T) {
				if got := grants(t, l.args...); !slices.Equal(got, l.want) {
					t.Errorf("grant list %v = %v, want %v", l.args, got, l.want)
				}
			})
		}

		removals := []struct {
			name string
			args func(t *testing.T) []string
			want []string
		}{
			{"remove by flags takes the group's grant", func(*testing.T) []string {
				return []string{"--group", "devs", "--account", "prod", "--role", "Admin"}
			}, []string{"|bob|ReadOnly", "|dave|Billing"}},
			{"remove by ID takes bob's grant", func(t *testing.T) []string {
				return []string{idOf(t, "bob", "ReadOnly")}
			}, []string{"|dave|Billing"}},
			{"remove by user flags and account ID takes dave's grant", func(*testing.T) []string {
				return []string{"--user", "DAVE", "--account", "111122223333", "--role", "Billing"}
			}, nil},
		}
		for _, r := range removals {
			t.Run(r.name, func(t *testing.T) {
				if out := c.ok(t, "", append([]string{"grant", "remove", "--yes"}, r.args(t)...)...); !containsLine(out, "removed grant ") {
					t.Errorf("grant remove printed %q", out)
				}
				if got := grants(t); !slices.Equal(got, r.want) {
					t.Errorf("grants after removal = %v, want %v", got, r.want)
				}
			})
		}
		if got := grants(t, "--user", "bob", "--effective"); len(got) != 0 {
			t.Errorf("bob's effective grants after all removals = %v, want none", got)
		}
	})
}

// containsLine reports whether some line of out starts with prefix.
func containsLine(out, prefix string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}
