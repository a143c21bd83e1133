package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/store"
)

func accountCmd(a *app) *cobra.Command {
	return group("account", "Manage the AWS accounts that trust Rolegate",
		accountAddCmd(a), accountSetCmd(a), accountListCmd(a),
		withYes(a, simpleCmd(a, "remove ALIAS_OR_ID", "Remove an account, its grants and its tag rules", "account.remove",
			func(cmd *cobra.Command, st store.Store, args []string) (string, error) {
				if goes, err := accountGoes(cmd.Context(), st, args[0]); err != nil {
					return "", err
				} else if err := a.confirm(cmd, "account "+args[0], goes); err != nil {
					return "", err
				}
				return "removed account " + args[0], st.DeleteAccount(cmd.Context(), args[0])
			}, "ACCOUNT")))
}

// nameSource parses --session-name-source and --source-identity values.
func nameSource(flag, v string, allowNone bool) (store.NameSource, error) {
	switch {
	case v == "username" || v == "email":
		return store.NameSource(v), nil
	case allowNone && v == "none":
		return store.FromNone, nil
	}
	return "", store.Errorf(store.Invalid, "--%s takes username or email%s, not %q", flag, map[bool]string{true: " or none"}[allowNone], v)
}

func accountAddCmd(a *app) *cobra.Command {
	var alias, provider, partition, region, duration, nameSrc, idSrc, cliSession string
	var requireMFA bool
	var af addFlags
	c := &cobra.Command{
		Use:   "add ACCOUNT_ID --alias ALIAS",
		Short: "Add an AWS account",
		Args:  nargs("ACCOUNT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseDuration(duration)
			if err != nil {
				return err
			}
			cliMax, err := parseCLISession(cliSession)
			if err != nil {
				return err
			}
			acct := &store.Account{ID: args[0], Alias: alias, ProviderName: provider, Partition: store.Partition(partition),
				Region: region, SessionDuration: d, RequireMFA: requireMFA, CLISessionMax: cliMax}
			if alias == "" {
				return store.Errorf(store.Invalid, "--alias is required")
			}
			if region != "" && store.ValidPartition(acct.Partition) {
				if err := store.ValidateRegion(acct.Partition, region); err != nil { // a region set now must be one AWS has
					return err
				}
			}
			if acct.SessionNameSource, err = nameSource("session-name-source", nameSrc, false); err != nil {
				return err
			}
			if acct.SourceIdentitySource, err = nameSource("source-identity", idSrc, true); err != nil {
				return err
			}
			if err := acct.Validate(); err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				if err := st.CreateAccount(cmd.Context(), acct); err != nil {
					return af.taken(a, err, func() (string, bool, any, error) {
						old, err := st.GetAccount(cmd.Context(), acct.ID)
						if err != nil {
							return "", false, nil, err
						}
						j, err := accountJSONOf(cmd.Context(), st, old)
						return fmt.Sprintf("account %s (%s)", old.ID, old.Alias), sameAccount(old, acct), j, err
					})
				}
				j, err := accountJSONOf(cmd.Context(), st, acct)
				if err != nil {
					return err
				}
				if err := af.done(a, j, fmt.Sprintf("added account %s (%s)", acct.ID, acct.Alias)); err != nil {
					return err
				}
				return a.audit(cmd.Context(), st, "account.add", "", map[string]string{"account": acct.ID, "alias": acct.Alias,
					"require_mfa": strconv.FormatBool(acct.RequireMFA)})
			})
		},
	}
	c.Flags().StringVar(&alias, "alias", "", "short unique name for the account (required)")
	c.Flags().StringVar(&provider, "provider-name", "Rolegate", "name of the IAM SAML provider in that account")
	c.Flags().StringVar(&partition, "partition", "aws", "AWS partition: aws, aws-us-gov or aws-cn")
	c.Flags().StringVar(&region, "region", "", "default sign-in region (empty: the partition's default endpoint)")
	c.Flags().StringVar(&duration, "session-duration", "", "default session duration, 15m to 12h (empty: AWS's 1h)")
	c.Flags().StringVar(&nameSrc, "session-name-source", "username", "RoleSessionName from the user's username or email")
	c.Flags().StringVar(&idSrc, "source-identity", "none", "SourceIdentity from the user's username or email, or none")
	c.Flags().BoolVar(&requireMFA, "require-mfa", false, "refuse this account's roles to a sign-in without a second factor")
	c.Flags().StringVar(&cliSession, "cli-session", "", cliSessionUsage)
	af.register(c)
	return c
}

// cliSessionUsage describes --cli-session of account add and set.
const cliSessionUsage = "the longest a rolegate login CLI session for this account lives, 15m to 12h (0 or empty: 12h, the web session's limit)"

// parseCLISession parses --cli-session: a duration such as 2h, or 0 for the default.
func parseCLISession(v string) (time.Duration, error) {
	if v == "" || v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil && n > 0 && n <= int64(store.MaxSessionDuration/time.Second) {
		d, err = time.Duration(n)*time.Second, nil // seconds, as --session-duration and account list --json take them
	}
	if err != nil {
		return 0, store.Errorf(store.Invalid, "invalid --cli-session %q: use seconds or a duration such as 8h or 90m, from 15m to 12h, or 0 for 12h", v)
	}
	return d, store.ValidateCLISessionMax(d)
}

func accountSetCmd(a *app) *cobra.Command {
	var alias, provider, region, duration, nameSrc, idSrc, cliSession, awsProfile, adminRole, spSource, signFlag string
	var requireMFA bool
	var enc *encryptFlags
	var label *labelFlag
	var af addFlags
	c := &cobra.Command{
		Use:   "set ALIAS_OR_ID [flags]",
		Short: "Change an account's settings",
		Args:  nargs("ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			var d time.Duration
			var ns, is store.NameSource
			var err error
			if d, err = parseDuration(duration); err != nil {
				return err
			}
			cliMax, err := parseCLISession(cliSession)
			if err != nil {
				return err
			}
			var sign store.SignMode
			if fl.Changed("sign") {
				if sign, err = store.ParseSignMode(signFlag); err != nil {
					return err
				}
			}
			if fl.Changed("session-name-source") {
				if ns, err = nameSource("session-name-source", nameSrc, false); err != nil {
					return err
				}
			}
			if fl.Changed("source-identity") {
				if is, err = nameSource("source-identity", idSrc, true); err != nil {
					return err
				}
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				var sp *awsSPMetadata
				if fl.Changed("sp-metadata") {
					if sp, err = a.loadSPMetadata(cmd.Context(), st, args[0], spSource); err != nil {
						return err
					}
				}
				if err := enc.check(cmd.Context(), a, st, args[0]); err != nil {
					return err
				}
				var before store.Account
				acct, err := st.UpdateAccount(cmd.Context(), args[0], func(ac *store.Account) error {
					before = *ac
					enc.apply(ac)
					label.apply(ac)
					if fl.Changed("alias") {
						ac.Alias = alias
					}
					if fl.Changed("provider-name") {
						ac.ProviderName = provider
					}
					if fl.Changed("region") {
						if region != "" {
							if err := store.ValidateRegion(ac.Partition, region); err != nil { // a region set now must be one AWS has
								return err
							}
						}
						ac.Region = region
					}
					if fl.Changed("session-duration") {
						ac.SessionDuration = d
					}
					if fl.Changed("session-name-source") {
						ac.SessionNameSource = ns
					}
					if fl.Changed("source-identity") {
						ac.SourceIdentitySource = is
					}
					if fl.Changed("require-mfa") {
						ac.RequireMFA = requireMFA
					}
					if fl.Changed("cli-session") {
						ac.CLISessionMax = cliMax
					}
					if fl.Changed("sign") {
						ac.Sign = sign
					}
					if fl.Changed("aws-profile") {
						ac.AWS.AdminProfile = awsProfile
					}
					if fl.Changed("admin-role-arn") {
						// IAM acts in the caller's account: a role of another account would register there.
						if f := strings.Split(adminRole, ":"); adminRole != "" && len(f) > 4 && f[4] != ac.ID {
							return store.Errorf(store.Invalid, "role %s is in account %s: the admin role must be in account %s itself (arn:%s:iam::%s:role/NAME), which it acts in",
								adminRole, f[4], ac.ID, ac.Partition, ac.ID)
						}
						ac.AWS.AdminRoleARN = adminRole
					}
					if sp != nil { // last: the document is held against the account as the other flags leave it
						return sp.apply(ac)
					}
					return nil
				})
				if err != nil {
					sp.report(a, false)
					return err
				}
				if af.format() == "" {
					fmt.Fprintf(a.stdout, "updated account %s (%s)\n", acct.ID, acct.Alias)
				}
				sp.report(a, true)
				details := map[string]string{"account": acct.ID}
				for k, v := range changes(before, *acct) {
					details["change."+k] = v // before->after, what audit --type account.set shows
				}
				if fl.Changed("require-mfa") {
					details["require_mfa"] = strconv.FormatBool(acct.RequireMFA)
				}
				if fl.Changed("cli-session") {
					details["cli_session_seconds"] = strconv.FormatInt(int64(acct.CLISessionMax.Seconds()), 10)
				}
				if fl.Changed("aws-profile") || fl.Changed("admin-role-arn") {
					details["aws_profile"], details["admin_role_arn"] = acct.AWS.AdminProfile, acct.AWS.AdminRoleARN
				}
				label.audit(acct, details)
				if sp != nil {
					details["sp_metadata"], details["idp_id"] = sp.source, acct.AWS.IdPID
				}
				notes := *a
				if af.format() != "" {
					notes.stdout = a.stderr // stdout holds the object alone
				}
				if err := enc.makeKey(cmd.Context(), &notes, st, acct, details); err != nil {
					return err
				}
				if err := a.audit(cmd.Context(), st, "account.set", "", details); err != nil || af.format() == "" {
					return err
				}
				j, err := accountJSONOf(cmd.Context(), st, acct)
				if err != nil {
					return err
				}
				return af.done(a, j, "")
			})
		},
	}
	c.Flags().StringVar(&alias, "alias", "", "new alias")
	c.Flags().StringVar(&provider, "provider-name", "", "name of the IAM SAML provider in that account")
	c.Flags().StringVar(&region, "region", "", "default sign-in region (empty: the partition's default endpoint)")
	c.Flags().StringVar(&duration, "session-duration", "", "default session duration, 15m to 12h (empty: AWS's 1h)")
	c.Flags().StringVar(&nameSrc, "session-name-source", "", "RoleSessionName from the user's username or email")
	c.Flags().StringVar(&idSrc, "source-identity", "", "SourceIdentity from the user's username or email, or none")
	c.Flags().BoolVar(&requireMFA, "require-mfa", false, "--require-mfa=true refuses the account's roles to a sign-in without a second factor; =false lifts that")
	c.Flags().StringVar(&cliSession, "cli-session", "", cliSessionUsage)
	c.Flags().StringVar(&awsProfile, "aws-profile", "", "AWS shared-config profile that rolegate aws register|check|revoke use for this account (empty: the default credential chain)")
	c.Flags().StringVar(&adminRole, "admin-role-arn", "", "IAM role those commands assume (with the profile's credentials) to act in this account (empty: none)")
	c.Flags().StringVar(&spSource, "sp-metadata", "", spMetadataUsage)
	c.Flags().StringVar(&signFlag, "sign", "", "what of a Response to the account is signed: both (the Response and the Assertion), assertion or response (one RSA signature: half the work)")
	enc = addEncryptFlags(c)
	label = addLabelFlag(c)
	af.registerJSON(c)
	return c
}

func accountListCmd(a *app) *cobra.Command {
	var lf listFlags
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
				out := make([]accountJSON, 0, len(accts))
				t := newTable("ALIAS", "ACCOUNT", "PROVIDER", "PARTITION", "REGION", "SESSION", "MFA", "CLI_SESSION", "ENCRYPT", "SIGN")
				for _, ac := range accts {
					j, err := accountJSONOf(cmd.Context(), st, ac)
					if err != nil {
						return err
					}
					out = append(out, j)
					t.add(ac.Alias, ac.ID, ac.ProviderName, string(ac.Partition), ac.Region, durWord(ac.SessionDuration),
						map[bool]string{true: "required"}[ac.RequireMFA], durWord(ac.CLISessionMax), j.Encryption, j.Sign)
				}
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}

// awsLinkJSON is an account's IAM side as account list --json shows it.
type awsLinkJSON struct {
	AdminProfile string    `json:"admin_profile,omitempty"`
	AdminRoleARN string    `json:"admin_role_arn,omitempty"`
	Encrypt      string    `json:"encrypt"`
	IdPID        string    `json:"idp_id,omitempty"`
	ProviderARN  string    `json:"provider_arn,omitempty"`
	TrustedCerts []string  `json:"trusted_certs"`
	CheckedAt    time.Time `json:"checked_at,omitzero"`
}

func awsLinkOf(l store.AWSLink) awsLinkJSON {
	enc := string(l.Encrypt)
	if enc == "" {
		enc = "off"
	}
	trusted := l.TrustedCerts
	if trusted == nil {
		trusted = []string{}
	}
	return awsLinkJSON{l.AdminProfile, l.AdminRoleARN, enc, l.IdPID, l.ProviderARN, trusted, l.CheckedAt.UTC()}
}
