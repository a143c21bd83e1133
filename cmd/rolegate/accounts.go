package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func accountCmd(a *app) *cobra.Command {
	return group("account", "Manage the AWS accounts that trust Rolegate",
		accountAddCmd(a), accountListCmd(a),
		simpleCmd(a, "remove ALIAS_OR_ID", "Remove an account and its grants", "account.remove",
			func(cmd *cobra.Command, st store.Store, args []string) (string, error) {
				return "removed account " + args[0], st.DeleteAccount(cmd.Context(), args[0])
			}, "ACCOUNT"))
}

func accountAddCmd(a *app) *cobra.Command {
	var alias, provider, partition, region, duration string
	c := &cobra.Command{
		Use:   "add ACCOUNT_ID --alias ALIAS",
		Short: "Add an AWS account",
		Args:  nargs("ACCOUNT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDuration(duration)
			if err != nil {
				return err
			}
			acct := &store.Account{ID: args[0], Alias: alias, ProviderName: provider, Partition: store.Partition(partition),
				Region: region, SessionDuration: d}
			if alias == "" {
				return store.Errorf(store.Invalid, "--alias is required")
			}
			if err := acct.Validate(); err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				if err := st.CreateAccount(cmd.Context(), acct); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "added account %s (%s)\n", acct.ID, acct.Alias)
				return a.audit(cmd.Context(), st, "account.add", "", map[string]string{"account": acct.ID, "alias": acct.Alias})
			})
		},
	}
	c.Flags().StringVar(&alias, "alias", "", "short unique name for the account (required)")
	c.Flags().StringVar(&provider, "provider-name", "Rolegate", "name of the IAM SAML provider in that account")
	c.Flags().StringVar(&partition, "partition", "aws", "AWS partition: aws, aws-us-gov or aws-cn")
	c.Flags().StringVar(&region, "region", "", "default sign-in region (empty: the partition's default endpoint)")
	c.Flags().StringVar(&duration, "session-duration", "", "default session duration, 15m to 12h (empty: AWS's 1h)")
	return c
}

func accountListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				accts, err := st.ListAccounts(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					type accountJSON struct {
						ID              string `json:"id"`
						Alias           string `json:"alias"`
						ProviderName    string `json:"provider_name"`
						Partition       string `json:"partition"`
						Region          string `json:"region,omitempty"`
						SessionDuration int64  `json:"session_duration_seconds,omitempty"`
					}
					out := make([]accountJSON, 0, len(accts))
					for _, ac := range accts {
						out = append(out, accountJSON{ac.ID, ac.Alias, ac.ProviderName, string(ac.Partition), ac.Region,
							int64(ac.SessionDuration.Seconds())})
					}
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ALIAS\tACCOUNT\tPROVIDER\tPARTITION\tREGION\tSESSION")
				for _, ac := range accts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ac.Alias, ac.ID, ac.ProviderName, ac.Partition, dash(ac.Region),
						durText(ac.SessionDuration))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func durText(d interface{ Seconds() float64 }) string {
	if d.Seconds() == 0 {
		return "-"
	}
	return strconv.FormatInt(int64(d.Seconds()), 10) + "s"
}
