package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/assertions"
	"rolegate/certs"
	"rolegate/store"
)

// encryptFlags are account set's --encrypt and --rotate-encryption-key.
type encryptFlags struct {
	cmd    *cobra.Command
	mode   string
	rotate bool
	parsed store.EncryptMode
	key    *store.EncryptionKey // made by check, before anything is written; stored by makeKey
	on     bool                 // the account did not encrypt, and the command turns encryption on
}

func addEncryptFlags(c *cobra.Command) *encryptFlags {
	f := &encryptFlags{cmd: c}
	c.Flags().StringVar(&f.mode, "encrypt", "", "encrypt responses to the account: required, allowed (when its IAM holds the key) or off; then run rolegate aws register")
	c.Flags().BoolVar(&f.rotate, "rotate-encryption-key", false, "make a new encryption key for the account; rolegate aws register uploads it and removes the old one")
	return f
}

// check parses --encrypt and, before anything is written, refuses a rotation while a key made
// earlier still waits for its upload, and makes the key the account will need (sealing it needs
// the KEK), so that a key that cannot be made leaves the account as it was.
func (f *encryptFlags) check(ctx context.Context, a *app, st store.Store, account string) error {
	changed := f.cmd.Flags().Changed("encrypt")
	if changed {
		switch f.mode {
		case "required", "allowed":
			f.parsed = store.EncryptMode(f.mode)
		case "off":
			f.parsed = store.EncryptOff
		default:
			return store.Errorf(store.Invalid, "--encrypt takes required, allowed or off, not %q", f.mode)
		}
	}
	if !changed && !f.rotate {
		return nil
	}
	acct, err := st.GetAccount(ctx, account)
	if err != nil {
		return err
	}
	next, err := liveKey(ctx, st, acct.ID, store.KeyNext)
	if err != nil {
		return err
	}
	cur, err := liveKey(ctx, st, acct.ID, store.KeyCurrent)
	if err != nil {
		return err
	}
	if f.rotate && next != nil {
		return store.Errorf(store.Conflict, "account %s has a new encryption key that IAM does not hold yet (made %s): run rolegate aws register --account %s",
			acct.Alias, next.CreatedAt.Format(time.RFC3339), acct.Alias)
	}
	mode := acct.AWS.Encrypt
	if changed {
		mode = f.parsed
	}
	f.on = acct.AWS.Encrypt == store.EncryptOff && mode != store.EncryptOff
	if !f.rotate && (mode == store.EncryptOff || next != nil || cur != nil) {
		return nil
	}
	kek, err := a.secrets(ctx, st)
	if err != nil {
		return err
	}
	f.key, err = certs.NewEncryptionKey(kek, acct.ID, "Rolegate SAML encryption "+acct.ID, time.Now().UTC(), nil)
	return err
}

// apply sets the mode on the account being updated.
func (f *encryptFlags) apply(ac *store.Account) {
	if f.cmd.Flags().Changed("encrypt") {
		ac.AWS.Encrypt = f.parsed
	}
}

// makeKey stores the key check made (a rotation, or the first key of an account that now
// encrypts), says what to run next, and adds to the audit details. Turning encryption on moves the
// account's Recipient to /saml/acs/IDP_ID once IAM holds the key: it says so, since AWS refuses
// sign-ins whose Recipient the roles' trust policies do not allow.
func (f *encryptFlags) makeKey(ctx context.Context, a *app, st store.Store, acct *store.Account, details map[string]string) error {
	if f.cmd.Flags().Changed("encrypt") {
		details["encrypt"] = encryptWord(acct.AWS.Encrypt)
	}
	if f.key != nil {
		err := st.CreateEncryptionKey(ctx, f.key)
		switch {
		case store.IsCode(err, store.Conflict) && !f.rotate:
			// Another command made the account's first key at the same moment: one is enough.
		case err != nil:
			return err
		default:
			details["encryption_key"] = f.key.ID
			fmt.Fprintf(a.stdout, "made encryption key %s for account %s: run rolegate aws register --account %s to upload it to IAM\n", f.key.ID, acct.Alias, acct.Alias)
		}
	}
	if !f.on {
		return nil
	}
	if acct.AWS.IdPID != "" {
		enc, err := assertions.EncryptedSignInURL(acct.Partition, assertions.AccountRegion(acct), acct.AWS.IdPID)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "once IAM holds the key, sign-ins to %s go to %s: first allow it in SAML:aud of the account's roles' trust policies (rolegate aws trust-policy --account %s --role ROLE), or AWS refuses them\n",
			acct.Alias, enc, acct.Alias)
		return nil
	}
	region := assertions.AccountRegion(acct)
	if region == "" {
		region = store.DefaultRegions[acct.Partition]
	}
	base, err := assertions.SignInURL(acct.Partition, region)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "once aws register has uploaded the key, sign-ins to %s go to %s/acs/IDP_ID with the IdP ID that register records: "+
		"then print the account's roles' trust policies again (rolegate aws trust-policy --account %s --role ROLE) and update the roles, or AWS refuses the sign-ins\n",
		acct.Alias, base, acct.Alias)
	return nil
}

// liveKey is the account's key in state, or nil.
func liveKey(ctx context.Context, st store.Store, accountID string, state store.KeyState) (*store.EncryptionKey, error) {
	keys, err := st.ListEncryptionKeys(ctx, accountID)
	for _, k := range keys {
		if k.State == state {
			return k, err
		}
	}
	return nil, err
}

func encryptWord(m store.EncryptMode) string {
	if m == store.EncryptOff {
		return "off"
	}
	return string(m)
}

// encryptionText is account list's word on encryption: the mode, and where the keys stand.
func encryptionText(ctx context.Context, st store.Store, acct *store.Account) (string, error) {
	keys, err := st.ListEncryptionKeys(ctx, acct.ID)
	if err != nil {
		return "", err
	}
	var parts []string
	next := false
	for _, state := range []store.KeyState{store.KeyCurrent, store.KeyNext} {
		for _, k := range keys {
			switch {
			case k.State != state:
			case state == store.KeyCurrent:
				parts = append(parts, "key current")
			case k.AWSKeyID != "": // uploaded by an aws register that stopped before making it current
				parts, next = append(parts, "key next (in IAM, not current yet)"), true
			default:
				parts, next = append(parts, "key next (not in IAM yet)"), true
			}
		}
	}
	// aws register moves on only an account that encrypts, and only once it has a key.
	on := acct.AWS.Encrypt != store.EncryptOff
	if on && len(parts) == 0 {
		return encryptWord(acct.AWS.Encrypt) + ", no key: rolegate account set " + acct.Alias + " --rotate-encryption-key", nil
	}
	pending := on && next
	if on && acct.AWS.IdPID == "" {
		parts, pending = append(parts, "no IdP ID"), true
	}
	if pending {
		parts[len(parts)-1] += ": rolegate aws register"
	}
	if len(parts) == 0 {
		return encryptWord(acct.AWS.Encrypt), nil
	}
	return encryptWord(acct.AWS.Encrypt) + ", " + strings.Join(parts, ", "), nil
}
