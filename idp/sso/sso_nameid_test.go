package sso_test

import (
	"context"
	"strings"
	"testing"

	"github.com/crewjam/saml"

	"rolegate/assertions"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

// nameIDAsked is a request from sp whose NameIDPolicy asks for format ("" leaves the policy out).
func (w *ssoWeb) nameIDAsked(t *testing.T, sp *saml.ServiceProvider, format string, mod ...func(*saml.NameIDPolicy)) *saml.AuthnRequest {
	t.Helper()
	return w.authnRequest(t, sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) {
		if format == "" {
			r.NameIDPolicy = nil
			return
		}
		yes := true
		r.NameIDPolicy = &saml.NameIDPolicy{Format: &format, AllowCreate: &yes}
		for _, m := range mod {
			m(r.NameIDPolicy)
		}
	})
}

// signInWith runs req through sign-in and returns the NameID of the assertion sp accepts.
func (w *ssoWeb) signInWith(t *testing.T, b *idptest.Browser, sp *saml.ServiceProvider, req *saml.AuthnRequest) *saml.NameID {
	t.Helper()
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	a, err := sp.ParseXMLResponse([]byte(ssoPost(t, resp, body).Response), []string{req.ID}, sp.AcsURL)
	if err != nil {
		t.Fatalf("the SP refuses the Response: %v", err)
	}
	if a.Subject == nil || a.Subject.NameID == nil {
		t.Fatal("the assertion names no subject")
	}
	return a.Subject.NameID
}

func TestTheNameIDHasTheFormatTheRequestAsksFor(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	idpID := assertions.EntityID(w.Srv.URL)
	pairwise := w.nameID(t, w.alice, testSPEntityID)
	for _, tc := range []struct {
		name, asks             string
		fixed                  string
		format, value          string // value "" is a fresh transient one
		nameQual, spQual, kept string
	}{
		{"no NameIDPolicy gets the pairwise persistent NameID", "", "", assertions.NameIDPersistent, pairwise, idpID, testSPEntityID, store.NameIDPersistent},
		{"persistent gets the pairwise NameID", assertions.NameIDPersistent, "", assertions.NameIDPersistent, pairwise, idpID, testSPEntityID, store.NameIDPersistent},
		{"unspecified gets persistent", assertions.NameIDUnspecified, "", assertions.NameIDPersistent, pairwise, idpID, testSPEntityID, store.NameIDPersistent},
		{"unspecified gets the SP's fixed format", assertions.NameIDUnspecified, store.NameIDEmail, assertions.NameIDEmail, "alice@example.com", "", "", store.NameIDEmail},
		{"no NameIDPolicy gets the SP's fixed format", "", store.NameIDTransient, assertions.NameIDTransient, "", idpID, testSPEntityID, store.NameIDTransient},
		{"emailAddress gets the user's e-mail, unqualified", assertions.NameIDEmail, "", assertions.NameIDEmail, "alice@example.com", "", "", store.NameIDEmail},
		{"transient gets a fresh value", assertions.NameIDTransient, "", assertions.NameIDTransient, "", idpID, testSPEntityID, store.NameIDTransient},
		{"the SP's own fixed format may be asked for", assertions.NameIDTransient, store.NameIDTransient, assertions.NameIDTransient, "", idpID, testSPEntityID, store.NameIDTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.NameIDFormat = tc.fixed })
			var seen []string
			for range 2 {
				n := w.signInWith(t, b, w.sp, w.nameIDAsked(t, w.sp, tc.asks))
				if n.Format != tc.format || n.NameQualifier != tc.nameQual || n.SPNameQualifier != tc.spQual {
					t.Fatalf("NameID %+v; want format %s, qualifiers %q and %q", n, tc.format, tc.nameQual, tc.spQual)
				}
				if tc.value != "" && n.Value != tc.value {
					t.Fatalf("NameID %q; want %q", n.Value, tc.value)
				}
				seen = append(seen, n.Value)
				got := w.lastAudit(t, "assertion")
				if got["name_id_format"] != tc.kept {
					t.Fatalf("audit name_id_format %q; want %q", got["name_id_format"], tc.kept)
				}
				if tc.value == "" && got["name_id"] != "" {
					t.Fatalf("a transient NameID is kept in the audit: %q", got["name_id"])
				} else if tc.value != "" && got["name_id"] != tc.value {
					t.Fatalf("audit name_id %q; want %q", got["name_id"], tc.value)
				}
			}
			if tc.value == "" {
				// 128 bits or more of randomness, new for each Response, never the persistent one.
				for _, v := range seen {
					if !strings.HasPrefix(v, "rgt-") || len(v) < 4+26 || v == pairwise {
						t.Fatalf("transient NameID %q", v)
					}
				}
				if seen[0] == seen[1] {
					t.Fatalf("two Responses share the transient NameID %q", seen[0])
				}
			}
		})
	}
}

func TestANameIDPolicyRolegateCannotHonourIsAnsweredWithInvalidNameIDPolicy(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	other := "https://affiliation.example.com"
	for _, tc := range []struct {
		name, asks, fixed string
		mod               func(*saml.NameIDPolicy)
	}{
		{"a format Rolegate does not issue", "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName", "", nil},
		{"the entity format", "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", "", nil},
		{"persistent of an SP fixed to emailAddress", assertions.NameIDPersistent, store.NameIDEmail, nil},
		{"transient of an SP fixed to persistent", assertions.NameIDTransient, store.NameIDPersistent, nil},
		{"a NameID for an affiliation", assertions.NameIDPersistent, "", func(p *saml.NameIDPolicy) { p.SPNameQualifier = &other }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.NameIDFormat = tc.fixed })
			var mods []func(*saml.NameIDPolicy)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			req := w.nameIDAsked(t, w.sp, tc.asks, mods...)
			resp, body := b.Get(w.redirectPath(t, req, ""))
			a := w.statusAnswer(t, resp, body)
			if a.top != "Requester" || a.second != "InvalidNameIDPolicy" || a.inResponse != req.ID {
				t.Fatalf("status %s/%s to %q; want Requester/InvalidNameIDPolicy to %q", a.top, a.second, a.inResponse, req.ID)
			}
		})
	}
	w.noAssertionIssued(t)
}

func TestAUserWithoutAnEmailGetsNoEmailNameID(t *testing.T) {
	w := newSSOWeb(t, false)
	w.AddUser(t, "bob", ssoPassword)
	b := w.Browser(t)
	b.Login("bob", ssoPassword)
	req := w.nameIDAsked(t, w.sp, assertions.NameIDEmail)
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	a := w.statusAnswer(t, resp, body)
	if a.top != "Responder" || a.second != "InvalidNameIDPolicy" || a.inResponse != req.ID {
		t.Fatalf("status %s/%s to %q; want Responder/InvalidNameIDPolicy to %q", a.top, a.second, a.inResponse, req.ID)
	}
	if got := w.AuditOf(t, "sso.request"); len(got) != 1 || got[0] != "bob answered InvalidNameIDPolicy" {
		t.Errorf("sso.request audit %q", got)
	}
	w.noAssertionIssued(t)
	// The same user gets the persistent NameID as usual.
	if n := w.signInWith(t, b, w.sp, w.nameIDAsked(t, w.sp, assertions.NameIDPersistent)); n.Format != assertions.NameIDPersistent {
		t.Fatalf("NameID %+v", n)
	}
}

func TestTheMetadataAdvertisesTheFormatsHonoured(t *testing.T) {
	w := newSSOWeb(t, false)
	var got []string
	for _, f := range w.sp.IDPMetadata.IDPSSODescriptors[0].NameIDFormats {
		got = append(got, string(f))
	}
	want := []string{assertions.NameIDPersistent, assertions.NameIDTransient, assertions.NameIDEmail}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("metadata NameIDFormats %q; want %q", got, want)
	}
}

func TestAllowCreateFalseGetsOnlyAPersistentNameIDThatExists(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	sp := w.addSP(t, "https://sp.example.com/new/metadata", "https://sp.example.com/new/acs", store.ServiceProvider{})
	no, yes := false, true
	allow := func(v *bool) func(*saml.NameIDPolicy) { return func(p *saml.NameIDPolicy) { p.AllowCreate = v } }

	// None yet, and the request forbids making one: no assertion, and still none made.
	req := w.nameIDAsked(t, sp, assertions.NameIDPersistent, allow(&no))
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	p := autoPost(t, resp, body)
	if !strings.Contains(p.Response, "InvalidNameIDPolicy") || strings.Contains(p.Response, "Assertion") {
		t.Fatalf("AllowCreate=false with no NameID yet:\n%s", p.Response)
	}
	if _, err := w.Store.FindPairwiseNameID(context.Background(), w.alice.ID, sp.EntityID); !store.IsCode(err, store.NotFound) {
		t.Fatalf("a refused request made a NameID: %v", err)
	}
	// An absent AllowCreate makes one (SPs that leave it out still sign their users in).
	first := w.signInWith(t, b, sp, w.nameIDAsked(t, sp, assertions.NameIDPersistent, allow(nil)))
	// Now that it exists, AllowCreate=false gets it.
	if n := w.signInWith(t, b, sp, w.nameIDAsked(t, sp, assertions.NameIDPersistent, allow(&no))); n.Value != first.Value {
		t.Fatalf("AllowCreate=false got %q; want the existing %q", n.Value, first.Value)
	}
	if n := w.signInWith(t, b, sp, w.nameIDAsked(t, sp, assertions.NameIDPersistent, allow(&yes))); n.Value != first.Value {
		t.Fatalf("AllowCreate=true got %q; want %q", n.Value, first.Value)
	}
	// AllowCreate=false does not hold back a transient NameID (SAML errata E14: it concerns persistent ones).
	if n := w.signInWith(t, b, sp, w.nameIDAsked(t, sp, assertions.NameIDTransient, allow(&no))); n.Format != assertions.NameIDTransient {
		t.Fatalf("transient with AllowCreate=false: %+v", n)
	}
}

func TestAFormatFixedWhileTheUserSignsInIsNotBypassed(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	req := w.nameIDAsked(t, w.sp, assertions.NameIDPersistent)
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	// The administrator fixes the application to transient NameIDs before the person has signed in.
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.NameIDFormat = store.NameIDTransient })
	b.Login("alice", ssoPassword)
	resp, body = b.Get("/saml/sso/continue")
	if p := autoPost(t, resp, body); !strings.Contains(p.Response, "InvalidNameIDPolicy") || strings.Contains(p.Response, "Assertion") {
		t.Fatalf("the pending persistent request got:\n%s", p.Response)
	}
	w.noAssertionIssued(t)
}

// Asking for the emailAddress format must not get an application the address its release list
// withholds: only an application given email, or fixed to emailAddress by the admin, gets it.
func TestAnEmailNameIDGoesOnlyToAnApplicationGivenEmail(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.Release = []string{store.ReleaseName} })
	req := w.nameIDAsked(t, w.sp, assertions.NameIDEmail)
	resp, body := b.Get(w.redirectPath(t, req, ""))
	if a := w.statusAnswer(t, resp, body); a.top != "Requester" || a.second != "InvalidNameIDPolicy" {
		t.Fatalf("emailAddress without email released: %s/%s", a.top, a.second)
	}
	if got := w.AuditOf(t, "assertion"); len(got) != 0 {
		t.Fatalf("assertions issued: %q", got)
	}
	// Email taken back while the person signs in: the answer is no.
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.Release = []string{store.ReleaseEmail} })
	req = w.nameIDAsked(t, w.sp, assertions.NameIDEmail)
	resp, body = b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.Release = []string{} })
	resp, body = b.Get("/saml/sso/continue")
	if p := autoPost(t, resp, body); !strings.Contains(p.Response, "InvalidNameIDPolicy") || strings.Contains(p.Response, "Assertion") {
		t.Fatalf("email taken back while signing in:\n%s", p.Response)
	}
	// Fixed to emailAddress by the admin, with no attribute released: the address is the NameID.
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.NameIDFormat = store.NameIDEmail })
	for _, asks := range []string{assertions.NameIDEmail, assertions.NameIDUnspecified, ""} {
		if n := w.signInWith(t, b, w.sp, w.nameIDAsked(t, w.sp, asks)); n.Format != assertions.NameIDEmail || n.Value != "alice@example.com" {
			t.Fatalf("asking %q of an SP fixed to emailAddress: %+v", asks, n)
		}
	}
}
