package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"rolegate/idp/mfa"
	"rolegate/store"
)

func userMFACmd(a *app) *cobra.Command {
	return group("mfa", "Manage users' second factors", userMFAEnrollCmd(a), userMFAResetCmd(a), userMFAListCmd(a), userMFAInviteCmd(a))
}

func userMFAEnrollCmd(a *app) *cobra.Command {
	var totp bool
	c := &cobra.Command{
		Use:   "enroll NAME --totp",
		Short: "Enroll an authenticator app for a user and print its otpauth:// URI (hand it to the user only)",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !totp {
				return store.Errorf(store.Invalid, "the command line enrolls only authenticator apps: add --totp "+
					"(security keys need a browser: the user registers them at /account/mfa)")
			}
			ctx := cmd.Context()
			return a.withUser(ctx, args[0], func(st store.Store, u *store.User) error {
				kek, err := a.secrets(ctx, st)
				if err != nil {
					return err
				}
				secret, err := mfa.NewSecret()
				if err != nil {
					return err
				}
				uri, err := mfa.URI(mfa.Issuer, u.Name, secret)
				if err != nil {
					return err
				}
				sealed, err := mfa.SealSecret(kek, u.Subject, secret)
				if err != nil {
					return err
				}
				// Confirmed at once: the admin hands the URI over, so there is no first code to wait for.
				f := &store.MFAFactor{UserID: u.ID, Kind: store.FactorTOTP, Name: mfa.TOTPName, Secret: sealed, Confirmed: true}
				if err := st.CreateMFAFactor(ctx, f); err != nil {
					if store.IsCode(err, store.Conflict) {
						return &store.Error{Code: store.Conflict, Err: err, Message: fmt.Sprintf(
							"cannot enroll an authenticator app for %s: %s; run `rolegate user mfa reset %s` first "+
								"(it removes all of the user's second factors and recovery codes)", u.Name, store.ErrorMessage(err), u.Name)}
					}
					return err
				}
				fmt.Fprintln(a.stdout, uri)
				return a.audit(ctx, st, "mfa.enroll", u.Name, map[string]string{"kind": string(f.Kind), "name": f.Name})
			})
		},
	}
	c.Flags().BoolVar(&totp, "totp", false, "enroll an authenticator app (TOTP); the only kind the command line enrolls")
	return c
}

func userMFAResetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset NAME",
		Short: "Remove all of a user's second factors and recovery codes, and end their sessions (a lost device)",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, args[0], func(st store.Store, u *store.User) error {
				// Factors first, then sessions: a sign-in between the two cannot use the lost device.
				n, err := st.ResetMFA(ctx, u.ID)
				if err != nil {
					return err
				}
				if err := st.DeleteUserSessions(ctx, u.ID); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "removed %s and the recovery codes of %s; signed out everywhere\n", plural(n, "second factor"), u.Name)
				return a.audit(ctx, st, "mfa.reset", u.Name, map[string]string{"factors": strconv.Itoa(n)})
			})
		},
	}
}

// factorJSON is a second factor as `user mfa list --json` shows it: never its secret or credential.
type factorJSON struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	Confirmed  bool       `json:"confirmed"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // null until first used
}

// userMFAJSON is the output of `user mfa list --json`.
type userMFAJSON struct {
	User                string       `json:"user"`
	Factors             []factorJSON `json:"factors"`
	UnusedRecoveryCodes int          `json:"unused_recovery_codes"`
}

func userMFAListCmd(a *app) *cobra.Command {
	var lf listFlags
	c := &cobra.Command{
		Use:   "list NAME",
		Short: "List a user's second factors and how many unused recovery codes they have",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, args[0], func(st store.Store, u *store.User) error {
				factors, err := st.ListMFAFactors(ctx, u.ID)
				if err != nil {
					return err
				}
				codes, err := st.CountRecoveryCodes(ctx, u.ID)
				if err != nil {
					return err
				}
				out := userMFAJSON{User: u.Name, Factors: make([]factorJSON, 0, len(factors)), UnusedRecoveryCodes: codes}
				for _, f := range factors {
					fj := factorJSON{ID: f.ID, Kind: string(f.Kind), Name: f.Name, Confirmed: f.Confirmed, CreatedAt: f.CreatedAt.UTC()}
					if !f.LastUsedAt.IsZero() {
						used := f.LastUsedAt.UTC()
						fj.LastUsedAt = &used
					}
					out.Factors = append(out.Factors, fj)
				}
				t := newTable("KIND", "CONFIRMED", "CREATED", "LAST_USED", "NAME")
				for _, f := range out.Factors {
					var used time.Time
					if f.LastUsedAt != nil {
						used = *f.LastUsedAt
					}
					// The name is the user's own label: the table escapes it, like any untrusted text.
					t.add(f.Kind, map[bool]string{true: "yes", false: "no"}[f.Confirmed], timeText(f.CreatedAt), timeText(used), f.Name)
				}
				t.foot = func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "unused recovery codes: %d\n", codes)
					return err
				}
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
