package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"rolegate/assertions"
	"rolegate/awsadmin"
	"rolegate/store"
)

// awsTrustPolicyCmd prints the trust policy a role needs. A role granted to no one yet still gets
// its policy, with a note: an admin may well create the role in AWS before granting it here, and
// the policy does not depend on the grant.
func awsTrustPolicyCmd(a *app) *cobra.Command {
	var account, role string
	var regions []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "trust-policy --account ALIAS_OR_ID --role ROLE_NAME [--region R]... [--json]",
		Short: "Print the trust policy a role needs so that Rolegate's sign-ins may assume it",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if account == "" || role == "" {
				return store.Errorf(store.Invalid, "--account and --role are required")
			}
			if err := store.ValidateRoleName(role); err != nil {
				return err
			}
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				acct, err := st.GetAccount(ctx, account)
				if err != nil {
					return err
				}
				rules, err := st.ListTagRules(ctx, acct.ID)
				if err != nil {
					return err
				}
				grants, err := st.ListGrants(ctx, store.GrantFilter{Account: acct.ID})
				if err != nil {
					return err
				}
				p, notes, err := awsadmin.TrustPolicy(awsadmin.TrustInput{Account: acct, TagRules: len(rules) > 0, Regions: regions})
				if err != nil {
					return err
				}
				text, err := p.JSON()
				if err != nil {
					return err
				}
				granted := slices.ContainsFunc(grants, func(g *store.Grant) bool { return g.Role == role })
				if !granted {
					notes = append(notes, fmt.Sprintf("role %s is granted to no one in account %s yet; grant it with rolegate grant add (--group G | --user U) --account %s --role %s",
						role, acct.Alias, acct.Alias, role))
				}
				for _, n := range notes {
					fmt.Fprintln(a.stderr, "rolegate: note: "+n)
				}
				if asJSON {
					return a.printJSON(struct {
						Account     string           `json:"account"`
						Alias       string           `json:"alias"`
						Role        string           `json:"role"`
						RoleARN     string           `json:"role_arn"`
						ProviderARN string           `json:"provider_arn"`
						Granted     bool             `json:"granted"`
						Notes       []string         `json:"notes"`
						Policy      *awsadmin.Policy `json:"trust_policy"`
					}{acct.ID, acct.Alias, role, assertions.ARN(acct.Partition, acct.ID, "role/"+role),
						p.Statement[0].Principal["Federated"], granted, append([]string{}, notes...), p})
				}
				_, err = fmt.Fprintf(a.stdout, "%s\n", text)
				return err
			})
		},
	}
	c.Flags().StringVar(&account, "account", "", "the account (alias or ID)")
	c.Flags().StringSliceVar(&regions, "region", nil, "another region whose sign-in endpoint joins SAML:aud, for links that ask for it (/aws/signin?region=R); repeat or comma-separate")
	c.Flags().StringVar(&role, "role", "", "the role's name, with its path if it has one (path/name)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the policy inside a JSON object with the role's and provider's ARNs and any notes")
	return c
}
