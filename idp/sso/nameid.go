package sso

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

	"github.com/crewjam/saml"

	"rolegate/assertions"
	"rolegate/idp/internal/text"
	"rolegate/store"
)

// NameID formats: what a request's NameIDPolicy asks, what the admin fixed for its SP (rolegate sp
// set --nameid-format), and the NameID each format gives the user.

// invalidNameIDPolicy is the status of a request whose NameIDPolicy Rolegate cannot honour.
func invalidNameIDPolicy(top, format string, args ...any) *saml.StatusError {
	return &saml.StatusError{TopLevel: top, SecondLevel: saml.StatusInvalidNameIDPolicy, Message: fmt.Sprintf(format, args...)}
}

// noNewNameID reports whether a NameIDPolicy says AllowCreate="false". Only an explicit "false"
// counts: many SPs leave it out, and an absent one read as SAML's default (false) would refuse
// every user's first sign-in to them.
func noNewNameID(pol *saml.NameIDPolicy) bool {
	return pol != nil && pol.AllowCreate != nil && !*pol.AllowCreate
}

// mayGetEmail reports whether the SP may be given the user's e-mail address as its NameID: when the
// admin fixed its format to emailAddress or released the email attribute to it. Otherwise asking
// for the format would get an SP what its release list withholds.
func mayGetEmail(sp *store.ServiceProvider) bool {
	return sp.NameIDFormat == store.NameIDEmail || slices.Contains(sp.Release, store.ReleaseEmail)
}

// chooseNameIDFormat returns the store.NameIDFormats value to answer a request from sp with: the
// format its NameIDPolicy names, the SP's fixed one for unspecified or none, persistent failing
// both. A format Rolegate does not issue, another than the fixed one, emailAddress for an SP that
// may not get e-mail addresses, or an SPNameQualifier naming an affiliation rather than the SP
// itself is InvalidNameIDPolicy.
func chooseNameIDFormat(pol *saml.NameIDPolicy, sp *store.ServiceProvider) (string, *saml.StatusError) {
	fixed, spID := sp.NameIDFormat, sp.EntityID
	want := ""
	if pol != nil {
		if q := pol.SPNameQualifier; q != nil && *q != "" && *q != spID {
			return "", invalidNameIDPolicy(saml.StatusRequester, "Rolegate issues NameIDs for the requesting application only, not for the affiliation %q",
				text.Bounded(*q, 256))
		}
		if pol.Format != nil {
			want = strings.TrimSpace(*pol.Format)
		}
	}
	if want == "" || want == assertions.NameIDUnspecified {
		if fixed != "" {
			return fixed, nil
		}
		return store.NameIDPersistent, nil
	}
	for _, f := range assertions.NameIDFormats {
		if f.URI != want {
			continue
		}
		if fixed != "" && f.Key != fixed {
			return "", invalidNameIDPolicy(saml.StatusRequester, "this application is set up to receive %s NameIDs only, and the request asks for %s", fixed, f.Key)
		}
		if f.Key == store.NameIDEmail && !mayGetEmail(sp) {
			return "", invalidNameIDPolicy(saml.StatusRequester, "this application is not given e-mail addresses: release email to it, or fix its NameID format to emailAddress")
		}
		return f.Key, nil
	}
	var known []string
	for _, f := range assertions.NameIDFormats {
		known = append(known, f.Key)
	}
	return "", invalidNameIDPolicy(saml.StatusRequester, "Rolegate does not issue NameIDs of the format %q; it issues %s",
		text.Bounded(want, 256), strings.Join(known, ", "))
}

// subjectNameID is the user's NameID of format for the SP, as SAML core 8.3 describes each format:
// persistent is the user's pairwise value for the SP, qualified by both entity IDs (8.3.7), made
// on first use unless the request said AllowCreate="false" (noNew; 3.4.1.1);
// transient a fresh 130-bit random value for this Response alone, never stored, qualified
// likewise (8.3.8); emailAddress the user's e-mail address, unqualified, as it names the user
// without the IdP's help (8.3.2). A user without an e-mail address is InvalidNameIDPolicy.
func (s *Handler) subjectNameID(ctx context.Context, w *webSession, format string, noNew bool, idpID, spID string) (*saml.NameID, *saml.StatusError, error) {
	switch format {
	case "", store.NameIDPersistent:
		find := s.Store.PairwiseNameID
		if noNew {
			find = s.Store.FindPairwiseNameID
		}
		v, err := find(ctx, w.user.ID, spID)
		if noNew && store.IsCode(err, store.NotFound) {
			return nil, invalidNameIDPolicy(saml.StatusResponder, "the request says AllowCreate=\"false\", and the user has no NameID for this application yet"), nil
		} else if err != nil {
			return nil, nil, err
		}
		return &saml.NameID{Format: assertions.NameIDPersistent, NameQualifier: idpID, SPNameQualifier: spID, Value: v}, nil, nil
	case store.NameIDTransient:
		return &saml.NameID{Format: assertions.NameIDTransient, NameQualifier: idpID, SPNameQualifier: spID,
			Value: "rgt-" + strings.ToLower(rand.Text())}, nil, nil
	case store.NameIDEmail:
		if w.user.Email == "" {
			return nil, invalidNameIDPolicy(saml.StatusResponder, "the user has no e-mail address to name them by"), nil
		}
		return &saml.NameID{Format: assertions.NameIDEmail, Value: w.user.Email}, nil, nil
	}
	return nil, nil, fmt.Errorf("sso: unknown NameID format %q", format)
}
