package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/crewjam/saml"
	"github.com/spf13/cobra"

	"rolegate/idp/sso"
	"rolegate/store"
)

func spCmd(a *app) *cobra.Command {
	return group("sp", "Manage the SAML service providers that users sign in to through Rolegate (SP-initiated SSO)",
		spAddCmd(a), spSetCmd(a), spListCmd(a),
		withYes(a, simpleCmd(a, "remove ENTITY_ID", "Remove a service provider", "sp.remove",
			func(cmd *cobra.Command, st store.Store, args []string) (string, error) {
				if _, err := st.GetServiceProvider(cmd.Context(), args[0]); err != nil {
					return "", err
				} else if err := a.confirm(cmd, "service provider "+args[0], []string{"the pairwise NameIDs issued for it"}); err != nil {
					return "", err
				}
				return "removed service provider " + args[0], st.DeleteServiceProvider(cmd.Context(), args[0])
			}, "ENTITY_ID")))
}

func spAddCmd(a *app) *cobra.Command {
	var file, release, format string
	var allow []string
	var requireSigned bool
	var af addFlags
	c := &cobra.Command{
		Use:   "add --metadata FILE [--release ATTRS] [--nameid-format F] [--allow-group G]...",
		Short: "Register a service provider from its SAML metadata (FILE, or - for standard input)",
		Args:  nargs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return store.Errorf(store.Invalid, "--metadata FILE is required (- reads standard input)")
			}
			rel, err := store.ParseRelease(release)
			if err != nil {
				return err
			}
			fixed, err := store.ParseNameIDFormat(format)
			if err != nil {
				return err
			}
			raw, err := a.readMetadata(file)
			if err != nil {
				return err
			}
			ed, err := sso.ParseSPMetadata(raw)
			if err != nil {
				return err
			}
			if err := canVerifyRequests(ed, requireSigned); err != nil {
				return err
			}
			acs := sso.SPACSURLs(ed)
			return a.withStore(cmd.Context(), func(st store.Store) error {
				sp := &store.ServiceProvider{EntityID: ed.EntityID, Metadata: raw, Release: rel, AllowedGroups: allow, RequireSignedRequests: requireSigned,
					NameIDFormat: fixed}
				if err := st.CreateServiceProvider(cmd.Context(), sp); err != nil {
					return af.taken(a, err, func() (string, bool, any, error) {
						old, err := st.GetServiceProvider(cmd.Context(), sp.EntityID)
						if err != nil {
							return "", false, nil, err
						}
						return "service provider " + old.EntityID, sameSP(old, sp), spJSONOf(old), nil
					})
				}
				if err := af.done(a, spJSONOf(sp), fmt.Sprintf("added service provider %s (ACS %s)", ed.EntityID, strings.Join(acs, ", "))); err != nil {
					return err
				}
				details := spPolicyDetails(sp)
				details["acs"] = strings.Join(acs, " ")
				return a.audit(cmd.Context(), st, "sp.add", "", details)
			})
		},
	}
	c.Flags().StringVar(&file, "metadata", "", "the SP's SAML metadata: a file, or - for standard input (at most 1 MiB)")
	spReleaseFlag(c, &release)
	spNameIDFlag(c, &format)
	c.Flags().StringArrayVar(&allow, "allow-group", nil, "only members of this group may use the SP (repeatable; default: every user)")
	c.Flags().BoolVar(&requireSigned, "require-signed-requests", false, "refuse the SP's unsigned AuthnRequests (its metadata must hold a signing certificate)")
	af.register(c)
	return c
}

func spReleaseFlag(c *cobra.Command, release *string) {
	c.Flags().StringVar(release, "release", "", "attributes sent besides the pairwise NameID, comma-separated: "+
		strings.Join(store.ReleaseAttrs, ",")+`; "none" or "" sends none (the default)`)
}

// spNameIDFlag is --nameid-format: the one NameID format the SP gets, or unspecified.
func spNameIDFlag(c *cobra.Command, format *string) {
	c.Flags().StringVar(format, "nameid-format", store.NameIDUnspecified, "the only NameID format the SP gets: "+strings.Join(store.NameIDFormats, ", ")+
		"; "+store.NameIDUnspecified+" (the default) honours its requests' NameIDPolicy, persistent when they name none")
}

func spSetCmd(a *app) *cobra.Command {
	var release, format string
	var allow, disallow []string
	var clearGroups, requireSigned bool
	var af addFlags
	c := &cobra.Command{
		Use:   "set ENTITY_ID [--release ATTRS] [--nameid-format F] [--allow-group G]... [--remove-allow-group G]... [--clear-allow-groups] [--require-signed-requests[=false]]",
		Short: "Change what a service provider receives, its NameID format, who may use it, and whether its requests must be signed",
		Args:  nargs("ENTITY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			if !slices.ContainsFunc([]string{"release", "nameid-format", "allow-group", "remove-allow-group", "clear-allow-groups", "require-signed-requests"}, fl.Changed) {
				return store.Errorf(store.Invalid, "nothing to change: give --release, --nameid-format, --allow-group, --remove-allow-group, --clear-allow-groups or --require-signed-requests[=false]")
			}
			rel, err := store.ParseRelease(release)
			if err != nil {
				return err
			}
			fixed, err := store.ParseNameIDFormat(format)
			if err != nil {
				return err
			}
			return a.withStore(cmd.Context(), func(st store.Store) error {
				sp, err := st.UpdateServiceProvider(cmd.Context(), args[0], func(sp *store.ServiceProvider) error {
					if fl.Changed("release") {
						sp.Release = rel
					}
					if fl.Changed("nameid-format") {
						sp.NameIDFormat = fixed
					}
					if fl.Changed("require-signed-requests") {
						ed, err := sso.ParseSPMetadata(sp.Metadata)
						if err != nil {
							return err
						}
						if err := canVerifyRequests(ed, requireSigned); err != nil {
							return err
						}
						sp.RequireSignedRequests = requireSigned
					}
					if clearGroups { // the one way to open a restricted SP to every user
						sp.AllowedGroups, sp.Restricted = nil, false
					}
					for _, g := range disallow {
						i := slices.IndexFunc(sp.AllowedGroups, func(a string) bool { return store.Key(a) == store.Key(g) })
						if i < 0 {
							return store.Errorf(store.NotFound, "group %q is not among the groups allowed to use %s", g, sp.EntityID)
						}
						sp.AllowedGroups = slices.Delete(sp.AllowedGroups, i, i+1) // the SP stays restricted
					}
					sp.AllowedGroups = append(sp.AllowedGroups, allow...)
					return nil
				})
				if err != nil {
					return err
				}
				if err := af.done(a, spJSONOf(sp), fmt.Sprintf("updated service provider %s: releases %s; open to %s; %s; %s",
					sp.EntityID, releaseText(sp), accessText(sp), nameIDText(sp), signingText(sp))); err != nil {
					return err
				}
				return a.audit(cmd.Context(), st, "sp.set", "", spPolicyDetails(sp))
			})
		},
	}
	spReleaseFlag(c, &release)
	spNameIDFlag(c, &format)
	c.Flags().StringArrayVar(&allow, "allow-group", nil, "let members of this group use the SP, which then admits only the allowed groups' members (repeatable)")
	c.Flags().StringArrayVar(&disallow, "remove-allow-group", nil, "take this group off the allowed list; removing the last one leaves the SP open to no one (repeatable)")
	c.Flags().BoolVar(&requireSigned, "require-signed-requests", false, "=true refuses the SP's unsigned AuthnRequests; =false accepts them again (unless its metadata promises signatures)")
	c.Flags().BoolVar(&clearGroups, "clear-allow-groups", false, "remove every allowed group: every user may use the SP again (applied before --allow-group)")
	af.registerJSON(c)
	return c
}

func spPolicyDetails(sp *store.ServiceProvider) map[string]string {
	return map[string]string{"entity_id": sp.EntityID, "release": strings.Join(sp.Release, ","),
		"allowed_groups": strings.Join(sp.AllowedGroups, ","), "restricted": strconv.FormatBool(sp.Restricted),
		"require_signed_requests": strconv.FormatBool(sp.RequireSignedRequests), "nameid_format": nameIDFormatName(sp)}
}

// nameIDFormatName is the SP's fixed NameID format as --nameid-format takes it.
func nameIDFormatName(sp *store.ServiceProvider) string {
	if sp.NameIDFormat == "" {
		return store.NameIDUnspecified
	}
	return sp.NameIDFormat
}

// nameIDText says which NameID format the SP gets.
func nameIDText(sp *store.ServiceProvider) string {
	if sp.NameIDFormat == "" {
		return "NameID format as requested (persistent by default)"
	}
	return sp.NameIDFormat + " NameIDs only"
}

// signingText says whether the SP's requests must be signed, and why.
func signingText(sp *store.ServiceProvider) string {
	if sp.RequireSignedRequests {
		return "its requests must be signed"
	}
	if ed, err := sso.ParseSPMetadata(sp.Metadata); err == nil {
		if promised, _ := sso.SPRequestSigning(ed); promised {
			return `its requests must be signed (its metadata says AuthnRequestsSigned="true")`
		}
	}
	return "unsigned requests accepted"
}

func releaseText(sp *store.ServiceProvider) string {
	if len(sp.Release) == 0 {
		return "no attributes"
	}
	return strings.Join(sp.Release, ",")
}

// accessText says who may use the SP.
func accessText(sp *store.ServiceProvider) string {
	switch {
	case !sp.Restricted:
		return "everyone"
	case len(sp.AllowedGroups) == 0:
		return "no one" // every allowed group was removed or deleted
	}
	return "members of " + strings.Join(sp.AllowedGroups, ",")
}

// canVerifyRequests refuses an SP that must sign its requests (its metadata promises it, or
// requireSigned) but whose metadata has no signing certificate: every request of it would be refused.
func canVerifyRequests(ed *saml.EntityDescriptor, requireSigned bool) error {
	promised, verifiable := sso.SPRequestSigning(ed)
	switch {
	case verifiable:
	case requireSigned:
		return store.Errorf(store.Invalid, "the metadata of %q has no signing certificate to check its requests with; add one to the metadata before --require-signed-requests", ed.EntityID)
	case promised:
		return store.Errorf(store.Invalid, `the metadata of %q says AuthnRequestsSigned="true" but has no signing certificate to check its requests with`, ed.EntityID)
	}
	return nil
}

// readMetadata reads at most sso.MaxSPMetadataBytes from a file or, for "-", standard input.
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
	raw, err := io.ReadAll(io.LimitReader(r, sso.MaxSPMetadataBytes+1))
	if err != nil {
		return nil, store.Errorf(store.Invalid, "cannot read the metadata: %v", err)
	}
	if len(raw) > sso.MaxSPMetadataBytes {
		return nil, store.Errorf(store.Invalid, "the metadata is larger than 1 MiB")
	}
	return raw, nil
}

func spListCmd(a *app) *cobra.Command {
	var lf listFlags
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
				out := make([]spJSON, 0, len(sps))
				for _, sp := range sps {
					out = append(out, spJSONOf(sp))
				}
				t := newTable("ENTITY_ID", "ACS", "RELEASE", "NAMEID", "ACCESS", "ADDED")
				for i, j := range out {
					acs := strings.Join(j.ACSURLs, ",")
					if j.Problem != "" {
						acs = "(unusable: " + j.Problem + ")"
					}
					t.add(j.EntityID, acs, strings.Join(j.Release, ","), j.NameIDFormat, strings.ReplaceAll(accessText(sps[i]), " ", "-"), timeText(j.AddedAt))
				}
				return lf.print(a, out, t)
			})
		},
	}
	lf.register(c)
	return c
}
