package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/assertions"
	"rolegate/awsadmin"
	"rolegate/awslogin"
	"rolegate/certs"
	"rolegate/idp"
	"rolegate/store"
)

func awsCmd(a *app) *cobra.Command {
	return group("aws", "Exchange metadata with IAM in the accounts Rolegate serves",
		awsMetadataCmd(a),
		awsRegisterCmd(a),
		awsCheckCmd(a),
		awsRevokeCmd(a),
		awsTrustPolicyCmd(a),
	)
}

// awsTarget is the accounts an aws subcommand works on and how it reaches their IAM.
type awsTarget struct {
	account, profile, endpointURL string
	all                           bool
}

func (t *awsTarget) flags(c *cobra.Command) {
	c.Flags().StringVar(&t.account, "account", "", "the account (alias or ID)")
	c.Flags().BoolVar(&t.all, "all", false, "every account")
	t.iamFlags(c)
}

// iamFlags adds --profile and --endpoint-url, which say how to reach the accounts' IAM.
func (t *awsTarget) iamFlags(c *cobra.Command) {
	c.Flags().StringVar(&t.profile, "profile", "", "AWS shared-config profile for every account (default: each account's --aws-profile, else the default credential chain)")
	c.Flags().StringVar(&t.endpointURL, "endpoint-url", "", "send IAM and STS calls to this URL (an emulator) instead of AWS")
	// A bad URL is refused before anything is done (user disable --revoke-aws would disable first).
	c.PreRunE = func(*cobra.Command, []string) error {
		if t.endpointURL == "" {
			return nil
		}
		if u, err := url.Parse(t.endpointURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return store.Errorf(store.Invalid, "invalid --endpoint-url %q: use an absolute http(s) URL such as http://localhost:4566", t.endpointURL)
		}
		return nil
	}
}

// accounts returns the accounts --account or --all names.
func (t *awsTarget) accounts(ctx context.Context, st store.Store) ([]*store.Account, error) {
	if (t.account == "") == !t.all {
		return nil, store.Errorf(store.Invalid, "pass --account ALIAS_OR_ID or --all")
	}
	if t.all {
		accts, err := st.ListAccounts(ctx)
		if err == nil && len(accts) == 0 {
			return nil, store.Errorf(store.NotFound, "no accounts: add one with rolegate account add")
		}
		return accts, err
	}
	acct, err := st.GetAccount(ctx, t.account)
	if err != nil {
		return nil, err
	}
	return []*store.Account{acct}, nil
}

func (t *awsTarget) options() awsadmin.Options {
	return awsadmin.Options{Profile: t.profile, EndpointURL: t.endpointURL}
}

// baseURLFlag adds --base-url, which names Rolegate's entity ID, as serve's flag of that name does.
func baseURLFlag(a *app, c *cobra.Command, v *string) {
	c.Flags().StringVar(v, "base-url", a.env("ROLEGATE_BASE_URL"),
		"public URL of the IdP, as serve --base-url (env ROLEGATE_BASE_URL; default: the one the store pinned at first start, and no other)")
}

// metadata is the document /saml/metadata serves for the base URL (given, else the pinned one;
// see app.baseURL for use), from the keys in st; it also returns the base URL, the signing keyring
// and the KEK that opens the keys.
func (a *app) metadata(ctx context.Context, st store.Store, given string, use baseUse) (md []byte, base string, ring *certs.Keyring, kek *certs.KEK, err error) {
	if base, err = a.baseURL(ctx, st, given, use); err != nil {
		return nil, "", nil, nil, err
	}
	if ring, kek, _, err = a.keyring(st); err != nil {
		return nil, "", nil, nil, err
	}
	if err := ring.Ensure(ctx); err != nil {
		return nil, "", nil, nil, err
	}
	md, err = idp.Metadata(ctx, ring, base)
	return md, base, ring, kek, err
}

// accountName is how the aws commands name an account in their output.
func accountName(acct *store.Account) string { return acct.Alias + " (" + acct.ID + ")" }

func awsMetadataCmd(a *app) *cobra.Command {
	var out, base string
	c := &cobra.Command{
		Use:   "metadata [--out FILE]",
		Short: "Print the metadata IAM's SAML provider takes: the bytes /saml/metadata serves",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				md, _, _, _, err := a.metadata(cmd.Context(), st, base, basePin)
				if err != nil {
					return err
				}
				if out == "" {
					_, err := a.stdout.Write(md)
					return err
				}
				if err := awslogin.WriteFileAtomic(out, md, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "wrote %s\n", out)
				return nil
			})
		},
	}
	c.Flags().StringVar(&out, "out", "", "write the document to FILE (replaced atomically, mode 0644) instead of standard output")
	baseURLFlag(a, c, &base)
	return c
}

func awsRegisterCmd(a *app) *cobra.Command {
	var t awsTarget
	var base string
	var dryRun bool
	c := &cobra.Command{
		Use:   "register --account A | --all [--profile P] [--endpoint-url URL] [--dry-run]",
		Short: "Create or update each account's IAM SAML provider with Rolegate's metadata",
		Long: `For each account, create its IAM SAML provider (named as the account's --provider-name) with the
metadata /saml/metadata serves, or update it when the metadata IAM holds differs; a second run
changes nothing. It prints the provider's ARN and what changed, and records what IAM now trusts
(rolegate keys rotate checks it before activating a key). --dry-run reads IAM and says what it
would do, and writes nothing.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				accts, err := t.accounts(ctx, st)
				if err != nil {
					return err
				}
				use := basePin
				if dryRun {
					use = baseRequired // writes nothing, not even the pin
				}
				md, _, _, kek, err := a.metadata(ctx, st, base, use)
				if err != nil {
					return err
				}
				var failed []string
				for _, acct := range accts {
					r, err := a.register(ctx, st, acct, t, awsadmin.RegisterInput{Metadata: md, Keys: st, KEK: kek, DryRun: dryRun})
					if err != nil {
						failed = append(failed, acct.Alias)
						fmt.Fprintf(a.stdout, "%s: not registered: %v\n", accountName(acct), err)
						continue
					}
					fmt.Fprintf(a.stdout, "%s: %s: %s\n", accountName(acct), r.ProviderARN, r.Summary())
				}
				if len(failed) > 0 {
					return fmt.Errorf("%d of %d accounts could not be registered: %s", len(failed), len(accts), strings.Join(failed, ", "))
				}
				return nil
			})
		},
	}
	t.flags(c)
	baseURLFlag(a, c, &base)
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would change and change nothing")
	return c
}

// register registers one account and records (and audits) the outcome; a dry run writes nothing.
func (a *app) register(ctx context.Context, st store.Store, acct *store.Account, t awsTarget, in awsadmin.RegisterInput) (*awsadmin.Registration, error) {
	in.Now = time.Now().UTC()
	c, err := awsadmin.IAM(ctx, acct, t.options())
	var r *awsadmin.Registration
	if err == nil {
		r, err = awsadmin.Register(ctx, c, acct, in)
	}
	if in.DryRun {
		return r, err
	}
	details := map[string]string{"account": acct.ID, "provider_arn": awsadmin.ProviderARN(acct)}
	if err != nil {
		details["outcome"] = "error: " + err.Error()
		if aerr := a.audit(ctx, st, "aws.register", "", details); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if _, err := st.UpdateAccount(ctx, acct.ID, func(ac *store.Account) error {
		ac.AWS.ProviderARN, ac.AWS.IdPID, ac.AWS.TrustedCerts, ac.AWS.CheckedAt = r.Link.ProviderARN, r.Link.IdPID, r.Link.TrustedCerts, r.Link.CheckedAt
		return nil
	}); err != nil {
		return nil, err
	}
	details["outcome"] = r.Summary()
	details["trusted_certs"] = strings.Join(r.Link.TrustedCerts, " ")
	return r, a.audit(ctx, st, "aws.register", "", details)
}

func awsCheckCmd(a *app) *cobra.Command {
	var t awsTarget
	var base string
	c := &cobra.Command{
		Use:   "check --account A | --all [--profile P] [--endpoint-url URL]",
		Short: "Say whether sign-in works now, and after the next keys rotate step, from what IAM holds",
		Long: `For each account, read its SAML provider back from IAM and compare it with Rolegate: the
certificate of the signing key in use, the staged one that the next rolegate keys rotate step
activates, the entity ID and, when the account's assertions are encrypted, the encryption key.
It says in words whether sign-in works now and whether it would still work after that step, and
records what IAM trusts (rolegate keys rotate checks it). Exit status 0 only when both hold for
every account checked.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				accts, err := t.accounts(ctx, st)
				if err != nil {
					return err
				}
				_, base, ring, _, err := a.metadata(ctx, st, base, baseRequired)
				if err != nil {
					return err
				}
				exp := awsadmin.Expect{EntityID: assertions.EntityID(base)}
				if cur, err := ring.Current(ctx); err != nil {
					return err
				} else {
					exp.Current = cur.Cert
				}
				published, err := ring.Published(ctx)
				if err != nil {
					return err
				}
				exp.Published = []string{}
				for _, k := range published {
					if k.State == store.KeyNext {
						exp.Next = k.Cert
					}
					exp.Published = append(exp.Published, certs.Fingerprint(k.Cert))
				}
				var unreachable, broken []string
				for _, acct := range accts {
					v, err := a.check(ctx, st, acct, t, exp)
					if err != nil {
						unreachable = append(unreachable, acct.Alias)
						fmt.Fprintf(a.stdout, "%s: cannot tell: IAM could not be read: %v\n", accountName(acct), err)
						continue
					}
					fmt.Fprintf(a.stdout, "%s: %s\n", accountName(acct), v.Summary())
					for _, l := range v.Lines {
						fmt.Fprintf(a.stdout, "  - %s\n", l)
					}
					for _, l := range v.Warnings {
						fmt.Fprintf(a.stdout, "  - warning: %s\n", l)
					}
					if !v.WorksNow || !v.WorksAfterRotate {
						broken = append(broken, acct.Alias)
					}
				}
				switch {
				case len(unreachable) > 0:
					return fmt.Errorf("IAM could not be read for %s", strings.Join(unreachable, ", "))
				case len(broken) > 0:
					return store.Errorf(store.Conflict, "sign-in is not assured for %s: see above", strings.Join(broken, ", "))
				}
				return nil
			})
		},
	}
	t.flags(c)
	baseURLFlag(a, c, &base)
	return c
}

// check checks one account, records what IAM trusts and audits the outcome.
func (a *app) check(ctx context.Context, st store.Store, acct *store.Account, t awsTarget, exp awsadmin.Expect) (*awsadmin.Verdict, error) {
	exp.Now = time.Now().UTC()
	keys, err := st.ListEncryptionKeys(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.State == store.KeyCurrent {
			exp.EncryptionKeyID = k.AWSKeyID
		}
	}
	c, err := awsadmin.IAM(ctx, acct, t.options())
	var v *awsadmin.Verdict
	if err == nil {
		v, err = awsadmin.Check(ctx, c, acct, exp)
	}
	details := map[string]string{"account": acct.ID}
	if err != nil {
		details["outcome"] = "error: " + err.Error()
		if aerr := a.audit(ctx, st, "aws.check", "", details); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if _, err := st.UpdateAccount(ctx, acct.ID, func(ac *store.Account) error {
		ac.AWS.TrustedCerts, ac.AWS.CheckedAt = v.Link.TrustedCerts, v.Link.CheckedAt
		return nil
	}); err != nil {
		return nil, err
	}
	details["outcome"] = v.Summary()
	details["works_now"] = strconv.FormatBool(v.WorksNow)
	details["works_after_rotate"] = strconv.FormatBool(v.WorksAfterRotate)
	details["trusted_certs"] = strings.Join(v.Link.TrustedCerts, " ")
	if len(v.Warnings) > 0 {
		details["warnings"] = strings.Join(v.Warnings, "; ")
	}
	return v, a.audit(ctx, st, "aws.check", "", details)
}
