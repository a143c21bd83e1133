package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"rolegate/store"
)

// withYes gives a destructive remove its --yes flag (the command calls a.confirm before it
// deletes) and -o json|yaml / --json, which print what was removed as an object.
func withYes(a *app, c *cobra.Command) *cobra.Command {
	c.Flags().BoolP("yes", "y", false, "remove without asking; required when standard input is not a terminal")
	var af addFlags
	af.registerJSON(c)
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if af.format() == "" {
			return run(cmd, args)
		}
		line := a.stdout
		a.stdout = io.Discard // the object below replaces the line
		err := run(cmd, args)
		a.stdout = line
		if err != nil {
			return err
		}
		return af.done(a, a.removed, "")
	}
	return c
}

// removedJSON is what a remove prints with -o json.
type removedJSON struct {
	Removed     string   `json:"removed"`
	AlsoRemoved []string `json:"also_removed"`
}

// confirm lets a removal of what go on: at once with --yes (a script said so: it stays quiet), after
// asking on a terminal, and never otherwise. Asking and refusing both say what goes with it.
func (a *app) confirm(cmd *cobra.Command, what string, goes []string) error {
	a.removed = removedJSON{Removed: what, AlsoRemoved: append([]string{}, goes...)}
	if yes, _ := cmd.Flags().GetBool("yes"); yes {
		return nil
	}
	line := "removing " + what
	if len(goes) > 0 {
		line += " also removes " + strings.Join(goes, "; ")
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return store.Errorf(store.Invalid, "%s: standard input is not a terminal, so nothing was removed; add --yes", line)
	}
	fmt.Fprintf(a.stderr, "%s.\nRemove? [y/N] ", line)
	answer, err := bufio.NewReader(io.LimitReader(f, 256)).ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return store.Errorf(store.Invalid, "not removed")
	}
	return nil
}

// userGoes is what removing the user takes with it; NotFound when there is no such user.
func userGoes(ctx context.Context, st store.Store, name string) ([]string, error) {
	u, err := st.GetUser(ctx, name)
	if err != nil {
		return nil, err
	}
	in, err := memberships(ctx, st, u.Name)
	if err != nil {
		return nil, err
	}
	grants, err := st.ListGrants(ctx, store.GrantFilter{User: u.Name})
	if err != nil {
		return nil, err
	}
	sessions, err := st.ListCLISessions(ctx, u.ID, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	factors, err := st.ListMFAFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return nonEmpty(
		listed(len(in), "membership", in),
		grantsText(grants),
		countText(len(sessions), "command-line session"),
		countText(len(factors), "second factor"),
		"their sign-in sessions",
	), nil
}

// groupGoes is what removing the group takes with it; NotFound when there is no such group.
func groupGoes(ctx context.Context, st store.Store, name string) ([]string, error) {
	g, err := st.GetGroup(ctx, name)
	if err != nil {
		return nil, err
	}
	grants, err := st.ListGrants(ctx, store.GrantFilter{Group: g.Name})
	if err != nil {
		return nil, err
	}
	sps, err := st.ListServiceProviders(ctx)
	if err != nil {
		return nil, err
	}
	var allowing []string
	for _, sp := range sps {
		for _, ag := range sp.AllowedGroups {
			if store.Key(ag) == store.Key(g.Name) {
				allowing = append(allowing, sp.EntityID)
			}
		}
	}
	return nonEmpty(
		listed(len(g.Members), "membership", g.Members),
		grantsText(grants),
		map[bool]string{true: "access to " + strings.Join(allowing, ", ")}[len(allowing) > 0],
	), nil
}

// accountGoes is what removing the account takes with it; NotFound when there is no such account.
func accountGoes(ctx context.Context, st store.Store, aliasOrID string) ([]string, error) {
	ac, err := st.GetAccount(ctx, aliasOrID)
	if err != nil {
		return nil, err
	}
	grants, err := st.ListGrants(ctx, store.GrantFilter{Account: ac.ID})
	if err != nil {
		return nil, err
	}
	rules, err := st.ListTagRules(ctx, ac.ID)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, r := range rules {
		keys = append(keys, r.Key)
	}
	return nonEmpty(grantsText(grants), listed(len(rules), "tag rule", keys)), nil
}

// grantsText is "2 grants (Admin to group:devs, ReadOnly to user:bob)", "" for none.
func grantsText(grants []*store.Grant) string {
	var each []string
	for _, g := range grants {
		each = append(each, fmt.Sprintf("%s in %s to %s", g.Role, g.AccountAlias, strings.Replace(who(g), " ", ":", 1)))
	}
	return listed(len(grants), "grant", each)
}

// listed is "2 things (a, b)", "" for none.
func listed(n int, thing string, names []string) string {
	if n == 0 {
		return ""
	}
	return countText(n, thing) + " (" + strings.Join(names, ", ") + ")"
}

// countText is "1 thing" or "n things", "" for none.
func countText(n int, thing string) string {
	if n == 0 {
		return ""
	}
	return plural(n, thing)
}

func nonEmpty(items ...string) []string {
	var out []string
	for _, s := range items {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// confirmGrant confirms the removal of grant id, naming what it grants; NotFound when there is none.
func (a *app) confirmGrant(cmd *cobra.Command, st store.Store, id int64) error {
	grants, err := st.ListGrants(cmd.Context(), store.GrantFilter{})
	if err != nil {
		return err
	}
	for _, g := range grants {
		if g.ID == id {
			return a.confirm(cmd, fmt.Sprintf("grant %d (%s in %s (%s) to %s)", id, g.Role, g.AccountAlias, g.AccountID, who(g)), nil)
		}
	}
	return store.Errorf(store.NotFound, "grant %d not found", id)
}
