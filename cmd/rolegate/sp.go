package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crewjam/saml"
	"github.com/spf13/cobra"

	"rolegate/idp"
	"rolegate/store"
)

func spCmd(a *app) *cobra.Command {
	return group("sp", "Manage the SAML service providers that users sign in to through Rolegate (SP-initiated SSO)",
		spAddCmd(a), spListCmd(a), spSetCmd(a),
		simpleCmd(a, "remove ENTITY_ID", "Remove a service provider", "sp.remove",
			func(cmd *cobra.Command, st store.Store, args []string) (string, error) {
				return "removed service provider " + args[0], st.DeleteServiceProvider(cmd.Context(), args[0])
			}, "ENTITY_ID"))
}

func spAddCmd(a *app) *cobra.Command {
	var file string
	var requireSigned bool
	c := &cobra.Command{
		Use:   "add --metadata FILE",
		Short: "Register a service provider from its SAML metadata (FILE, or - for standard input)",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return store.Errorf(store.Invalid, "--metadata FILE is required (- reads standard input)")
			}
			raw, err := a.readMetadata(file)
			if err != nil {
				return err
			}
			ed, err := idp.ParseSPMetadata(raw)
			if err != nil {
				return err
			}
			if err := canVerifyRequests(ed, requireSigned); err != nil {
				return err
			}
			acs := idp.SPACSURLs(ed)
			return a.withStore(cmd.Context(), func(st store.Store) error {
				sp := &store.ServiceProvider{EntityID: ed.EntityID, Metadata: raw, RequireSignedRequests: requireSigned}
				if err := st.CreateServiceProvider(cmd.Context(), sp); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "added service provider %s (ACS %s)\n", ed.EntityID, strings.Join(acs, ", "))
				return a.audit(cmd.Context(), st, "sp.add", "", map[string]string{"entity_id": ed.EntityID, "acs": strings.Join(acs, " "),
					"require_signed_requests": strconv.FormatBool(requireSigned)})
			})
		},
	}
	c.Flags().StringVar(&file, "metadata", "", "the SP's SAML metadata: a file, or - for standard input (at most 1 MiB)")
	c.Flags().BoolVar(&requireSigned, "require-signed-requests", false, "refuse the SP's unsigned AuthnRequests (its metadata must hold a signing certificate)")
	return c
}

func spSetCmd(a *app) *cobra.Command {
	var requireSigned bool
	c := &cobra.Command{
		Use:   "set ENTITY_ID --require-signed-requests[=false]",
		Short: "Change how Rolegate treats a service provider's requests",
		Args:  nargs("ENTITY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("require-signed-requests") {
				return store.Errorf(store.Invalid, "nothing to change: give --require-signed-requests or --require-signed-requests=false")
			}
			ctx := cmd.Context()
			return a.withStore(ctx, func(st store.Store) error {
				sp, err := st.GetServiceProvider(ctx, args[0])
				if err != nil {
					return err
				}
				ed, err := idp.ParseSPMetadata(sp.Metadata)
				if err != nil {
					return err
				}
				if err := canVerifyRequests(ed, requireSigned); err != nil {
					return err
				}
				if err := st.SetSPRequireSignedRequests(ctx, sp.EntityID, requireSigned); err != nil {
					return err
				}
				msg := "now accepts unsigned requests"
				switch promised, _ := idp.SPRequestSigning(ed); {
				case requireSigned:
					msg = "now must sign its requests"
				case promised:
					msg = `no longer required to sign by Rolegate, but its metadata says AuthnRequestsSigned="true", so its requests must still be signed`
				}
				fmt.Fprintf(a.stdout, "service provider %s %s\n", sp.EntityID, msg)
				return a.audit(ctx, st, "sp.set", "", map[string]string{"entity_id": sp.EntityID, "require_signed_requests": strconv.FormatBool(requireSigned)})
			})
		},
	}
	c.Flags().BoolVar(&requireSigned, "require-signed-requests", false, "=true refuses the SP's unsigned AuthnRequests; =false accepts them again (unless its metadata promises signatures)")
	return c
}

// canVerifyRequests refuses an SP that must sign its requests (its metadata promises it, or
// requireSigned) but whose metadata has no signing certificate: every request of it would be refused.
func canVerifyRequests(ed *saml.EntityDescriptor, requireSigned bool) error {
	promised, verifiable := idp.SPRequestSigning(ed)
	switch {
	case verifiable:
	case requireSigned:
		return store.Errorf(store.Invalid, "the metadata of %q has no signing certificate to check its requests with; add one to the metadata before --require-signed-requests", ed.EntityID)
	case promised:
		return store.Errorf(store.Invalid, `the metadata of %q says AuthnRequestsSigned="true" but has no signing certificate to check its requests with`, ed.EntityID)
	}
	return nil
}

// readMetadata reads at most idp.MaxSPMetadataBytes from a file or, for "-", standard input.
func (a *app) readMetadata(file string) ([]byte, error) {
	var r io.Reader = a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, store.Errorf(store.Invalid, "cannot read the metadata: %v", err)
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, idp.MaxSPMetadataBytes+1))
	if err != nil {
		return nil, store.Errorf(store.Invalid, "cannot read the metadata: %v", err)
	}
	if len(raw) > idp.MaxSPMetadataBytes {
		return nil, store.Errorf(store.Invalid, "the metadata is larger than 1 MiB")
	}
	return raw, nil
}

func spListCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List service providers",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(st store.Store) error {
				sps, err := st.ListServiceProviders(cmd.Context())
				if err != nil {
					return err
				}
				type spJSON struct {
					EntityID              string    `json:"entity_id"`
					ACSURLs               []string  `json:"acs_urls"`
					AddedAt               time.Time `json:"added_at"`
					Problem               string    `json:"problem,omitempty"` // why the stored metadata is no longer accepted
					RequireSignedRequests bool      `json:"require_signed_requests"`
				}
				out := make([]spJSON, 0, len(sps))
				for _, sp := range sps {
					j := spJSON{EntityID: sp.EntityID, ACSURLs: []string{}, AddedAt: sp.CreatedAt.UTC(), RequireSignedRequests: sp.RequireSignedRequests}
					if ed, err := idp.ParseSPMetadata(sp.Metadata); err != nil {
						j.Problem = store.ErrorMessage(err)
					} else {
						j.ACSURLs = idp.SPACSURLs(ed)
					}
					out = append(out, j)
				}
				if asJSON {
					return a.printJSON(out)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ENTITY ID\tACS\tADDED")
				for _, j := range out {
					acs := strings.Join(j.ACSURLs, ",")
					if j.Problem != "" {
						acs = "(unusable: " + j.Problem + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", j.EntityID, dash(acs), j.AddedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
