package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"rolegate/store"
)

// tagRuleJSONOut is one entry of `tag list --json`; absent fields stay nil.
type tagRuleJSONOut struct {
	ID           int64   `json:"id"`
	AccountID    string  `json:"account_id"`
	AccountAlias string  `json:"account_alias"`
	Key          string  `json:"key"`
	FromAttr     *string `json:"from_attr"`
	Value        *string `json:"value"`
	Transitive   bool    `json:"transitive"`
}

func (c *cli) tagRules(t *testing.T, args ...string) []tagRuleJSONOut {
	t.Helper()
	var list []tagRuleJSONOut
	c.list(t, &list, append([]string{"tag", "list", "--json"}, args...)...)
	return list
}

func strOrNil(p *string) string {
	if p == nil {
		return "<absent>"
	}
	return strconv.Quote(*p)
}

func TestTagAddListAndRemove(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		seed(t, c)
		c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")

		adds := []struct {
			args []string
			want string // the line printed, after "added tag rule N: "
		}{
			{[]string{"--account", "prod", "--key", "team", "--from-attr", "team"}, "team = attribute team"},
			{[]string{"--account", "111122223333", "--key", "Project", "--from-attr", "project", "--transitive"},
				"Project = attribute project (transitive)"},
			{[]string{"--account", "PROD", "--key", "cost-center", "--value", "cc 42/a=b+c@d:e_f.g"}, `cost-center = "cc 42/a=b+c@d:e_f.g"`},
			{[]string{"--account", "dev", "--key", "env", "--value", "dev", "--transitive"}, `env = "dev" (transitive)`},
			{[]string{"--account", "prod", "--key", strings.Repeat("k", 128), "--value", strings.Repeat("v", 256)},
				strings.Repeat("k", 128) + ` = "` + strings.Repeat("v", 256) + `"`},
		}
		ids := map[string]int64{}
		for _, a := range adds {
			out := c.ok(t, "", append([]string{"tag", "add"}, a.args...)...)
			var id int64
			var rest string
			if _, err := fmt.Sscanf(out, "added tag rule %d:", &id); err != nil || id <= 0 {
				t.Fatalf("tag add %v printed %q; want \"added tag rule N: ...\"", a.args, out)
			}
			rest = strings.TrimPrefix(out, fmt.Sprintf("added tag rule %d: ", id))
			if rest != a.want+"\n" {
				t.Errorf("tag add %v printed %q; want %q", a.args, out, fmt.Sprintf("added tag rule %d: %s\n", id, a.want))
			}
			ids[a.want] = id
		}

		rules := c.tagRules(t)
		if len(rules) != len(adds) {
			t.Fatalf("tag list --json has %d rules, want %d: %+v", len(rules), len(adds), rules)
		}
		byKey := map[string]tagRuleJSONOut{}
		for _, r := range rules {
			byKey[r.Key] = r
		}
		check := func(key, acct, alias, attr, value string, transitive bool) {
			t.Helper()
			r, ok := byKey[key]
			if !ok {
				t.Errorf("tag list --json has no rule for key %q", key)
				return
			}
			wantAttr, wantValue := "<absent>", strconv.Quote(value)
			if attr != "" {
				wantAttr, wantValue = strconv.Quote(attr), "<absent>"
			}
			if r.ID <= 0 || r.AccountID != acct || r.AccountAlias != alias || strOrNil(r.FromAttr) != wantAttr ||
				strOrNil(r.Value) != wantValue || r.Transitive != transitive {
				t.Errorf("rule %q = {id %d, account %s/%s, from_attr %s, value %s, transitive %v}; want account %s/%s, from_attr %s, value %s, transitive %v",
					key, r.ID, r.AccountID, r.AccountAlias, strOrNil(r.FromAttr), strOrNil(r.Value), r.Transitive,
					acct, alias, wantAttr, wantValue, transitive)
			}
		}
		check("team", "111122223333", "prod", "team", "", false)
		check("Project", "111122223333", "prod", "project", "", true)
		check("cost-center", "111122223333", "prod", "", "cc 42/a=b+c@d:e_f.g", false)
		check("env", "444455556666", "dev", "", "dev", true)
		check(strings.Repeat("k", 128), "111122223333", "prod", "", strings.Repeat("v", 256), false)

		if dev := c.tagRules(t, "--account", "DEV"); len(dev) != 1 || dev[0].Key != "env" {
			t.Errorf("tag list --account DEV --json = %+v; want only the rule env", dev)
		}

		table := c.ok(t, "", "tag", "list", "--account", "prod")
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID ACCOUNT ACCOUNT_ID KEY VALUE TRANSITIVE" {
			t.Fatalf("tag list --account prod printed:\n%s\nwant a header and four rules", table)
		}
		for _, want := range []string{
			fmt.Sprintf(`%d prod 111122223333 cost-center "cc\x2042/a=b+c@d:e_f.g" no`, ids[`cost-center = "cc 42/a=b+c@d:e_f.g"`]),
			fmt.Sprintf("%d prod 111122223333 Project attr:project yes", ids["Project = attribute project (transitive)"]),
			fmt.Sprintf("%d prod 111122223333 team attr:team no", ids["team = attribute team"]),
		} {
			found := false
			for _, l := range lines[1:] {
				if strings.Join(strings.Fields(l), " ") == want {
					found = true
				}
			}
			if !found {
				t.Errorf("tag list table has no row %q:\n%s", want, table)
			}
		}
		if r := c.run("", "tag", "list", "--account", "nope"); r.code != exitNotFound || r.stdout != "" {
			t.Errorf("tag list --account nope: exit %d, stdout %q; want %d and nothing listed", r.code, r.stdout, exitNotFound)
		}

		// Remove by ID, then by account and key in other case.
		id := ids["team = attribute team"]
		if out := c.ok(t, "", "tag", "remove", "--yes", strconv.FormatInt(id, 10)); out != fmt.Sprintf("removed tag rule %d: team from prod (111122223333)\n", id) {
			t.Errorf("tag remove %d printed %q", id, out)
		}
		id = ids["Project = attribute project (transitive)"]
		if out := c.ok(t, "", "tag", "remove", "--yes", "--account", "111122223333", "--key", "PROJECT"); out != fmt.Sprintf("removed tag rule %d: Project from prod (111122223333)\n", id) {
			t.Errorf("tag remove --account 111122223333 --key PROJECT printed %q", out)
		}
		left := map[string]bool{}
		for _, r := range c.tagRules(t) {
			left[r.Key] = true
		}
		if len(left) != 3 || left["team"] || left["Project"] || !left["env"] {
			t.Errorf("rules left after two removals: %v; want cost-center, env and the long key", left)
		}

		var events []auditJSONOut
		c.list(t, &events, "audit", "--json")
		count := map[string]int{}
		for _, e := range events {
			if strings.HasPrefix(e.Type, "tag.") && e.Details["via"] == "cli" {
				count[e.Type]++
			}
		}
		if count["tag.add"] != len(adds) || count["tag.remove"] != 2 {
			t.Errorf("audit has %d tag.add and %d tag.remove events from the CLI; want %d and 2", count["tag.add"], count["tag.remove"], len(adds))
		}
	})
}

func TestTagRefusalsGetOneLineAnExitStatusAndWriteNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		code int
		frag string
	}{
		{"a key with the reserved prefix aws: is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "aws:x", "--value", "v"}, exitInvalid, "aws: is reserved"},
		{"a key with the reserved prefix in other case is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "AWS:x", "--value", "v"}, exitInvalid, "aws: is reserved"},
		{"a key with # is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "cost#center", "--value", "v"}, exitInvalid, "only letters, digits"},
		{"a key of 129 characters is refused",
			[]string{"tag", "add", "--account", "prod", "--key", strings.Repeat("k", 129), "--value", "v"}, exitInvalid, "1-128 characters"},
		{"an empty key is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "", "--value", "v"}, exitInvalid, "1-128 characters"},
		{"a missing key is refused",
			[]string{"tag", "add", "--account", "prod", "--value", "v"}, exitInvalid, "--key"},
		{"a value of 257 characters is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k", "--value", strings.Repeat("v", 257)}, exitInvalid, "at most 256 characters"},
		{"a value with a comma is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k", "--value", "a,b"}, exitInvalid, "only letters, digits"},
		{"a value with a newline is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k", "--value", "a\nb"}, exitInvalid, "only letters, digits"},
		{"both --from-attr and --value are refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k", "--from-attr", "team", "--value", "v"}, exitInvalid, "exactly one of --from-attr"},
		{"both --from-attr and an empty --value are refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k", "--from-attr", "team", "--value", ""}, exitInvalid, "exactly one of --from-attr"},
		{"neither --from-attr nor --value is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k"}, exitInvalid, "exactly one of --from-attr"},
		{"a bad attribute name is refused",
			[]string{"tag", "add", "--account", "prod", "--key", "k", "--from-attr", "1team"}, exitInvalid, "attribute name"},
		{"a missing account is refused",
			[]string{"tag", "add", "--key", "k", "--value", "v"}, exitInvalid, "--account"},
		{"an unknown account is not found",
			[]string{"tag", "add", "--account", "nope", "--key", "k", "--value", "v"}, exitNotFound, `account "nope"`},
		{"a key the account has in other case is a conflict",
			[]string{"tag", "add", "--account", "prod", "--key", "TEAM", "--value", "v"}, exitConflict, "regardless of case"},
		{"an unknown rule ID is not found",
			[]string{"tag", "remove", "999"}, exitNotFound, "999"},
		{"a rule ID that is no number is refused",
			[]string{"tag", "remove", "abc"}, exitInvalid, "abc"},
		{"a rule ID and flags together are refused",
			[]string{"tag", "remove", "1", "--key", "team"}, exitInvalid, "not both"},
		{"a removal naming nothing is refused",
			[]string{"tag", "remove"}, exitInvalid, "--account and --key"},
		{"a removal by key alone is refused",
			[]string{"tag", "remove", "--key", "team"}, exitInvalid, "--account"},
		{"a key the account has no rule for is not found",
			[]string{"tag", "remove", "--account", "prod", "--key", "nope"}, exitNotFound, "nope"},
		{"a removal in an unknown account is not found",
			[]string{"tag", "remove", "--account", "nope", "--key", "team"}, exitNotFound, `"nope"`},
	}

	forEachBackend(t, func(t *testing.T, c *cli) {
		seed(t, c)
		c.ok(t, "", "tag", "add", "--account", "prod", "--key", "team", "--from-attr", "team")
		st := c.openStore(t)

		// refused runs args, which must fail with code, one line naming frag, and change nothing.
		refused := func(t *testing.T, args []string, code int, frag string) {
			t.Helper()
			before, audits := c.ok(t, "", "tag", "list", "--json"), auditCount(t, st)
			r := c.run("", args...)
			cmd := "rolegate " + strings.Join(args, " ")
			if r.code != code {
				t.Errorf("%s: exit %d, want %d (stderr %q)", cmd, r.code, code, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "rolegate: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("%s: stderr %q, want exactly one line starting with \"rolegate: \"", cmd, r.stderr)
			}
			if !strings.Contains(r.stderr, frag) {
				t.Errorf("%s: stderr %q does not mention %q", cmd, r.stderr, frag)
			}
			if r.stdout != "" {
				t.Errorf("%s: a failed command printed %q on stdout", cmd, r.stdout)
			}
			if after := c.ok(t, "", "tag", "list", "--json"); after != before {
				t.Errorf("%s changed the tag rules:\nbefore: %s\nafter:  %s", cmd, before, after)
			}
			if n := auditCount(t, st); n != audits {
				t.Errorf("%s: audit events %d -> %d: a failed command left a record", cmd, audits, n)
			}
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { refused(t, tc.args, tc.code, tc.frag) })
		}

		t.Run("the 51st rule of an account is a conflict", func(t *testing.T) {
			for i := 2; i <= store.MaxTagRules; i++ { // "team" is the first
				if err := st.CreateTagRule(context.Background(), &store.TagRule{AccountID: "prod", Key: fmt.Sprintf("k%02d", i), Value: "v"}); err != nil {
					t.Fatalf("rule %d: %v", i, err)
				}
			}
			if n := len(c.tagRules(t, "--account", "prod")); n != store.MaxTagRules {
				t.Fatalf("prod has %d rules, want %d", n, store.MaxTagRules)
			}
			refused(t, []string{"tag", "add", "--account", "prod", "--key", "one-too-many", "--value", "v"}, exitConflict, "at most 50")
			// Another account still takes rules.
			c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")
			c.ok(t, "", "tag", "add", "--account", "dev", "--key", "one-too-many", "--value", "v")
		})
	})
}

func TestAnEmptyLiteralTagValueIsLegal(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		seed(t, c)
		if out := c.ok(t, "", "tag", "add", "--account", "prod", "--key", "empty", "--value", ""); !strings.HasSuffix(out, `empty = ""`+"\n") {
			t.Fatalf("tag add printed %q", out)
		}
		rules := c.tagRules(t)
		if len(rules) != 1 || rules[0].Key != "empty" || rules[0].FromAttr != nil || rules[0].Value == nil || *rules[0].Value != "" {
			t.Fatalf("tag list --json = %+v; want one rule with an empty literal value", rules)
		}
	})
}
