package sso_test

import (
	"context"
	"crypto/rsa"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"rolegate/assertions/samltest"
	"rolegate/idp/internal/idptest"
	"rolegate/idp/sso"
	"rolegate/store"
)

// Attacks from the review of SP-initiated sign-in after issue 8.

func TestAPassiveRequestFromAUserOutsideTheAllowedGroupsIsDeniedWithoutAPage(t *testing.T) {
	w := newSSOWeb(t, false)
	if err := w.Store.CreateGroup(context.Background(), &store.Group{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.AllowedGroups = []string{"ops"} })
	b := w.Browser(t)
	b.Login("alice", ssoPassword) // in devs, not ops

	// IsPassive: no page, not even a 403 one; a signed Response that says no, and no assertion.
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { yes := true; r.IsPassive = &yes })
	resp, body := b.Get(w.redirectPath(t, req, "rs"))
	a := w.statusAnswer(t, resp, body)
	if a.top != "Responder" || a.second != "RequestDenied" || a.inResponse != req.ID {
		t.Fatalf("status %s/%s in response to %q; want Responder/RequestDenied to %q", a.top, a.second, a.inResponse, req.ID)
	}
	if got := w.AuditOf(t, "sso.request"); len(got) != 1 || got[0] != "alice answered RequestDenied" {
		t.Errorf("sso.request audit %q", got)
	}
	w.noAssertionIssued(t)

	// Without IsPassive, the 403 page as before.
	resp, body, _ = w.ssoTry(t, b, w.sp)
	if resp.StatusCode != 403 || strings.Contains(body, "SAMLResponse") {
		t.Fatalf("an active request: %d %q; want 403 and no Response", resp.StatusCode, idptest.Alert(body))
	}

	// A member gets the assertion at once, passive or not.
	if err := w.Store.AddGroupMember(context.Background(), "ops", "alice"); err != nil {
		t.Fatal(err)
	}
	req = w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { yes := true; r.IsPassive = &yes })
	resp, body = b.Get(w.redirectPath(t, req, "rs"))
	if got := w.accept(t, w.sp, autoPost(t, resp, body), req.ID); got.Subject.NameID.Value != w.nameID(t, w.alice, testSPEntityID) {
		t.Fatalf("NameID %q", got.Subject.NameID.Value)
	}
}

func TestARequestThatNamesASubjectGetsNoAssertionForAnyoneElse(t *testing.T) {
	// SAML core 3.4.1.4: an IdP given a Subject authenticates that principal or returns an error.
	// Rolegate used to ignore it, so whoever signed in at the browser got the assertion.
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	for _, tc := range []struct {
		name, nameID string
	}{
		{"another person's NameID", "rgp-someoneelse"},
		{"the signed-in user's own NameID", w.nameID(t, w.alice, testSPEntityID)},
	} {
		req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) {
			r.Subject = &saml.Subject{NameID: &saml.NameID{Format: string(saml.PersistentNameIDFormat), Value: tc.nameID}}
		})
		resp, body := b.Get(w.redirectPath(t, req, ""))
		if strings.Contains(body, `name="password"`) {
			t.Fatalf("%s: a page that asks for a password", tc.name)
		}
		a := w.statusAnswer(t, resp, body)
		if a.top != "Responder" || a.second != "RequestUnsupported" || a.inResponse != req.ID {
			t.Errorf("%s: status %s/%s in response to %q; want Responder/RequestUnsupported to %q", tc.name, a.top, a.second, a.inResponse, req.ID)
		}
	}
	w.noAssertionIssued(t)
}

// encryptingSP registers a crewjam SP with an encryption key whose metadata lists methods as its
// EncryptionMethods (none: the element is left out).
func (w *ssoWeb) encryptingSP(t *testing.T, name string, methods ...string) *saml.ServiceProvider {
	t.Helper()
	sp := newTestSP(t, w, "https://sp.example.com/"+name+"/metadata", "https://sp.example.com/"+name+"/acs", true)
	ed := sp.Metadata()
	found := false
	for i, k := range ed.SPSSODescriptors[0].KeyDescriptors {
		if k.Use == "encryption" {
			found = true
			ed.SPSSODescriptors[0].KeyDescriptors[i].EncryptionMethods = nil
			for _, m := range methods {
				ed.SPSSODescriptors[0].KeyDescriptors[i].EncryptionMethods = append(ed.SPSSODescriptors[0].KeyDescriptors[i].EncryptionMethods, saml.EncryptionMethod{Algorithm: m})
			}
		}
	}
	if !found {
		t.Fatal("the SP's metadata has no encryption key")
	}
	md, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store.CreateServiceProvider(context.Background(), &store.ServiceProvider{EntityID: sp.EntityID, Metadata: md, Release: []string{"email"}}); err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestEncryptedAssertionsDecryptWithXMLSecInGCMAndCBC(t *testing.T) {
	// crewjam v0.5.1's AES-GCM encrypter sealed zeros instead of the assertion; Rolegate encrypts
	// with its own encrypter, AWS's, in GCM unless the SP lists only CBC. Someone else's code,
	// xmlsec1, must get the signed assertion back, and crewjam's SP must accept the Response.
	w := newSSOWeb(t, false)
	cur, err := w.Ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	strangerKey, _ := samltest.KeyPair(t, 2048, "stranger")
	for _, tc := range []struct {
		name    string
		methods []string
		want    string
	}{
		{"an SP that lists AES-256-GCM", []string{"http://www.w3.org/2009/xmlenc11#aes256-gcm"}, "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
		{"an SP that lists AES-128-GCM before CBC", []string{"http://www.w3.org/2009/xmlenc11#aes128-gcm", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"},
			"http://www.w3.org/2009/xmlenc11#aes128-gcm"},
		{"an SP that lists no method", nil, "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
		{"an SP that lists only a key transport", []string{"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"}, "http://www.w3.org/2009/xmlenc11#aes256-gcm"},
		{"an SP that lists CBC before AES-192-GCM", []string{"http://www.w3.org/2001/04/xmlenc#aes256-cbc", "http://www.w3.org/2009/xmlenc11#aes192-gcm"},
			"http://www.w3.org/2009/xmlenc11#aes192-gcm"},
		{"an SP that lists only AES-256-CBC", []string{"http://www.w3.org/2001/04/xmlenc#aes256-cbc"}, "http://www.w3.org/2001/04/xmlenc#aes256-cbc"},
		{"an SP that lists only AES-128-CBC and 3DES", []string{"http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
			"http://www.w3.org/2001/04/xmlenc#rsa-1_5", "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"}, "http://www.w3.org/2001/04/xmlenc#aes128-cbc"},
	} {
		sp := w.encryptingSP(t, strings.NewReplacer(" ", "-").Replace(tc.name), tc.methods...)
		resp, body, req := w.ssoTry(t, b, sp)
		p := ssoPost(t, resp, body)
		doc := etree.NewDocument()
		if err := doc.ReadFromString(p.Response); err != nil {
			t.Fatal(err)
		}
		em := doc.FindElement("//EncryptedAssertion/EncryptedData/EncryptionMethod")
		if em == nil || em.SelectAttrValue("Algorithm", "") != tc.want || doc.FindElement("//Assertion") != nil {
			t.Fatalf("%s: not encrypted with %s:\n%s", tc.name, tc.want, p.Response)
		}
		plain, err := samltest.DecryptXMLSec(t, []byte(p.Response), sp.Key.(*rsa.PrivateKey))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := samltest.VerifyXMLSec(t, plain, cur.Cert, samltest.AssertionSignature); err != nil {
			t.Fatalf("%s: the decrypted assertion's signature: %v", tc.name, err)
		}
		nameID, attrs := subjectAndAttrs(t, string(plain))
		if nameID != w.nameID(t, w.alice, sp.EntityID) || len(attrs) != 1 || !strings.HasSuffix(attrs[0], "=alice@example.com") {
			t.Fatalf("%s: decrypted NameID %q, attributes %q", tc.name, nameID, attrs)
		}
		// The negatives: another key does not decrypt it, and a changed value does not verify.
		if _, err := samltest.DecryptXMLSec(t, []byte(p.Response), strangerKey); err == nil {
			t.Fatalf("%s: a stranger's key decrypts the assertion", tc.name)
		}
		forged := strings.Replace(string(plain), "alice@example.com", "alicf@example.com", 1)
		if err := samltest.VerifyXMLSec(t, []byte(forged), cur.Cert, samltest.AssertionSignature); err == nil {
			t.Fatalf("%s: xmlsec1 verifies a changed assertion", tc.name)
		}
		if _, err := sp.ParseXMLResponse([]byte(p.Response), []string{req.ID}, sp.AcsURL); err != nil {
			t.Fatalf("%s: crewjam's SP refuses the Response: %v", tc.name, err)
		}
		if got := w.lastAudit(t, "assertion"); got["encrypted"] != "true" || got["encryption"] != tc.want {
			t.Fatalf("%s: audit details %v", tc.name, got)
		}
	}
}

func TestAnSPWhoseEncryptionMethodsRolegateCannotUseIsRefusedWithTheReason(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	for _, tc := range []struct {
		name    string
		methods []string
		why     string
	}{
		{"3des", []string{"http://www.w3.org/2001/04/xmlenc#tripledes-cbc"}, "name only http://www.w3.org/2001/04/xmlenc#tripledes-cbc"},
		{"rsa15", []string{"http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#rsa-1_5"},
			"name only the key transport http://www.w3.org/2001/04/xmlenc#rsa-1_5"},
	} {
		sp := w.encryptingSP(t, tc.name, tc.methods...)
		// sp add refuses such metadata; one stored before is refused at each request, with no Response.
		md, err := w.Store.GetServiceProvider(context.Background(), sp.EntityID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sso.ParseSPMetadata(md.Metadata); err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: sp add's check says %v; want %q", tc.name, err, tc.why)
		}
		resp, body := b.Get(w.redirectPath(t, w.authnRequest(t, sp, saml.HTTPRedirectBinding), ""))
		refused(t, tc.name, resp, body, tc.why)
	}
	w.noAssertionIssued(t)
}

func TestAnUnknownACSIsNamedInTheRefusal(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	req := w.authnRequest(t, w.sp, saml.HTTPRedirectBinding, func(r *saml.AuthnRequest) { r.AssertionConsumerServiceURL = "https://evil.example.com/saml/acs" })
	resp, body := b.Get(w.redirectPath(t, req, ""))
	refused(t, "an ACS URL not in the metadata", resp, body, `cannot find assertion consumer service (URL "https://evil.example.com/saml/acs", index "") in the metadata of "`+testSPEntityID+`"`)
	if strings.Contains(body, "file does not exist") {
		t.Errorf("the page speaks of files: %q", idptest.Alert(body))
	}
}

// lastAudit is the details of the newest audit event of typ.
func (w *ssoWeb) lastAudit(t *testing.T, typ string) map[string]string {
	t.Helper()
	events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var last *store.AuditEvent
	for _, e := range events {
		if e.Type == typ && (last == nil || e.ID > last.ID) {
			last = e
		}
	}
	if last == nil {
		t.Fatalf("no %s audit event", typ)
	}
	return last.Details
}
