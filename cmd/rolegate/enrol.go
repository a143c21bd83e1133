package main

import (
	"cmp"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/idp/mfa"
	"rolegate/store"
)

// First-factor enrolment: an invite for one user, or a self-enrolment window for many.
// maxWindow bounds a self-enrolment window: it is for a rollout, not a standing rule.
const maxWindow = 90 * 24 * time.Hour

// parseSpan parses a length of time: a Go duration ("36h", "90m") or whole days ("7d").
func parseSpan(flag, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, nerr := strconv.Atoi(days)
		// Bounded before multiplying: a huge number would wrap into a valid duration.
		if nerr == nil && n > 0 && n <= 3650 {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || d <= 0 {
		return 0, store.Errorf(store.Invalid, "invalid --%s %q: use a positive duration such as 36h or 7d", flag, s)
	}
	return d, nil
}

func userMFAInviteCmd(a *app) *cobra.Command {
	var ttl, baseURL string
	c := &cobra.Command{
		Use:   "invite NAME [--ttl D]",
		Short: "Issue a single-use, expiring enrolment code that lets a user add a first second factor; print it and its link",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseSpan("ttl", ttl)
			if err != nil {
				return err
			}
			if d > store.MaxInviteTTL {
				return store.Errorf(store.Invalid, "--ttl %s is too long: an invite lasts at most 7 days (7d)", ttl)
			}
			ctx := cmd.Context()
			return a.withUser(ctx, args[0], func(st store.Store, u *store.User) error {
				baseURL, err := a.baseURL(ctx, st, baseURL, baseOptional) // the pinned one, else none: the link must reach the server
				if err != nil {
					return err
				}
				if u.Disabled {
					return store.Errorf(store.Conflict, "%s is disabled: run `rolegate user enable %s` first", u.Name, u.Name)
				}
				fs, err := st.ListMFAFactors(ctx, u.ID)
				if err != nil {
					return err
				}
				for _, f := range fs {
					if f.Confirmed {
						return store.Errorf(store.Conflict, "%s has a second factor already, and adds others with it; "+
							"for a lost device run `rolegate user mfa reset %s` first", u.Name, u.Name)
					}
				}
				code, hash, err := mfa.NewInvite()
				if err != nil {
					return err
				}
				now := time.Now().UTC().Truncate(time.Second)
				inv := &store.EnrolInvite{UserID: u.ID, CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(d)}
				if err := st.CreateEnrolInvite(ctx, inv); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "code: %s\n", code)
				if baseURL != "" {
					fmt.Fprintf(a.stdout, "link: %s/account/mfa?%s\n", strings.TrimRight(baseURL, "/"), url.Values{"invite": {code}}.Encode())
				}
				fmt.Fprintf(a.stdout, "expires: %s (used once; sign in with the password, then enter the code)\n", inv.ExpiresAt.Format(time.RFC3339))
				return a.audit(ctx, st, "mfa.invite", u.Name, map[string]string{"expires_at": inv.ExpiresAt.Format(time.RFC3339)})
			})
		},
	}
	c.Flags().StringVar(&ttl, "ttl", "24h", "how long the code works, at most 7d")
	c.Flags().StringVar(&baseURL, "base-url", a.env("ROLEGATE_BASE_URL"), "public URL of the IdP, to print the link (env ROLEGATE_BASE_URL; default: the one the store pinned)")
	return c
}

func mfaCmd(a *app) *cobra.Command {
	return group("mfa", "Second-factor settings for every user",
		group("window", "Self-enrolment windows: users without a factor add their first with the password alone until the end",
			mfaWindowOpenCmd(a), mfaWindowCloseCmd(a), mfaWindowShowCmd(a)))
}

// windowScope names a window in messages and the audit log.
func windowScope(account string) string {
	if account == "" {
		return "every user"
	}
	return "account " + account
}

func mfaWindowOpenCmd(a *app) *cobra.Command {
	var account, until, span string
	c := &cobra.Command{
		Use:   "open [--account A] (--until DATE | --for D)",
		Short: "Let users without a second factor (all, or those with a role in an account) enrol one with the password alone until an end",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now().UTC().Truncate(time.Second)
			var ends time.Time
			switch {
			case (until == "") == (span == ""):
				return store.Errorf(store.Invalid, "give exactly one of --until DATE and --for D: a window always ends")
			case span != "":
				d, err := parseSpan("for", span)
				if err != nil {
					return err
				}
				ends = now.Add(d)
			default:
				t, err := parseDate(until)
				if err != nil {
					return err
				}
				ends = t
			}
			if !ends.After(now) {
				return store.Errorf(store.Invalid, "the window would end at %s, which is past", ends.Format(time.RFC3339))
			}
			if ends.Sub(now) > maxWindow {
				return store.Errorf(store.Invalid, "a window lasts at most 90 days: it is for a rollout; invite stragglers with `rolegate user mfa invite`")
			}
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				w := &store.EnrolWindow{AccountID: account, OpenedAt: now, EndsAt: ends}
				if err := st.SetEnrolWindow(ctx, w); err != nil {
					return err
				}
				scope := windowScope(w.AccountAlias)
				fmt.Fprintf(a.stdout, "self-enrolment open for %s until %s\n", scope, ends.Format(time.RFC3339))
				return a.audit(ctx, st, "mfa.window", "", map[string]string{"action": "open", "scope": scope, "ends_at": ends.Format(time.RFC3339)})
			})
		},
	}
	c.Flags().StringVar(&account, "account", "", "only users with a role in this account (alias or ID); default every user")
	c.Flags().StringVar(&until, "until", "", "end: RFC 3339 time (2026-12-01T18:00:00Z) or a date (2026-12-01, its start in UTC)")
	c.Flags().StringVar(&span, "for", "", "end after this long: a duration such as 72h or 14d")
	return c
}

// parseDate parses an RFC 3339 time, or a date alone as its start in UTC.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, store.Errorf(store.Invalid, "invalid --until %q: use 2026-12-01 or 2026-12-01T18:00:00Z", s)
}

func mfaWindowCloseCmd(a *app) *cobra.Command {
	var account string
	c := &cobra.Command{
		Use:   "close [--account A]",
		Short: "End a self-enrolment window now",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				if err := st.CloseEnrolWindow(ctx, account); err != nil {
					return err
				}
				scope := windowScope(account)
				fmt.Fprintf(a.stdout, "self-enrolment closed for %s\n", scope)
				return a.audit(ctx, st, "mfa.window", "", map[string]string{"action": "close", "scope": scope})
			})
		},
	}
	c.Flags().StringVar(&account, "account", "", "the account's window (alias or ID); default the one for every user")
	return c
}

// windowJSON is a window as `mfa window show --json` prints it.
type windowJSON struct {
	Account  string    `json:"account"` // "" for every user
	OpenedAt time.Time `json:"opened_at"`
	EndsAt   time.Time `json:"ends_at"`
	Open     bool      `json:"open"`
}

func mfaWindowShowCmd(a *app) *cobra.Command {
	var lf listFlags
	c := &cobra.Command{
		Use:   "show",
		Short: "List self-enrolment windows, open and ended",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				ws, err := st.ListEnrolWindows(ctx)
				if err != nil {
					return err
				}
				now := time.Now()
				out := make([]windowJSON, 0, len(ws))
				for _, w := range ws {
					out = append(out, windowJSON{Account: w.AccountAlias, OpenedAt: w.OpenedAt.UTC(), EndsAt: w.EndsAt.UTC(), Open: w.EndsAt.After(now)})
				}
				t := newTable("FOR", "OPENED", "ENDS", "STATE")
				for _, w := range out {
					state := map[bool]string{true: "open", false: "ended"}[w.Open]
					t.add(cmp.Or(w.Account, "everyone"), timeText(w.OpenedAt), timeText(w.EndsAt), state) // one word a cell
				}
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}
