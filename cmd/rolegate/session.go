package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"rolegate/store"
)

// Command-line sessions (rolegate login makes them; credential-process refreshes with them),
// listed and ended by admins. Ending a user's sessions ends their web sessions too.

func sessionCmd(a *app) *cobra.Command {
	return group("session", "List and revoke users' command-line sessions", sessionListCmd(a), sessionRevokeCmd(a))
}

type cliSessionJSON struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Account     string    `json:"account"`
	AuthMethods string    `json:"auth_methods"`
	Host        string    `json:"host"`
	ClientAddr  string    `json:"client_addr"`
	UserAgent   string    `json:"user_agent"`
	CreatedAt   time.Time `json:"created_at"`
	LastUsedAt  time.Time `json:"last_used_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func sessionListCmd(a *app) *cobra.Command {
	var user string
	var lf listFlags
	c := &cobra.Command{
		Use:   "list [--user U] [-o table|json|yaml|name]",
		Short: "List live command-line sessions, newest first",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				var id int64
				if user != "" {
					u, err := st.GetUser(ctx, user)
					if err != nil {
						return err
					}
					id = u.ID
				}
				list, err := st.ListCLISessions(ctx, id, time.Now().UTC())
				if err != nil {
					return err
				}
				out := make([]cliSessionJSON, 0, len(list))
				for _, s := range list {
					out = append(out, cliSessionJSON{ID: s.ID, User: s.UserName, Account: s.AccountID, AuthMethods: s.AuthMethods, Host: s.HostName,
						ClientAddr: s.ClientAddr, UserAgent: s.UserAgent, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt})
				}
				t := newTable("ID", "USER", "ACCOUNT", "METHODS", "HOST", "LAST_USED", "EXPIRES")
				for _, s := range out {
					t.add(s.ID, s.User, s.Account, s.AuthMethods, s.Host, timeText(s.LastUsedAt), timeText(s.ExpiresAt))
				}
				return lf.print(a, out, t)
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "only this user's sessions")
	lf.register(c)
	return c
}

func sessionRevokeCmd(a *app) *cobra.Command {
	var user string
	c := &cobra.Command{
		Use:   "revoke ID | revoke --user U",
		Short: "End one command-line session, or every web and command-line session of a user",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch {
			case user != "" && len(args) > 0:
				return store.Errorf(store.Invalid, "session revoke takes a session ID or --user, not both")
			case user != "":
				return a.withUser(ctx, user, func(st store.Store, u *store.User) error {
					if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "ended every session of %s\n", u.Name)
					return a.audit(ctx, st, "session.revoke", u.Name, map[string]string{"scope": "all"})
				})
			case len(args) != 1:
				return store.Errorf(store.Invalid, "session revoke takes one session ID (see rolegate session list) or --user U")
			}
			return a.withStore(ctx, func(st store.Store) error {
				list, err := st.ListCLISessions(ctx, 0, time.Now().UTC())
				if err != nil {
					return err
				}
				owner := ""
				for _, s := range list {
					if s.ID == args[0] {
						owner = s.UserName
					}
				}
				if err := st.DeleteCLISession(ctx, args[0], 0); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "revoked session %s of %s\n", args[0], dash(owner))
				return a.audit(ctx, st, "session.revoke", owner, map[string]string{"id": args[0]})
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "end every session of this user, web and command line")
	return c
}
