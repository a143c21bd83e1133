package main

import (
	"fmt"
	"text/tabwriter"
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
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--user U] [--json]",
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
				if asJSON {
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tACCOUNT\tMETHODS\tHOST\tLAST USED\tEXPIRES")
				for _, s := range out {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.User, dash(s.Account), s.AuthMethods, dash(s.Host),
						s.LastUsedAt.Format(time.RFC3339), s.ExpiresAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "only this user's sessions")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
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
