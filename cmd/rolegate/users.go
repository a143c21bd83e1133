package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/awsadmin"
	"rolegate/idp"
	"rolegate/store"
)

func userCmd(a *app) *cobra.Command {
	return group("user", "Manage users",
		userAddCmd(a), userPasswdCmd(a), userEnableCmd(a, "disable", true), userEnableCmd(a, "enable", false),
		userListCmd(a), userSetAttrCmd(a), userRemoveCmd(a), userMFACmd(a), userUnlockCmd(a))
}

func userAddCmd(a *app) *cobra.Command {
	var email, display string
	var attrs []string
	var fromStdin, noPassword, mustChange bool
	var af addFlags
	c := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user (password from a prompt or --password-stdin)",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			u := &store.User{Name: args[0], Email: email, DisplayName: display}
			var err error
			if u.Attributes, err = parseAttrs(attrs); err != nil {
				return err
			}
			if err := u.Validate(); err != nil {
				return err // before the password prompt: nothing to type for a doomed command
			}
			if fromStdin && noPassword {
				return store.Errorf(store.Invalid, "--password-stdin and --no-password exclude each other")
			}
			if noPassword && cmd.Flags().Changed("must-change") && mustChange {
				return store.Errorf(store.Invalid, "--must-change needs a password; --no-password sets none")
			}
			mustChangeByDefault(cmd, &mustChange, fromStdin)
			return a.withStore(ctx, func(st store.Store) error {
				if old, err := st.GetUser(ctx, u.Name); err == nil {
					return af.taken(a, store.Errorf(store.Conflict, "user %q already exists", u.Name), func() (string, bool, any, error) {
						groups, err := memberships(ctx, st, old.Name)
						return "user " + old.Name, sameUser(old, u), userJSONOf(old, groups), err
					})
				}
				if !noPassword {
					pw, err := a.readPassword(fromStdin)
					if err != nil {
						return err
					}
					if u.PasswordHash, err = newHasher().Hash(ctx, pw); err != nil {
						return err
					}
					oneTime(u, mustChange)
				}
				if err := st.CreateUser(ctx, u); err != nil {
					return err
				}
				if err := af.done(a, userJSONOf(u, nil), "added user "+u.Name+oneTimeNote(u)); err != nil {
					return err
				}
				return a.audit(ctx, st, "user.add", u.Name, oneTimeDetails(u))
			})
		},
	}
	c.Flags().StringVar(&email, "email", "", "email address")
	c.Flags().StringVar(&display, "display-name", "", "display name")
	c.Flags().StringArrayVar(&attrs, "attr", nil, "attribute KEY=VALUE (repeatable)")
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	c.Flags().BoolVar(&noPassword, "no-password", false, "create the user without a password (set one later with user passwd)")
	mustChangeFlag(c, &mustChange)
	af.register(c)
	return c
}

func userPasswdCmd(a *app) *cobra.Command {
	var fromStdin, mustChange bool
	c := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set a user's password and end their sessions",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			mustChangeByDefault(cmd, &mustChange, fromStdin)
			return a.withStore(ctx, func(st store.Store) error {
				if _, err := st.GetUser(ctx, args[0]); err != nil {
					return err
				}
				pw, err := a.readPassword(fromStdin)
				if err != nil {
					return err
				}
				hash, err := newHasher().Hash(ctx, pw)
				if err != nil {
					return err
				}
				u, err := st.UpdateUser(ctx, args[0], func(u *store.User) error {
					u.PasswordHash = hash
					oneTime(u, mustChange)
					return nil
				})
				if err != nil {
					return err
				}
				if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "password set for %s%s\n", u.Name, oneTimeNote(u))
				return a.audit(ctx, st, "user.passwd", u.Name, oneTimeDetails(u))
			})
		},
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input")
	mustChangeFlag(c, &mustChange)
	return c
}

// mustChangeFlag adds --must-change: a one-time password, as the bootstrap admin's is, because the
// admin (and whatever carried it) knows it.
func mustChangeFlag(c *cobra.Command, v *bool) {
	c.Flags().BoolVar(v, "must-change", false, fmt.Sprintf("make it a one-time password: it works for %d hours and must be changed at first sign-in "+
		"(default: on when the password is typed at the prompt, off with --password-stdin; --must-change=false for a lasting one)",
		int(idp.OneTimePasswordTTL.Hours())))
}

// mustChangeByDefault settles --must-change when it was not given: a password an admin types at the
// prompt is for a person, who must make it their own; one a script pipes in (--password-stdin) is
// provisioning, a service account's or a test's, and lasts, as the DESIGN contract has it.
func mustChangeByDefault(cmd *cobra.Command, v *bool, fromStdin bool) {
	if !cmd.Flags().Changed("must-change") {
		*v = !fromStdin
	}
}

// oneTime marks u's new password as one-time (the mechanism of the bootstrap admin's password:
// changed at first sign-in, dead after idp.OneTimePasswordTTL) or as lasting.
func oneTime(u *store.User, must bool) {
	u.MustChangePassword, u.PasswordExpiresAt = must, time.Time{}
	if must {
		u.PasswordExpiresAt = time.Now().UTC().Add(idp.OneTimePasswordTTL)
	}
}

// oneTimeNote is what the confirmation line adds for a one-time password.
func oneTimeNote(u *store.User) string {
	if !u.MustChangePassword {
		return ""
	}
	return fmt.Sprintf(" (one-time: to be changed at first sign-in, before %s)", u.PasswordExpiresAt.Format(time.RFC3339))
}

func oneTimeDetails(u *store.User) map[string]string {
	if !u.MustChangePassword {
		return nil
	}
	return map[string]string{"one_time": "true"}
}

func userEnableCmd(a *app, verb string, disable bool) *cobra.Command {
	var revokeAWS bool
	var target awsTarget
	c := &cobra.Command{
		Use:   verb + " NAME",
		Short: map[bool]string{true: "Disable a user: no sign-in, sessions end", false: "Enable a disabled user"}[disable],
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !revokeAWS && (target.profile != "" || target.endpointURL != "") {
				return store.Errorf(store.Invalid, "--profile and --endpoint-url go with --revoke-aws")
			}
			return a.withStore(ctx, func(st store.Store) error {
				u, err := st.UpdateUser(ctx, args[0], func(u *store.User) error { u.Disabled = disable; return nil })
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%sd user %s\n", verb, u.Name)
				if err := a.audit(ctx, st, "user."+verb, u.Name, nil); err != nil || !revokeAWS {
					return err
				}
				// The disable stands whatever happens next: no new sign-in, and the revocation can be re-run.
				err = a.revokeAWS(ctx, st, awsadmin.RevokeRequest{User: u.Name, Now: time.Now(), Options: target.options()})
				if err != nil {
					return store.Errorf(store.ErrorCode(err), "%s stays disabled, but revoking their AWS sessions failed: %s; run `rolegate aws revoke --user %s` again",
						u.Name, err.Error(), u.Name)
				}
				return nil
			})
		},
	}
	if disable {
		c.Flags().BoolVar(&revokeAWS, "revoke-aws", false, "also end their live AWS sessions (as rolegate aws revoke --user NAME)")
		target.iamFlags(c)
	}
	return c
}

func userSetAttrCmd(a *app) *cobra.Command {
	var af addFlags
	c := &cobra.Command{
		Use:   "set-attr NAME KEY=VALUE...",
		Short: "Set user attributes (KEY= with no value removes KEY)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return store.Errorf(store.Invalid, "set-attr takes a user name and at least one KEY=VALUE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			attrs, err := parseAttrs(args[1:])
			if err != nil {
				return err
			}
			return a.withStore(ctx, func(st store.Store) error {
				u, err := st.UpdateUser(ctx, args[0], func(u *store.User) error {
					for k, v := range attrs {
						if v == "" {
							delete(u.Attributes, k)
						} else {
							u.Attributes[k] = v
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
				groups, err := memberships(ctx, st, u.Name)
				if err != nil {
					return err
				}
				if err := af.done(a, userJSONOf(u, groups), "updated attributes of "+u.Name); err != nil {
					return err
				}
				return a.audit(ctx, st, "user.set-attr", u.Name, nil)
			})
		},
	}
	af.registerJSON(c)
	return c
}

func userRemoveCmd(a *app) *cobra.Command {
	return withYes(a, &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a user, their memberships, grants and sessions",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				goes, err := userGoes(ctx, st, args[0])
				if err != nil {
					return err
				}
				if err := a.confirm(cmd, "user "+args[0], goes); err != nil {
					return err
				}
				if err := st.DeleteUser(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "removed user %s\n", args[0])
				return a.audit(ctx, st, "user.remove", args[0], nil)
			})
		},
	})
}

// userJSON is a user as `user list --json` shows it: never the password hash.
type userJSON struct {
	Name               string            `json:"name"`
	Email              string            `json:"email,omitempty"`
	DisplayName        string            `json:"display_name,omitempty"`
	Attributes         map[string]string `json:"attributes"`
	Groups             []string          `json:"groups"`
	Disabled           bool              `json:"disabled"`
	HasPassword        bool              `json:"has_password"`
	MustChangePassword bool              `json:"must_change_password"`
	PasswordExpiresAt  *time.Time        `json:"password_expires_at,omitempty"` // of a one-time password
	CreatedAt          time.Time         `json:"created_at"`
}

func userListCmd(a *app) *cobra.Command {
	var lf listFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List users",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				users, err := st.ListUsers(ctx)
				if err != nil {
					return err
				}
				groups, err := st.ListGroups(ctx)
				if err != nil {
					return err
				}
				memberOf := map[string][]string{}
				for _, g := range groups {
					for _, m := range g.Members {
						memberOf[m] = append(memberOf[m], g.Name)
					}
				}
				out := make([]userJSON, 0, len(users))
				for _, u := range users {
					out = append(out, userJSONOf(u, memberOf[u.Name]))
				}
				t := newTable("NAME", "EMAIL", "GROUPS", "STATUS")
				for _, u := range out {
					status := "active"
					if u.Disabled {
						status = "disabled"
					}
					t.add(u.Name, u.Email, strings.Join(u.Groups, ","), status)
				}
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
