package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/store"
)

// addFlags are the flags every add takes: --json (or -o json|yaml) prints the object made instead
// of a line, and --if-not-exists lets a script run twice. Sets and removes take the output flags
// alone (registerJSON).
type addFlags struct {
	asJSON, ifNotExists bool
	output              string
}

func (f *addFlags) register(c *cobra.Command) {
	f.registerJSON(c)
	c.Flags().BoolVar(&f.ifNotExists, "if-not-exists", false,
		"exit 0, printing the object, when an identical one exists already (a different one under that name is still a conflict)")
}

func (f *addFlags) registerJSON(c *cobra.Command) {
	c.Flags().BoolVar(&f.asJSON, "json", false, "print the object as JSON instead of a line (the same as -o json)")
	c.Flags().StringVarP(&f.output, "output", "o", "", "print the object as json or yaml instead of a line")
	c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	run := c.RunE // a bad format is refused before anything changes
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := f.check(); err != nil {
			return err
		}
		return run(cmd, args)
	}
}

// check refuses an output format other than json and yaml, before anything is changed.
func (f *addFlags) check() error {
	switch {
	case f.output != "" && f.output != "json" && f.output != "yaml":
		return store.Errorf(store.Invalid, "unknown output format %q: use json or yaml (or leave -o out for a line)", f.output)
	case f.asJSON && f.output == "yaml":
		return store.Errorf(store.Invalid, "--json and -o yaml exclude each other")
	}
	return nil
}

// format is "json", "yaml", or "" for a line.
func (f *addFlags) format() string {
	if f.asJSON {
		return "json"
	}
	return f.output
}

// done reports what an add or set made: line, or the object v as -o or --json ask.
func (f *addFlags) done(a *app, v any, line string) error {
	switch f.format() {
	case "json":
		return a.printJSON(v)
	case "yaml":
		return a.printYAML(v)
	}
	_, err := fmt.Fprintln(a.stdout, line)
	return err
}

// taken finishes an add that failed with err. A conflict under --if-not-exists is no error when
// find says the object under that name is the one asked for: it is reported as existing. Any
// other error, or a different object, stays an error.
func (f *addFlags) taken(a *app, err error, find func() (what string, same bool, v any, ferr error)) error {
	if !f.ifNotExists || store.ErrorCode(err) != store.Conflict {
		return err
	}
	what, same, v, ferr := find()
	if ferr != nil {
		return err
	}
	if !same {
		return store.Errorf(store.Conflict, "%s: %s exists and differs from the one asked for", store.ErrorMessage(err), what)
	}
	return f.done(a, v, what+" exists already")
}

// sameUser reports whether u, as user add asks for it, is old as it is stored (the password aside).
func sameUser(old, u *store.User) bool {
	return old.Email == u.Email && old.DisplayName == u.DisplayName && maps.Equal(nonNil(old.Attributes), nonNil(u.Attributes))
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// sameAccount reports whether ac, as account add asks for it, is old as it is stored.
func sameAccount(old, ac *store.Account) bool {
	return old.ID == ac.ID && store.Key(old.Alias) == store.Key(ac.Alias) && old.ProviderName == ac.ProviderName &&
		old.Partition == ac.Partition && old.Region == ac.Region && old.SessionDuration == ac.SessionDuration &&
		old.SessionNameSource == ac.SessionNameSource && old.SourceIdentitySource == ac.SourceIdentitySource &&
		old.RequireMFA == ac.RequireMFA && old.CLISessionMax == ac.CLISessionMax
}

// findGrant is the grant of g's role in g's account to g's group or user, for grant add --if-not-exists.
func findGrant(ctx context.Context, st store.Store, g *store.Grant) (string, bool, any, error) {
	grants, err := st.ListGrants(ctx, store.GrantFilter{Group: g.Group, User: g.User, Account: g.AccountID})
	if err != nil {
		return "", false, nil, err
	}
	for _, old := range grants {
		if strings.EqualFold(old.Role, g.Role) {
			return fmt.Sprintf("grant %d (%s in %s to %s)", old.ID, old.Role, old.AccountAlias, who(old)),
				old.Role == g.Role && old.SessionDuration == g.SessionDuration, grantJSONOf(old), nil
		}
	}
	return "", false, nil, store.Errorf(store.NotFound, "no such grant")
}

// findTagRule is the rule for r's key in r's account, for tag add --if-not-exists.
func findTagRule(ctx context.Context, st store.Store, r *store.TagRule) (string, bool, any, error) {
	rules, err := st.ListTagRules(ctx, r.AccountID)
	if err != nil {
		return "", false, nil, err
	}
	for _, old := range rules {
		if store.Key(old.Key) == store.Key(r.Key) {
			same := old.Key == r.Key && old.FromAttr == r.FromAttr && old.Value == r.Value && old.Transitive == r.Transitive
			return fmt.Sprintf("tag rule %d (%s)", old.ID, describeTagRule(old)), same, tagRuleJSONOf(old), nil
		}
	}
	return "", false, nil, store.Errorf(store.NotFound, "no such rule")
}

// sameSP reports whether sp, as sp add asks for it, is old as it is stored.
func sameSP(old, sp *store.ServiceProvider) bool {
	fold := func(gs []string) []string {
		out := make([]string, 0, len(gs))
		for _, g := range gs {
			out = append(out, store.Key(g))
		}
		slices.Sort(out)
		return out
	}
	return bytes.Equal(old.Metadata, sp.Metadata) && slices.Equal(old.Release, sp.Release) &&
		slices.Equal(fold(old.AllowedGroups), fold(sp.AllowedGroups)) && old.Restricted == (len(sp.AllowedGroups) > 0) &&
		old.RequireSignedRequests == sp.RequireSignedRequests && old.NameIDFormat == sp.NameIDFormat
}
