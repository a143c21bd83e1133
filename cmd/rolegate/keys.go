package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/certs"
	"rolegate/store"
)

func keysCmd(a *app) *cobra.Command {
	return group("keys", "List and rotate SAML signing keys", keysListCmd(a), keysRotateCmd(a))
}

// accountTrustJSON is an account as a key's trust sees it: when IAM's certificates were last read.
type accountTrustJSON struct {
	ID        string    `json:"account_id"`
	Alias     string    `json:"account_alias"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

type keyJSON struct {
	ID          string    `json:"id"`
	State       string    `json:"state"`
	Fingerprint string    `json:"sha256_fingerprint"`
	Bits        int       `json:"bits"`
	NotAfter    time.Time `json:"not_after"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
	// Accounts whose IAM held the certificate when last checked, those whose IAM did not, and
	// those never checked.
	TrustedBy    []accountTrustJSON `json:"trusted_by"`
	NotTrustedBy []accountTrustJSON `json:"not_trusted_by"`
	Unchecked    []accountTrustJSON `json:"unchecked"`
}

func describeKey(k *store.SigningKey) (keyJSON, error) {
	cert, err := x509.ParseCertificate(k.Certificate)
	if err != nil {
		return keyJSON{}, fmt.Errorf("signing key %s: %w", k.ID, err)
	}
	bits := 0
	if pk, ok := cert.PublicKey.(interface{ Size() int }); ok {
		bits = pk.Size() * 8
	}
	return keyJSON{ID: k.ID, State: string(k.State), Fingerprint: certs.Fingerprint(cert), Bits: bits,
		NotAfter: cert.NotAfter, CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt}, nil
}

// sortTrust fills in which accounts trust the key, as their IAM was last checked.
func (k *keyJSON) sortTrust(accts []*store.Account) {
	k.TrustedBy, k.NotTrustedBy, k.Unchecked = []accountTrustJSON{}, []accountTrustJSON{}, []accountTrustJSON{}
	for _, ac := range accts {
		t := accountTrustJSON{ac.ID, ac.Alias, ac.AWS.CheckedAt}
		switch {
		case ac.AWS.CheckedAt.IsZero():
			k.Unchecked = append(k.Unchecked, t)
		case slices.Contains(ac.AWS.TrustedCerts, k.Fingerprint):
			k.TrustedBy = append(k.TrustedBy, t)
		default:
			k.NotTrustedBy = append(k.NotTrustedBy, t)
		}
	}
}

// accountNames lists accounts as "alias (ID)" with the time of their check when with is set.
func accountNames(list []accountTrustJSON, withTime bool) string {
	var s []string
	for _, t := range list {
		n := t.Alias + " (" + t.ID
		if withTime {
			n += ", checked " + t.CheckedAt.UTC().Format(time.RFC3339)
		}
		s = append(s, n+")")
	}
	return strings.Join(s, ", ")
}

func dateOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

func keysListCmd(a *app) *cobra.Command {
	var lf listFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List signing keys, their state (next, current, previous, retired) and which accounts trust them",
		Long: `Lists every signing key: next (published, not yet signing), current (signing), previous (signed
until the last activation, still published) and retired. For each it says which accounts' IAM
held its certificate when rolegate aws check (or register) last read it, which did not, and which
were never checked; and it says what the next rolegate keys rotate would do.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				keys, err := st.ListSigningKeys(ctx)
				if err != nil {
					return err
				}
				accts, err := st.ListAccounts(ctx)
				if err != nil {
					return err
				}
				out := make([]keyJSON, 0, len(keys))
				for _, k := range keys {
					kj, err := describeKey(k)
					if err != nil {
						return err
					}
					kj.sortTrust(accts)
					out = append(out, kj)
				}
				t := newTable("ID", "STATE", "CREATED", "ACTIVATED", "RETIRED", "NOT_AFTER", "BITS", "SHA256_FINGERPRINT")
				for _, k := range out {
					t.add(k.ID, k.State, dateOrDash(k.CreatedAt), dateOrDash(k.ActivatedAt), dateOrDash(k.RetiredAt), dateOrDash(k.NotAfter),
						strconv.Itoa(k.Bits), k.Fingerprint)
				}
				t.foot = func(w io.Writer) error { return a.keysNotes(w, keys, out) }
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}

// keysNotes says, under keys list's table, which accounts trust each key and what comes next.
func (a *app) keysNotes(w io.Writer, keys []*store.SigningKey, out []keyJSON) error {
	for _, k := range out {
		if k.State == string(store.KeyRetired) {
			continue
		}
		fmt.Fprintf(w, "\n%s (%s):\n", k.ID, k.State)
		for _, l := range []struct {
			what string
			list []accountTrustJSON
		}{{"trusted by", k.TrustedBy}, {"not trusted by", k.NotTrustedBy}, {"never checked", k.Unchecked}} {
			if len(l.list) > 0 {
				fmt.Fprintf(w, "  %s: %s\n", l.what, accountNames(l.list, l.what != "never checked"))
			}
		}
	}
	if len(keys) > 0 {
		_, err := fmt.Fprintln(w, "\nnext: "+nextStepText(keys, a.now()))
		return err
	}
	return nil
}

// nextStepText says what the next rolegate keys rotate does at now.
func nextStepText(keys []*store.SigningKey, now time.Time) string {
	switch action, k := certs.NextStep(keys); action {
	case certs.Retired:
		when := ""
		for _, c := range keys {
			if at := c.ActivatedAt.Add(certs.DefaultSettle); c.State == store.KeyCurrent && now.Before(at) {
				when = ", from " + at.UTC().Format(time.RFC3339) + " (servers may sign with it until then)"
			}
		}
		return "rolegate keys rotate retires " + k.ID + " (previous): it leaves the metadata" + when
	case certs.Activated:
		return "rolegate keys rotate activates " + k.ID + " (next) once every account's IAM trusts it"
	default:
		return "rolegate keys rotate stages a new next key"
	}
}

// activationGate refuses to activate a key that some account's IAM was not seen to hold: an
// account whose last check found other certificates, or one never checked. It records them in
// lacking and unchecked for the caller.
func activationGate(st store.Store, lacking, unchecked *[]accountTrustJSON) certs.Check {
	return func(ctx context.Context, next *store.SigningKey) error {
		kj, err := describeKey(next)
		if err != nil {
			return err
		}
		accts, err := st.ListAccounts(ctx)
		if err != nil {
			return err
		}
		kj.sortTrust(accts)
		*lacking, *unchecked = kj.NotTrustedBy, kj.Unchecked
		if len(kj.NotTrustedBy)+len(kj.Unchecked) == 0 {
			return nil
		}
		var why []string
		if len(kj.NotTrustedBy) > 0 {
			why = append(why, "IAM does not hold it in "+accountNames(kj.NotTrustedBy, true))
		}
		if len(kj.Unchecked) > 0 {
			why = append(why, "never checked: "+accountNames(kj.Unchecked, false))
		}
		return store.Errorf(store.Conflict, "not activating signing key %s: %s; run `rolegate aws register --all` then `rolegate aws check --all`, then rotate again (--force activates anyway, and those accounts' sign-ins fail)",
			next.ID, strings.Join(why, "; "))
	}
}

func keysRotateCmd(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "rotate",
		Short: "Take the next step of a signing-key rotation: stage, activate or retire",
		Long: fmt.Sprintf(`A rotation takes three steps, one per run:

  stage     with no next and no previous key: a new next key. Its certificate is published in the
            metadata beside the current one; nothing signs with it yet. Then run
            rolegate aws register --all and rolegate aws check --all, so that every account's IAM
            holds it.
  activate  with a next key: it signs from now on, and the current key becomes previous, still
            published. Refused while any account's IAM was not seen to hold the next key (by
            rolegate aws check or register) or was never checked; --force activates anyway, and
            says which accounts' sign-ins will fail.
  retire    with a previous key: it leaves the metadata. Refused within %s of the activation,
            while servers may still sign with it (--force retires anyway). Then run
            rolegate aws register --all, so that IAM stops trusting it.

Servers reread the keys every %s. rolegate keys list shows each key's state and which accounts
trust it. Every step is audited (keys.staged, keys.activated, keys.retired).`, certs.DefaultSettle, certs.DefaultRefresh),
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				ring, _, _, err := a.keyring(st)
				if err != nil {
					return err
				}
				var lacking, unchecked []accountTrustJSON
				step, err := ring.Rotate(ctx, activationGate(st, &lacking, &unchecked), force)
				if err != nil {
					return err
				}
				kj, err := describeKey(step.Key)
				if err != nil {
					return err
				}
				details := map[string]string{"key": kj.ID, "fingerprint": kj.Fingerprint}
				if step.Overridden != nil {
					details["forced"] = "true"
					details["overridden"] = store.ErrorMessage(step.Overridden)
				}
				w := a.stdout
				switch step.Action {
				case certs.Staged:
					fmt.Fprintf(w, "staged next signing key %s (SHA-256 %s): published in the metadata, not signing yet\n", kj.ID, kj.Fingerprint)
					fmt.Fprintln(w, "next: rolegate aws register --all (every account's IAM gets the new metadata), rolegate aws check --all, then rolegate keys rotate to activate it")
				case certs.Activated:
					if step.Overridden != nil {
						if len(lacking) > 0 {
							fmt.Fprintf(w, "forced: sign-in will fail for %s: their IAM does not hold key %s\n", accountNames(lacking, false), kj.ID)
							details["untrusted_accounts"] = accountIDs(lacking)
						}
						if len(unchecked) > 0 {
							fmt.Fprintf(w, "forced: sign-in fails for %s unless their IAM holds key %s (never checked)\n", accountNames(unchecked, false), kj.ID)
							details["unchecked_accounts"] = accountIDs(unchecked)
						}
					}
					fmt.Fprintf(w, "activated signing key %s (SHA-256 %s): it signs from now on (servers switch within %s)\n", kj.ID, kj.Fingerprint, certs.DefaultRefresh)
					fmt.Fprintf(w, "the previous key stays in the metadata; next: from %s, rolegate keys rotate to retire it\n",
						step.Key.ActivatedAt.Add(ring.Settle).UTC().Format(time.RFC3339))
				default:
					if step.Overridden != nil {
						fmt.Fprintf(w, "forced: %s\n", store.ErrorMessage(step.Overridden))
					}
					fmt.Fprintf(w, "retired signing key %s (SHA-256 %s): it has left the metadata\n", kj.ID, kj.Fingerprint)
					fmt.Fprintln(w, "next: rolegate aws register --all, so that IAM stops trusting it, and rolegate aws check --all")
				}
				return a.audit(ctx, st, "keys."+step.Action, "", details)
			})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "take the step although a check refuses it: activate a key some account's IAM does not hold, or retire a key servers may still sign with")
	return c
}

func accountIDs(list []accountTrustJSON) string {
	var s []string
	for _, t := range list {
		s = append(s, t.ID)
	}
	return strings.Join(s, ",")
}
