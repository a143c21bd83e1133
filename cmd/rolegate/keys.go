package main

import (
	"crypto/x509"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"rolegate/certs"
	"rolegate/store"
)

func keysCmd(a *app) *cobra.Command {
	return group("keys", "List and rotate SAML signing keys", keysListCmd(a), keysRotateCmd(a))
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

func keysListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List signing keys: current (signing), next (published, not yet signing), retired",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				keys, err := st.ListSigningKeys(cmd.Context())
				if err != nil {
					return err
				}
				out := make([]keyJSON, 0, len(keys))
				for _, k := range keys {
					kj, err := describeKey(k)
					if err != nil {
						return err
					}
					out = append(out, kj)
				}
				if asJSON {
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTATE\tBITS\tNOT AFTER\tSHA-256 FINGERPRINT")
				for _, k := range out {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", k.ID, k.State, k.Bits, k.NotAfter.Format(time.DateOnly), k.Fingerprint)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func keysRotateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Rotate the signing key in two steps: stage the next key, then promote it",
		Long: `The first rotate creates the next key and publishes its certificate in the metadata beside the
current one; nothing signs with it yet. Upload the new metadata to every AWS account (IAM
UpdateSAMLProvider), then run rotate again: the next key becomes current and the old one retires.`,
		Args: nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				ring, _, _, err := a.keyring(st)
				if err != nil {
					return err
				}
				if err := ring.Ensure(ctx); err != nil {
					return err
				}
				action, key, err := ring.Rotate(ctx)
				if err != nil {
					return err
				}
				kj, err := describeKey(key)
				if err != nil {
					return err
				}
				switch action {
				case certs.Staged:
					fmt.Fprintf(a.stdout, "staged next signing key %s (SHA-256 %s)\n", kj.ID, kj.Fingerprint)
					fmt.Fprintln(a.stdout, "the metadata now lists it beside the current key; upload the metadata to IAM, then run `rolegate keys rotate` again")
				default:
					fmt.Fprintf(a.stdout, "promoted signing key %s (SHA-256 %s): it signs from now on; the old key is retired\n", kj.ID, kj.Fingerprint)
				}
				return a.audit(ctx, st, "keys."+action, "", map[string]string{"key": kj.ID, "fingerprint": kj.Fingerprint})
			})
		},
	}
}
