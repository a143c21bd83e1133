package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"rolegate/internal/opensslsign"
	"rolegate/store"
)

// seedLists gives every list something to show, with spaces in the values a table must not split on.
func seedLists(t *testing.T, c *cli) {
	t.Helper()
	c.ok(t, "", "user", "add", "alice", "--no-password", "--email", "alice@example.com", "--display-name", "Alice Liddell")
	c.ok(t, "", "user", "add", "bob", "--no-password")
	c.ok(t, "", "group", "add", "devs")
	c.ok(t, "", "group", "add-member", "devs", "alice")
	c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--session-duration", "4h", "--cli-session", "90m")
	c.ok(t, "", "grant", "add", "--group", "devs", "--account", "prod", "--role", "Admin", "--session-duration", "5400")
	c.ok(t, "", "tag", "add", "--account", "prod", "--key", "cost center", "--value", "cc 42")
	c.ok(t, "", "sp", "add", "--metadata", writeFile(t, "wiki.xml", spMetadata(wikiID, [2]string{"HTTP-POST", wikiACS})), "--allow-group", "devs")
	c.ok(t, "", "mfa", "window", "open", "--for", "2h")
	c.ok(t, "", "user", "mfa", "enroll", "alice", "--totp") // makes the signing key too
	st := c.openStore(t)
	u, err := st.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	cs := &store.CLISession{ID: "cs_list1", TokenHash: []byte("cs_list1-hash-of-a-token-0123"), UserID: u.ID, AuthMethods: "pwd,totp",
		AuthnInstant: now, Binding: []byte("b"), CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour), HostName: "Alice's laptop"}
	if _, err := st.CreateCLISession(context.Background(), cs, 20); err != nil {
		t.Fatal(err)
	}
}

// lists are every list command, with the first column -o name prints.
var lists = []struct {
	args  []string
	names []string // the first column, as -o name prints it
}{
	{[]string{"user", "list"}, []string{"alice", "bob"}},
	{[]string{"group", "list"}, []string{"devs"}},
	{[]string{"account", "list"}, []string{"prod"}},
	{[]string{"grant", "list"}, []string{"1"}},
	{[]string{"tag", "list"}, []string{"1"}},
	{[]string{"sp", "list"}, []string{wikiID}},
	{[]string{"session", "list"}, []string{"cs_list1"}},
	{[]string{"keys", "list"}, nil}, // a generated key ID
	{[]string{"audit"}, nil},        // event IDs
	{[]string{"mfa", "window", "show"}, []string{"everyone"}},
	{[]string{"user", "mfa", "list", "alice"}, []string{"totp"}},
}

func TestEveryListPrintsEveryFormat(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	seedLists(t, c)

	// Every command with the list output flags is in the table above, so a new list is tested too.
	var found []string
	walk(newRoot(&app{env: func(string) string { return "" }}), func(cmd *cobra.Command) {
		if f := cmd.Flags().Lookup("no-headers"); f != nil {
			found = append(found, strings.TrimPrefix(cmd.CommandPath(), "rolegate "))
		}
	})
	var tested []string
	for _, l := range lists {
		tested = append(tested, strings.Join(slices.DeleteFunc(slices.Clone(l.args), func(a string) bool { return a == "alice" }), " "))
	}
	slices.Sort(found)
	slices.Sort(tested)
	if !slices.Equal(found, tested) {
		t.Errorf("lists with -o and --no-headers: %v; the table tests %v", found, tested)
	}

	for _, l := range lists {
		t.Run(strings.Join(l.args, " "), func(t *testing.T) {
			out := func(extra ...string) string { return c.ok(t, "", append(slices.Clone(l.args), extra...)...) }

			js := out("-o", "json")
			var fromJSON any
			if err := json.Unmarshal([]byte(js), &fromJSON); err != nil {
				t.Fatalf("-o json is not JSON: %v\n%s", err, js)
			}
			if old := out("--json"); old != js {
				t.Errorf("--json printed\n%s\nand -o json\n%s", old, js)
			}
			y := out("-o", "yaml")
			conv, err := yaml.YAMLToJSON([]byte(y))
			if err != nil {
				t.Fatalf("-o yaml is not YAML: %v\n%s", err, y)
			}
			var fromYAML any
			if err := json.Unmarshal(conv, &fromYAML); err != nil || !reflect.DeepEqual(fromYAML, fromJSON) {
				t.Errorf("-o yaml holds other data than -o json:\n%s\n%s", y, js)
			}

			table := strings.Split(strings.TrimSuffix(out(), "\n"), "\n")
			head := strings.Fields(table[0])
			if len(head) < 2 || strings.ToUpper(table[0]) != table[0] {
				t.Fatalf("the table's first line is not a header: %q", table[0])
			}
			bare := strings.Split(strings.TrimSuffix(out("--no-headers"), "\n"), "\n")
			if len(bare) == 0 || bare[0] == "" {
				t.Fatalf("--no-headers printed no rows")
			}
			if !slices.EqualFunc(table[1:1+len(bare)], bare, func(a, b string) bool {
				return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
			}) {
				t.Errorf("--no-headers printed\n%s\nnot the table's rows\n%s", strings.Join(bare, "\n"), strings.Join(table, "\n"))
			}
			var firsts []string
			for _, row := range bare {
				f := strings.Fields(row)
				if len(f) != len(head) {
					t.Errorf("row %q has %d columns, the header %d: a value holds a space", row, len(f), len(head))
				}
				firsts = append(firsts, f[0])
			}
			names := strings.Split(strings.TrimSuffix(out("-o", "name"), "\n"), "\n")
			if !slices.Equal(names, firsts) {
				t.Errorf("-o name printed %q; want the first column %q", names, firsts)
			}
			if l.names != nil && !slices.Equal(names, l.names) {
				t.Errorf("-o name printed %q; want %q", names, l.names)
			}

			for _, bad := range [][]string{{"-o", "xml"}, {"-o", "yaml", "--json"}} {
				if r := c.run("", append(slices.Clone(l.args), bad...)...); r.code != exitInvalid || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line", bad, r.code, r.stdout, r.stderr)
				}
			}
		})
	}

	t.Run("durations are printed as an admin writes them", func(t *testing.T) {
		row := strings.Fields(strings.Split(c.ok(t, "", "account", "list", "--no-headers"), "\n")[0])
		if row[5] != "4h" || row[7] != "1h30m" {
			t.Errorf("account row %q; want SESSION 4h and CLI_SESSION 1h30m", row)
		}
		var accts []map[string]any
		c.list(t, &accts, "account", "list", "-o", "json")
		if a := accts[0]; a["session_duration_seconds"] != 14400.0 || a["session_duration"] != "4h" || a["cli_session_seconds"] != 5400.0 || a["cli_session"] != "1h30m" {
			t.Errorf("account JSON %v; want the seconds fields kept and the human forms beside them", a)
		}
		if g := strings.Fields(c.ok(t, "", "grant", "list", "--no-headers")); g[len(g)-1] != "1h30m" {
			t.Errorf("grant row %q; want its session 1h30m", g)
		}
	})
}

func TestDurWordDropsZeroUnits(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{4 * time.Hour, "4h"}, {90 * time.Minute, "1h30m"}, {15 * time.Minute, "15m"}, {90 * time.Second, "1m30s"},
		{time.Hour + 5*time.Second, "1h0m5s"}, {12 * time.Hour, "12h"}, {0, ""}, {time.Hour + 30*time.Second, "1h0m30s"},
	} {
		if got := durWord(c.d); got != c.want {
			t.Errorf("durWord(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestAScriptRunsUnattended is the check: a script that lists, adds twice and removes, with
// -o json and --yes, and no terminal on standard input.
func TestAScriptRunsUnattended(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		jsonOf := func(args ...string) any {
			t.Helper()
			var v any
			c.list(t, &v, args...)
			return v
		}
		c.ok(t, "", "migrate") // a list never creates a store: the script's first step sets one up
		if got := jsonOf("account", "list", "-o", "json"); !reflect.DeepEqual(got, []any{}) {
			t.Fatalf("a fresh store lists accounts %v; want []", got)
		}
		adds := [][]string{
			{"account", "add", "111122223333", "--alias", "prod", "--session-duration", "4h"},
			{"group", "add", "devs"},
			{"user", "add", "alice", "--no-password", "--email", "alice@example.com"},
			{"group", "add-member", "devs", "alice"},
			{"grant", "add", "--group", "devs", "--account", "prod", "--role", "Admin"},
			{"tag", "add", "--account", "prod", "--key", "team", "--from-attr", "team"},
		}
		for run := 1; run <= 2; run++ {
			for _, add := range adds {
				args := append(slices.Clone(add), "--if-not-exists", "-o", "json")
				r := c.run("", args...)
				var obj map[string]any
				if r.code != 0 || r.stderr != "" || json.Unmarshal([]byte(r.stdout), &obj) != nil {
					t.Fatalf("run %d: %v: exit %d, stdout %q, stderr %q; want exit 0 and a JSON object", run, args, r.code, r.stdout, r.stderr)
				}
				if run == 2 && add[0] == "grant" && obj["id"] != 1.0 {
					t.Errorf("the second grant add printed %v; want the grant made the first time", obj)
				}
			}
		}
		if got := jsonOf("grant", "list", "-o", "json").([]any); len(got) != 1 {
			t.Errorf("two runs made %d grants; want 1", len(got))
		}
		if r := c.run("", "grant", "add", "--group", "devs", "--account", "prod", "--role", "Admin", "--session-duration", "1h", "--if-not-exists", "-o", "json"); r.code != exitConflict || r.stdout != "" {
			t.Errorf("a different grant under the same name: exit %d, stdout %q; want a conflict (6) and nothing printed", r.code, r.stdout)
		}
		if r := c.run("", "group", "add", "devs", "-o", "json"); r.code != exitConflict {
			t.Errorf("group add without --if-not-exists of an existing group: exit %d; want 6", r.code)
		}

		for _, rm := range [][]string{
			{"grant", "remove", "--group", "devs", "--account", "prod", "--role", "Admin"},
			{"user", "remove", "alice"},
			{"group", "remove", "devs"},
			{"account", "remove", "prod"},
		} {
			var obj removedJSON
			c.list(t, &obj, append(rm, "--yes", "-o", "json")...)
			if !strings.HasPrefix(obj.Removed, rm[0]+" ") || obj.AlsoRemoved == nil {
				t.Errorf("%v printed %+v; want what was removed", rm, obj)
			}
		}
		for _, l := range [][]string{{"account", "list"}, {"group", "list"}, {"user", "list"}, {"grant", "list"}, {"tag", "list"}} {
			if got := jsonOf(append(l, "-o", "json")...); !reflect.DeepEqual(got, []any{}) {
				t.Errorf("%v after the removes: %v; want []", l, got)
			}
		}
	})
}

func TestRemovesRefuseWithoutYesAndSayWhatGoes(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	seedLists(t, c)
	c.ok(t, "", "grant", "add", "--user", "alice", "--account", "prod", "--role", "ReadOnly")
	snap := func() string {
		var b strings.Builder
		for _, l := range lists[:7] {
			b.WriteString(c.ok(t, "", append(slices.Clone(l.args), "-o", "json")...))
		}
		return b.String()
	}
	before := snap()
	for _, rc := range []struct {
		args  []string
		words []string
	}{
		{[]string{"user", "remove", "alice"}, []string{"user alice", "1 membership (devs)", "1 grant (ReadOnly in prod to user:alice)", "1 command-line session", "1 second factor"}},
		{[]string{"group", "remove", "devs"}, []string{"group devs", "1 membership (alice)", "Admin in prod to group:devs", "access to " + wikiID}},
		{[]string{"account", "remove", "prod"}, []string{"account prod", "2 grants", "1 tag rule (cost center)"}},
		{[]string{"sp", "remove", wikiID}, []string{"service provider " + wikiID}},
		{[]string{"grant", "remove", "1"}, []string{"grant 1 (Admin in prod (111122223333) to group devs)"}},
		{[]string{"tag", "remove", "1"}, []string{"tag rule 1"}},
	} {
		r := c.run("", rc.args...)
		if r.code != exitInvalid || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "--yes") {
			t.Errorf("%v without --yes: exit %d, stdout %q, stderr %q; want exit 2 and one line naming --yes", rc.args, r.code, r.stdout, r.stderr)
		}
		for _, w := range rc.words {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v says %q; want it to name %q", rc.args, r.stderr, w)
			}
		}
	}
	if after := snap(); after != before {
		t.Errorf("a refused remove changed the store:\n%s\n%s", before, after)
	}
	for _, args := range [][]string{{"user", "remove", "ghost"}, {"group", "remove", "ghost"}, {"account", "remove", "ghost"}, {"sp", "remove", "urn:ghost"}} {
		if r := c.run("", args...); r.code != exitNotFound {
			t.Errorf("%v without --yes: exit %d; want 5: a missing thing is not found before anything is asked", args, r.code)
		}
	}
}

func TestCompletionOffersNamesFromTheStore(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	seedLists(t, c)
	c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")
	c.ok(t, "", "grant", "add", "--user", "bob", "--account", "dev", "--role", "ReadOnly")
	complete := func(args ...string) []string {
		t.Helper()
		r := c.run("", append([]string{"__complete"}, args...)...)
		if r.code != 0 {
			t.Fatalf("__complete %q: exit %d, %s", args, r.code, r.stderr)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return got
	}
	for _, cc := range []struct {
		args []string
		want []string
	}{
		{[]string{"user", "remove", ""}, []string{"alice", "bob"}},
		{[]string{"user", "passwd", "A"}, []string{"alice"}},
		{[]string{"user", "mfa", "reset", ""}, []string{"alice", "bob"}},
		{[]string{"group", "remove", ""}, []string{"devs"}},
		{[]string{"group", "add-member", "devs", ""}, []string{"alice", "bob"}},
		{[]string{"group", "add-member", ""}, []string{"devs"}},
		{[]string{"account", "set", "p"}, []string{"prod"}},
		{[]string{"grant", "add", "--account", ""}, []string{"111122223333", "444455556666", "dev", "prod"}},
		{[]string{"grant", "add", "--user", ""}, []string{"alice", "bob"}},
		{[]string{"grant", "remove", "--group", ""}, []string{"devs"}},
		{[]string{"grant", "add", "--role", ""}, []string{"Admin", "ReadOnly"}},
		{[]string{"grant", "add", "--account", "dev", "--role", ""}, []string{"ReadOnly"}},
		{[]string{"account", "add", "1", "--partition", ""}, []string{"aws", "aws-cn", "aws-us-gov"}},
		{[]string{"sp", "set", ""}, []string{wikiID}},
		{[]string{"user", "list", "-o", ""}, []string{"table", "json", "yaml", "name"}},
		{[]string{"user", "remove", "alice", ""}, nil},
	} {
		if got := complete(cc.args...); !slices.Equal(got, cc.want) {
			t.Errorf("completing %q: %q, want %q", cc.args, got, cc.want)
		}
	}

	// A shell asks on every tab: a mistyped data directory gives nothing and is not created.
	missing := filepath.Join(t.TempDir(), "no-store-here")
	r := c.run("", "--data-dir", missing, "__complete", "user", "remove", "")
	if r.code != 0 || strings.Contains(r.stdout, "alice") {
		t.Errorf("completion on a missing store: exit %d, %q", r.code, r.stdout)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("completion created %s (%v)", missing, err)
	}

	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := c.ok(t, "", "completion", sh); !strings.Contains(out, "rolegate") || len(out) < 500 {
			t.Errorf("completion %s printed %d bytes", sh, len(out))
		}
	}
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, s := range c.Commands() {
		walk(s, fn)
	}
}

func TestEveryCommandHasExamplesThatParse(t *testing.T) {
	root := newRoot(&app{env: func(string) string { return "" }})
	walk(root, func(cmd *cobra.Command) {
		if cmd.Hidden || cmd.Name() == "help" {
			return
		}
		if !strings.Contains(cmd.UsageString(), "Examples:") || strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("%s --help has no Examples: section", cmd.CommandPath())
			return
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			line = strings.TrimSpace(line)
			if i := strings.Index(line, "rolegate "); i >= 0 && !strings.HasPrefix(line, "#") {
				line = line[i:]
			} else {
				continue
			}
			line, _, _ = strings.Cut(line, " | ")
			line, _, _ = strings.Cut(line, " > ")
			words := strings.Fields(line)[1:]
			found, rest, err := root.Find(words)
			if err != nil || found == root && len(words) > 0 && !strings.HasPrefix(words[0], "-") {
				t.Errorf("%s: example %q names no command", cmd.CommandPath(), line)
				continue
			}
			for _, w := range rest {
				if w == "--" {
					break
				}
				name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
				if strings.HasPrefix(w, "--") && found.Flags().Lookup(name) == nil && found.InheritedFlags().Lookup(name) == nil {
					t.Errorf("%s: example %q uses --%s, which %s does not take", cmd.CommandPath(), line, name, found.CommandPath())
				}
			}
		}
	})
}

func TestVersionAndDidYouMean(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "sqlite")
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if out := c.ok(t, "", args...); !strings.HasPrefix(out, "rolegate ") || !strings.Contains(out, runtime.Version()) ||
			!strings.Contains(out, "signer: "+opensslsign.Name()+")") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v printed %q; want one line with the version, %s and signer: %s", args, out, runtime.Version(), opensslsign.Name())
		}
	}
	var b buildJSON
	c.list(t, &b, "version", "--json")
	if b.Go != runtime.Version() || b.Version == "" || b.Signer != opensslsign.Name() {
		t.Errorf("version --json = %+v", b)
	}
	if _, err := os.Stat(c.dataDir); !os.IsNotExist(err) {
		t.Errorf("version touched the data directory (%v)", err)
	}
	for _, cc := range []struct {
		args []string
		want string
	}{
		{[]string{"usr", "list"}, "user?"},
		{[]string{"user", "lst"}, "did you mean list?"},
		{[]string{"grnt"}, "did you mean grant?"},
		{[]string{"user", "list", "--jsn"}, "did you mean --json?"},
		{[]string{"user", "list", "--no-header"}, "--no-headers"},
		{[]string{"account", "add", "1", "--alais", "x"}, "did you mean --alias?"},
	} {
		r := c.run("", cc.args...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, cc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", cc.args, r.code, r.stderr, cc.want)
		}
	}
	if r := c.run("", "zzzzzz"); strings.Contains(r.stderr, "did you mean") {
		t.Errorf("a word near no command got a suggestion: %q", r.stderr)
	}
}

func TestAuditFiltersAndShowsWhatAccountSetChanged(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "account", "add", "111122223333", "--alias", "prod", "--session-duration", "4h")
		c.ok(t, "", "account", "add", "444455556666", "--alias", "dev")
		c.ok(t, "", "account", "set", "prod", "--session-duration", "2h", "--region", "eu-west-1", "--require-mfa")
		c.ok(t, "", "account", "set", "dev", "--session-duration", "1h")
		c.ok(t, "", "group", "add", "devs")

		sets := c.audit(t, "--type", "account.set", "--account", "prod")
		if len(sets) != 1 {
			t.Fatalf("audit --type account.set --account prod = %+v; want the one set of prod", sets)
		}
		d := sets[0].Details
		for k, want := range map[string]string{"change.session_duration": "4h->2h", "change.region": "none->eu-west-1", "change.require_mfa": "false->true"} {
			if d[k] != want {
				t.Errorf("account.set detail %s = %q, want %q (all: %v)", k, d[k], want, d)
			}
		}
		if _, ok := d["change.alias"]; ok {
			t.Errorf("an unchanged field is listed as changed: %v", d)
		}
		if got := types(c.audit(t, "--account", "111122223333")); strings.Join(got, " ") != "account.add account.set" {
			t.Errorf("audit --account by ID lists %v; want prod's add and set", got)
		}
		if got := types(c.audit(t, "--type", "account.add", "--type", "group.add")); strings.Join(got, " ") != "account.add account.add group.add" {
			t.Errorf("two --type flags list %v", got)
		}
		if got := c.audit(t, "--until", "1h"); len(got) != 0 {
			t.Errorf("audit --until 1h (an hour ago) lists %v; want nothing", types(got))
		}
		if got := c.audit(t, "--since", "2000-01-01", "--until", time.Now().Add(time.Minute).UTC().Format(time.RFC3339)); len(got) != 5 {
			t.Errorf("a range around the test lists %v; want all five events", types(got))
		}
		if got := c.audit(t, "--account", "nope"); len(got) != 0 {
			t.Errorf("audit --account nope lists %v", types(got))
		}
		table := c.ok(t, "", "audit", "--type", "account.set", "--account", "prod", "--no-headers")
		if !strings.Contains(table, "change.session_duration=4h->2h") {
			t.Errorf("the table does not show the change: %q", table)
		}
		for _, args := range [][]string{{"--until", "soon"}, {"--since", "1h", "--until", "2h"}, {"--since", "2026-13-01"}} {
			if r := c.run("", append([]string{"audit"}, args...)...); r.code != exitInvalid || r.stdout != "" {
				t.Errorf("audit %v: exit %d, stdout %q; want exit 2", args, r.code, r.stdout)
			}
		}
	})
}
