package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"rolegate/certs"
	"rolegate/store"
)

// encryptFlags are account set's --encrypt and --rotate-encryption-key.
type encryptFlags struct {
	cmd    *cobra.Command
	mode   string
	rotate bool
	parsed store.EncryptMode
}

func addEncryptFlags(c *cobra.Command) *encryptFlags {
	f := &encryptFlags{cmd: c}
	c.Flags().StringVar(&f.mode, "encrypt", "", "encrypt responses to the account: required, allowed (when its IAM holds the key) or off; then run rolegate aws register")
	c.Flags().BoolVar(&f.rotate, "rotate-encryption-key", false, "make a new encryption key for the account; rolegate aws register uploads it and removes the old one")
	return f
}

// check parses --encrypt and, before anything is written, refuses a rotation while a key made
// earlier still waits for its upload.
func (f *encryptFlags) check(ctx context.Context, st store.Store, account string) error {
	if f.cmd.Flags().Changed("encrypt") {
		switch f.mode {
		case "required", "allowed":
			f.parsed = store.EncryptMode(f.mode)
		case "off":
			f.parsed = store.EncryptOff
		default:
			return store.Errorf(store.Invalid, "--encrypt takes required, allowed or off, not %q", f.mode)
		}
	}
	if !f.rotate {
		return nil
	}
	acct, err := st.GetAccount(ctx, account)
	if err != nil {
		return err
	}
	if next, err := liveKey(ctx, st, acct.ID, store.KeyNext); err != nil {
		return err
	} else if next != nil {
		return store.Errorf(store.Conflict, "account %s has a new encryption key that IAM does not hold yet (made %s): run rolegate aws register --account %s",
			acct.Alias, next.CreatedAt.Format(time.RFC3339), acct.Alias)
	}
	return nil
}

// apply sets the mode on the account being updated.
func (f *encryptFlags) apply(ac *store.Account) {
	if f.cmd.Flags().Changed("encrypt") {
		ac.AWS.Encrypt = f.parsed
	}
}

// makeKey makes the account's next encryption key when it is asked to rotate, or when it now
// encrypts and has no key; it says what to run next and adds to the audit details.
func (f *encryptFlags) makeKey(ctx context.Context, a *app, st store.Store, acct *store.Account, details map[string]string) error {
	if f.cmd.Flags().Changed("encrypt") {
		details["encrypt"] = encryptWord(acct.AWS.Encrypt)
	}
	next, err := liveKey(ctx, st, acct.ID, store.KeyNext)
	if err != nil {
		return err
	}
	cur, err := liveKey(ctx, st, acct.ID, store.KeyCurrent)
	if err != nil {
		return err
	}
	if !f.rotate && (acct.AWS.Encrypt == store.EncryptOff || next != nil || cur != nil) {
		return nil
	}
	kek, err := a.secrets(ctx, st)
	if err != nil {
		return err
	}
	k, err := certs.NewEncryptionKey(kek, acct.ID, "Rolegate SAML encryption "+acct.ID, time.Now().UTC(), nil)
	if err != nil {
		return err
	}
	if err := st.CreateEncryptionKey(ctx, k); err != nil {
		return err
	}
	details["encryption_key"] = k.ID
	fmt.Fprintf(a.stdout, "made encryption key %s for account %s: run rolegate aws register --account %s to upload it to IAM\n", k.ID, acct.Alias, acct.Alias)
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
	for _, ks := range []struct {
		state store.KeyState
		word  string
	}{{store.KeyCurrent, "key current"}, {store.KeyNext, "key next (not in IAM yet)"}} {
		if slices.ContainsFunc(keys, func(k *store.EncryptionKey) bool { return k.State == ks.state }) {
			parts = append(parts, ks.word)
		}
	}
	pending := slices.Contains(parts, "key next (not in IAM yet)")
	if acct.AWS.Encrypt != store.EncryptOff && acct.AWS.IdPID == "" {
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
