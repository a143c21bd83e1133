package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"rolegate/awsadmin"
	"rolegate/store"
)

func awsRevokeCmd(a *app) *cobra.Command {
	var user string
	var prune, dryRun bool
	var target awsTarget
	c := &cobra.Command{
		Use:   "revoke --user U [--account A] [--prune]",
		Short: "End a person's live AWS sessions: on each role they are granted, deny sessions with their SourceIdentity issued before now",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if user == "" && !prune {
				return store.Errorf(store.Invalid, "--user is required (or --prune alone, to drop expired statements)")
			}
			return a.withStore(ctx, func(st store.Store) error {
				return a.revokeAWS(ctx, st, awsadmin.RevokeRequest{User: user, Account: target.account, Prune: prune, DryRun: dryRun,
					Now: time.Now(), Options: target.options()})
			})
		},
	}
	c.Flags().StringVar(&user, "user", "", "the user whose sessions to end")
	c.Flags().StringVar(&target.account, "account", "", "only this account (alias or ID); default: every account where the user holds a role")
	c.Flags().BoolVar(&prune, "prune", false, "also drop statements older than the longest session the account's grants give")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the policies that would be written; change nothing")
	target.iamFlags(c)
	return c
}

// revokeAWS runs a revocation, prints and audits what it did in each account and role, and fails
// when anything failed or, for a user, when nothing at all was revoked.
func (a *app) revokeAWS(ctx context.Context, st store.Store, req awsadmin.RevokeRequest) error {
	res, err := awsadmin.Revoke(ctx, st, req)
	if err != nil {
		return err
	}
	results := res.Accounts
	failed, revoked := 0, 0
	var refusal error
	for _, r := range results {
		acct := fmt.Sprintf("account %s (%s)", r.Account.Alias, r.Account.ID)
		details := func(role string, extra ...string) map[string]string {
			d := map[string]string{"account": r.Account.Alias, "account_id": r.Account.ID, "role": role}
			if r.Revocation != nil {
				d["source_identity"], d["before"] = r.Revocation.SourceIdentity, r.Revocation.Before.Format(time.RFC3339)
			}
			if req.Prune {
				d["prune"] = "true"
			}
			for i := 0; i+1 < len(extra); i += 2 {
				d[extra[i]] = extra[i+1]
			}
			return d
		}
		record := func(role string, err error, extra ...string) error {
			if req.DryRun {
				return nil
			}
			return a.auditResult(ctx, st, "aws.revoke", res.User, err, details(role, extra...))
		}
		switch {
		case r.Refused != nil:
			fmt.Fprintf(a.stdout, "%s: nothing revoked: %s\n", acct, store.ErrorMessage(r.Refused))
			if refusal == nil {
				refusal = r.Refused
			}
			if err := record("", r.Refused); err != nil {
				return err
			}
			continue
		case r.Err != nil:
			failed++
			fmt.Fprintf(a.stdout, "%s: failed: %v\n", acct, r.Err)
			if err := record("", r.Err); err != nil {
				return err
			}
			continue
		}
		for _, rc := range r.Roles {
			fmt.Fprintf(a.stdout, "%s role %s: %s\n", acct, rc.Role, roleOutcome(r, rc))
			if rc.DryRun && rc.Document != "" && rc.Outcome == awsadmin.RoleWritten {
				fmt.Fprintln(a.stdout, rc.Document)
			}
			switch rc.Outcome {
			case awsadmin.RoleFailed, awsadmin.RoleMissing:
				failed++
			case awsadmin.RoleWritten:
				if r.Revocation != nil {
					revoked++
				}
			}
			if err := record(rc.Role, rc.Err, "outcome", rc.Outcome, "pruned", strconv.Itoa(rc.Pruned)); err != nil {
				return err
			}
		}
	}
	if !res.Redeemable.IsZero() && revoked > 0 {
		fmt.Fprintf(a.stdout, "note: %s was issued a SAML assertion that AWS may accept until about %s; a session made from it after now is not denied: run `rolegate aws revoke --user %s` again after that (a disabled user gets no new one)\n",
			res.User, res.Redeemable.UTC().Format(time.RFC3339), res.User)
	}
	switch {
	case failed > 0:
		return store.Errorf(store.Internal, "%d of the revocation's steps failed (see above)", failed)
	case req.User != "" && revoked == 0 && refusal != nil:
		return store.Errorf(store.ErrorCode(refusal), "nothing was revoked for %s", res.User)
	}
	return nil
}

// roleOutcome says in words what happened to one role's revocation policy.
func roleOutcome(r *awsadmin.AccountRevocation, rc awsadmin.RoleChange) string {
	verb := func(done, dry string) string { return map[bool]string{true: dry, false: done}[rc.DryRun] }
	pruned := ""
	if rc.Pruned > 0 {
		pruned = fmt.Sprintf("; %s %d expired statement(s) (sessions last at most %s there)", verb("pruned", "would prune"), rc.Pruned, r.Longest)
	}
	switch rc.Outcome {
	case awsadmin.RoleWritten:
		if r.Revocation == nil {
			return fmt.Sprintf("%s policy %s%s", verb("wrote", "would write"), awsadmin.RevokePolicyName, pruned)
		}
		return fmt.Sprintf("%s sessions with SourceIdentity %s issued before %s (policy %s)%s", verb("denied", "would deny"),
			r.Revocation.SourceIdentity, r.Revocation.Before.Format(time.RFC3339), awsadmin.RevokePolicyName, pruned)
	case awsadmin.RoleDeleted:
		return fmt.Sprintf("every statement had expired: %s policy %s", verb("deleted", "would delete"), awsadmin.RevokePolicyName)
	case awsadmin.RoleUnchanged:
		return "nothing to prune"
	case awsadmin.RoleMissing:
		return "skipped: IAM has no such role (NoSuchEntity)"
	}
	return fmt.Sprintf("failed: %v", rc.Err)
}
