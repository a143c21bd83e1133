package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func grantCmd(a *app) *cobra.Command {
	return group("grant", "Grant roles in AWS accounts to groups or users", grantAddCmd(a), grantListCmd(a), grantRemoveCmd(a))
}

// grantFlags are the flags that name one grant.
type grantFlags struct{ group, user, account, role string }

func (f *grantFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&f.group, "group", "", "the group that receives the role")
	c.Flags().StringVar(&f.user, "user", "", "the user that receives the role")
	c.Flags().StringVar(&f.account, "account", "", "account alias or ID")
	c.Flags().StringVar(&f.role, "role", "", "IAM role name, with an optional path (path/name)")
}

func (f *grantFlags) check() error {
	if (f.group == "") == (f.user == "") {
		return store.Errorf(store.Invalid, "name exactly one of --group and --user")
	}
	if f.account == "" || f.role == "" {
		return store.Errorf(store.Invalid, "--account and --role are required")
	}
	return store.ValidateRoleName(f.role)
}

func grantAddCmd(a *app) *cobra.Command {
	var f grantFlags
	var duration string
	var af addFlags
	c := &cobra.Command{
		Use:   "add (--group G | --user U) --account ALIAS_OR_ID --role ROLE_NAME",
		Short: "Grant a role",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			d, err := parseDuration(duration)
			if err != nil {
				return err
			}
			g := &store.Grant{Group: f.group, User: f.user, AccountID: f.account, Role: f.role, SessionDuration: d}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				if err := st.CreateGrant(cmd.Context(), g); err != nil {
					return af.taken(a, err, func() (string, bool, any, error) { return findGrant(cmd.Context(), st, g) })
				}
				if err := af.done(a, grantJSONOf(g), fmt.Sprintf("granted %s in %s (%s) to %s [grant %d]", g.Role, g.AccountAlias, g.AccountID, who(g), g.ID)); err != nil {
					return err
				}
				return a.audit(cmd.Context(), st, "grant.add", g.User, map[string]string{"group": g.Group, "account": g.AccountID,
					"role": g.Role, "grant": strconv.FormatInt(g.ID, 10)})
			})
		},
	}
	f.register(c)
	c.Flags().StringVar(&duration, "session-duration", "", "session duration for this grant, 15m to 12h (empty: the account's)")
	af.register(c)
	return c
}

func who(g *store.Grant) string {
	if g.Group != "" {
		return "group " + g.Group
	}
	return "user " + g.User
}

func grantListCmd(a *app) *cobra.Command {
	var lf listFlags
	var effective bool
	var f store.GrantFilter
	c := &cobra.Command{
		Use:   "list",
		Short: "List grants",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.Effective = effective
			if effective && f.User == "" {
				return store.Errorf(store.Invalid, "--effective needs --user")
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				grants, err := st.ListGrants(cmd.Context(), f)
				if err != nil {
					return err
				}
				out := make([]grantJSON, 0, len(grants))
				t := newTable("ID", "TO", "ACCOUNT", "ACCOUNT_ID", "ROLE", "SESSION")
				for _, g := range grants {
					out = append(out, grantJSONOf(g))
					t.add(strconv.FormatInt(g.ID, 10), strings.Replace(who(g), " ", ":", 1), g.AccountAlias, g.AccountID, g.Role, durWord(g.SessionDuration))
				}
				return lf.print(a, out, t)
			})
		},
	}
	c.Flags().StringVar(&f.Group, "group", "", "only grants to this group")
	c.Flags().StringVar(&f.User, "user", "", "only grants to this user directly")
	c.Flags().StringVar(&f.Account, "account", "", "only grants in this account")
	c.Flags().BoolVar(&effective, "effective", false, "with --user: also the grants that reach the user through groups")
	lf.register(c)
	return c
}

// grantJSON is a grant as grant list -o json and grant add --json show it.
type grantJSON struct {
	ID              int64  `json:"id"`
	Group           string `json:"group,omitempty"`
	User            string `json:"user,omitempty"`
	AccountID       string `json:"account_id"`
	AccountAlias    string `json:"account_alias"`
	Role            string `json:"role"`
	SessionDuration int64  `json:"session_duration_seconds,omitempty"`
	SessionText     string `json:"session_duration,omitempty"` // the same, as "4h"
}

func grantJSONOf(g *store.Grant) grantJSON {
	return grantJSON{g.ID, g.Group, g.User, g.AccountID, g.AccountAlias, g.Role, int64(g.SessionDuration.Seconds()), durWord(g.SessionDuration)}
}

func grantRemoveCmd(a *app) *cobra.Command {
	var f grantFlags
	c := withYes(a, &cobra.Command{
		Use:   "remove (GRANT_ID | (--group G | --user U) --account A --role R)",
		Short: "Remove a grant, by its ID or by what it grants",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				ctx := cmd.Context()
				var id int64
				switch {
				case len(args) == 1 && f == (grantFlags{}):
					n, err := strconv.ParseInt(args[0], 10, 64)
					if err != nil || n <= 0 {
						return store.Errorf(store.Invalid, "grant ID %q is not a positive number", args[0])
					}
					id = n
				case len(args) == 0:
					if err := f.check(); err != nil {
						return err
					}
					grants, err := st.ListGrants(ctx, store.GrantFilter{Group: f.group, User: f.user, Account: f.account})
					if err != nil {
						return err
					}
					for _, g := range grants {
						if g.Role == f.role {
							id = g.ID
						}
					}
					if id == 0 {
						return store.Errorf(store.NotFound, "no grant of role %q in %q to %s%s", f.role, f.account, f.group, f.user)
					}
				default:
					return store.Errorf(store.Invalid, "give a grant ID or the flags that name a grant, not both")
				}
				if err := a.confirmGrant(cmd, st, id); err != nil {
					return err
				}
				if err := st.DeleteGrant(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "removed grant %d\n", id)
				return a.audit(ctx, st, "grant.remove", f.user, map[string]string{"grant": strconv.FormatInt(id, 10)})
			})
		},
	})
	f.register(c)
	return c
}
