package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/store"
	"rolegate/store/postgres"
	"rolegate/store/sqlite"
	"rolegate/store/sqlstore"
)

// finish gives every command of the tree what all share: shell completion of the names it takes,
// suggestions for a mistyped subcommand, and its help's examples. It runs once, after the tree is built, so no command repeats it.
func finish(a *app, root *cobra.Command) {
	root.SetOut(a.stdout) // before the completion command, which takes its writer when it is made
	root.SetErr(a.stderr)
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2 // "did you mean" under every group, not only the root
		if c.Example == "" {
			c.Example = examples[strings.TrimPrefix(c.CommandPath(), "rolegate ")]
		}
		if c.Runnable() && c.ValidArgsFunction == nil && c.ValidArgs == nil {
			if kinds := argKinds(c); len(kinds) > 0 {
				c.ValidArgsFunction = func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
					if len(args) >= len(kinds) {
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
					return a.candidates(cmd, kinds[len(args)], prefix), cobra.ShellCompDirectiveNoFileComp
				}
			}
		}
		for flag, kind := range flagKinds {
			if c.LocalNonPersistentFlags().Lookup(flag) != nil {
				c.RegisterFlagCompletionFunc(flag, func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
					return a.candidates(cmd, kind, prefix), cobra.ShellCompDirectiveNoFileComp
				})
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// flagKinds are the flags whose values name a thing in the store, wherever they appear.
var flagKinds = map[string]string{
	"user": "user", "group": "group", "account": "account", "role": "role", "partition": "partition",
	"allow-group": "group", "remove-allow-group": "group",
}

// argKinds reads what each positional argument names from the command's Use line: NAME is a user
// (a group under `group`), GROUP a group, USER a user, ALIAS_OR_ID an account, ENTITY_ID an SP.
func argKinds(c *cobra.Command) []string {
	var kinds []string
	for _, w := range strings.Fields(c.Use)[1:] {
		var kind string
		switch w {
		case "NAME":
			kind = "user"
			if c.Parent() != nil && c.Parent().Name() == "group" {
				kind = "group"
			}
		case "GROUP":
			kind = "group"
		case "USER":
			kind = "user"
		case "ALIAS_OR_ID":
			kind = "account"
		case "ENTITY_ID":
			kind = "sp"
		default:
			return kinds
		}
		kinds = append(kinds, kind)
	}
	return kinds
}

// candidates lists the names of kind that start with prefix, read from the store. A shell asks
// on every tab: nothing is created or migrated, and any failure gives no candidates.
func (a *app) candidates(cmd *cobra.Command, kind, prefix string) []string {
	if kind == "partition" {
		return withPrefix([]string{string(store.PartitionAWS), string(store.PartitionGovCloud), string(store.PartitionChina)}, prefix)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := a.openExisting(ctx)
	if err != nil {
		return nil
	}
	defer st.Close()
	var names []string
	switch kind {
	case "user":
		us, err := st.ListUsers(ctx)
		if err != nil {
			return nil
		}
		for _, u := range us {
			names = append(names, u.Name)
		}
	case "group":
		gs, err := st.ListGroups(ctx)
		if err != nil {
			return nil
		}
		for _, g := range gs {
			names = append(names, g.Name)
		}
	case "account":
		as, err := st.ListAccounts(ctx)
		if err != nil {
			return nil
		}
		for _, ac := range as {
			names = append(names, ac.Alias, ac.ID)
		}
	case "role":
		// The roles granted, in the account --account names when it is given.
		f := store.GrantFilter{}
		if fl := cmd.Flags().Lookup("account"); fl != nil {
			f.Account = fl.Value.String()
		}
		gs, err := st.ListGrants(ctx, f)
		if err != nil {
			return nil
		}
		for _, g := range gs {
			names = append(names, g.Role)
		}
	case "sp":
		sps, err := st.ListServiceProviders(ctx)
		if err != nil {
			return nil
		}
		for _, sp := range sps {
			names = append(names, sp.EntityID)
		}
	}
	return withPrefix(names, prefix)
}

// withPrefix is the sorted, distinct names that start with prefix (any case).
func withPrefix(names []string, prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] && strings.HasPrefix(strings.ToLower(n), strings.ToLower(prefix)) {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// openExisting opens the configured store only if it exists, without migrating it.
func (a *app) openExisting(ctx context.Context) (*sqlstore.Store, error) {
	if a.databaseURL != "" {
		return postgres.Open(ctx, a.databaseURL)
	}
	path := filepath.Join(a.dataDir, sqlite.FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return sqlite.Open(path)
}
