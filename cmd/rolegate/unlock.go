package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"rolegate/idp"
	"rolegate/store"
)

// Unlocking clears the sign-in counters kept in the store. The rate limit of the anonymous routes
// lives in each server's memory and refills by itself within a minute; it is not touched.

func userUnlockCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock NAME",
		Short: "Clear a user's failed sign-in, second-factor and enrolment-code counters, on every client",
		Args:  nargs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return a.withUser(ctx, args[0], func(st store.Store, u *store.User) error {
				n, err := idp.UnlockUser(ctx, st, u.Name, time.Now().UTC())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "unlocked user %s (%s cleared)\n", u.Name, plural(int(n), "counter"))
				return a.audit(ctx, st, "user.unlock", u.Name, map[string]string{"counters": strconv.FormatInt(n, 10)})
			})
		},
	}
}

func unlockCmd(a *app) *cobra.Command {
	var address string
	c := &cobra.Command{
		Use:   "unlock --address A",
		Short: "Clear the failed sign-in counters of an address or CIDR (an IPv6 address's whole /64)",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if address == "" {
				return store.Errorf(store.Invalid, "unlock needs --address: an IP address or a CIDR")
			}
			p, err := idp.ParseAddress(address)
			if err != nil {
				return err
			}
			return a.withStore(ctx, func(st store.Store) error {
				n, err := idp.UnlockAddress(ctx, st, p, time.Now().UTC())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "unlocked %s (%s cleared)\n", p, plural(int(n), "counter"))
				return a.audit(ctx, st, "address.unlock", "", map[string]string{"address": p.String(), "counters": strconv.FormatInt(n, 10)})
			})
		},
	}
	c.Flags().StringVar(&address, "address", "", "an IP address (192.0.2.7, 2001:db8::7) or a CIDR (192.0.2.0/24)")
	return c
}
