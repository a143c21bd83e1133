package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"rolegate/idp"
	"rolegate/store"
)

// Users' sessions, listed and ended by admins: web sessions (a browser signed in) and command-line
// sessions (rolegate login makes them; credential-process refreshes with them). Ending a user's
// sessions ends both kinds.

func sessionCmd(a *app) *cobra.Command {
	return group("session", "List and revoke users' web and command-line sessions", sessionListCmd(a), sessionRevokeCmd(a))
}

// Kinds of session, as session list shows them.
const (
	kindWeb = "web"
	kindCLI = "cli"
)

type cliSessionJSON struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"` // web or cli
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
		Short: "List live web and command-line sessions, newest first",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				var users []*store.User
				if user != "" {
					u, err := st.GetUser(ctx, user)
					if err != nil {
						return err
					}
					users = []*store.User{u}
				}
				now := time.Now().UTC()
				web, err := webSessions(ctx, st, users, now)
				if err != nil {
					return err
				}
				var id int64
				if len(users) == 1 {
					id = users[0].ID
				}
				list, err := st.ListCLISessions(ctx, id, now)
				if err != nil {
					return err
				}
				out := append(make([]cliSessionJSON, 0, len(web)+len(list)), web...) // [] when empty, not null
				for _, s := range list {
					out = append(out, cliSessionJSON{ID: s.ID, Kind: kindCLI, User: s.UserName, Account: s.AccountID, AuthMethods: s.AuthMethods, Host: s.HostName,
						ClientAddr: s.ClientAddr, UserAgent: s.UserAgent, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt})
				}
				slices.SortStableFunc(out, func(x, y cliSessionJSON) int { return y.CreatedAt.Compare(x.CreatedAt) })
				t := newTable("ID", "KIND", "USER", "ACCOUNT", "METHODS", "HOST", "LAST_USED", "EXPIRES")
				for _, s := range out {
					t.add(s.ID, s.Kind, s.User, s.Account, s.AuthMethods, s.Host, timeText(s.LastUsedAt), timeText(s.ExpiresAt))
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
		Short: "End one web or command-line session (an ID from session list), or every session of a user",
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
				now := time.Now().UTC()
				list, err := st.ListCLISessions(ctx, 0, now)
				if err != nil {
					return err
				}
				owner := ""
				for _, s := range list {
					if s.ID == args[0] {
						owner = s.UserName
					}
				}
				err = st.DeleteCLISession(ctx, args[0], 0)
				if store.IsCode(err, store.NotFound) {
					return revokeWebSession(ctx, a, st, args[0], now)
				} else if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "revoked session %s of %s\n", args[0], dash(owner))
				return a.audit(ctx, st, "session.revoke", owner, map[string]string{"id": args[0], "kind": kindCLI})
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "end every session of this user, web and command line")
	return c
}

// webSessions are the live web sessions of users (of every user when users is nil), as session
// list shows them. A disabled user's sessions sign no one in, and are left out.
func webSessions(ctx context.Context, st store.Store, users []*store.User, now time.Time) ([]cliSessionJSON, error) {
	if users == nil {
		var err error
		if users, err = st.ListUsers(ctx); err != nil {
			return nil, err
		}
	}
	var out []cliSessionJSON
	for _, u := range users {
		if u.Disabled {
			continue
		}
		list, err := st.ListUserSessions(ctx, u.ID, now)
		if err != nil {
			return nil, err
		}
		for _, s := range list {
			out = append(out, cliSessionJSON{ID: idp.WebSessionID(s), Kind: kindWeb, User: u.Name, AuthMethods: s.AuthMethods,
				ClientAddr: s.ClientAddr, UserAgent: s.UserAgent, CreatedAt: s.CreatedAt, LastUsedAt: s.LastSeenAt,
				ExpiresAt: earliest(s.IdleExpiresAt, s.ExpiresAt)})
		}
	}
	return out, nil
}

// revokeWebSession ends the web session whose ID (as session list shows it) is id.
func revokeWebSession(ctx context.Context, a *app, st store.Store, id string, now time.Time) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		list, err := st.ListUserSessions(ctx, u.ID, now)
		if err != nil {
			return err
		}
		for _, s := range list {
			if idp.WebSessionID(s) != id {
				continue
			}
			if err := st.DeleteSession(ctx, s.TokenHash); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "revoked web session %s of %s\n", id, u.Name)
			return a.audit(ctx, st, "session.revoke", u.Name, map[string]string{"id": id, "kind": kindWeb})
		}
	}
	return store.Errorf(store.NotFound, "no live session %q: see rolegate session list", id)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
