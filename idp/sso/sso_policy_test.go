package sso_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"rolegate/idp/internal/idptest"
	"rolegate/store"
)

const (
	otherSPEntityID = "https://sp.example.com/other/metadata"
	otherSPACS      = "https://sp.example.com/other/acs"
)

// addSP registers another crewjam SP with the IdP, with the given policy.
func (w *ssoWeb) addSP(t *testing.T, entityID, acs string, reg store.ServiceProvider) *saml.ServiceProvider {
	t.Helper()
	sp := newTestSP(t, w, entityID, acs, false)
	md, err := xml.MarshalIndent(sp.Metadata(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	reg.EntityID, reg.Metadata = entityID, md
	if err := w.Store.CreateServiceProvider(context.Background(), &reg); err != nil {
		t.Fatal(err)
	}
	return sp
}

func (w *ssoWeb) setPolicy(t *testing.T, entityID string, fn func(*store.ServiceProvider)) {
	t.Helper()
	if _, err := w.Store.UpdateServiceProvider(context.Background(), entityID, func(sp *store.ServiceProvider) error { fn(sp); return nil }); err != nil {
		t.Fatal(err)
	}
}

// ssoTry sends a fresh AuthnRequest from sp with a signed-in browser and returns the continue page.
func (w *ssoWeb) ssoTry(t *testing.T, b *idptest.Browser, sp *saml.ServiceProvider) (*http.Response, string, *saml.AuthnRequest) {
	t.Helper()
	req := w.authnRequest(t, sp, saml.HTTPRedirectBinding)
	resp, body := b.Get(w.redirectPath(t, req, ""))
	start(t, b, resp, body)
	resp, body = b.Get("/saml/sso/continue")
	return resp, body, req
}

// signInTo runs SP-initiated sign-in to sp, has sp accept the posted Response at its ACS, and
// returns the Response's XML.
func (w *ssoWeb) signInTo(t *testing.T, b *idptest.Browser, sp *saml.ServiceProvider) string {
	t.Helper()
	resp, body, req := w.ssoTry(t, b, sp)
	p := ssoPost(t, resp, body)
	if _, err := sp.ParseXMLResponse([]byte(p.Response), []string{req.ID}, sp.AcsURL); err != nil {
		t.Fatalf("the SP refuses the Response: %v", err)
	}
	return p.Response
}

// subjectAndAttrs reads a Response's NameID and its attributes as "FriendlyName Name=v1|v2".
func subjectAndAttrs(t *testing.T, response string) (nameID string, attrs []string) {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(response); err != nil {
		t.Fatal(err)
	}
	ids := doc.FindElements("//Assertion/Subject/NameID")
	if len(ids) != 1 {
		t.Fatalf("%d NameIDs in the Response:\n%s", len(ids), response)
	}
	for _, a := range doc.FindElements("//Attribute") {
		var vs []string
		for _, v := range a.SelectElements("AttributeValue") {
			vs = append(vs, v.Text())
		}
		attrs = append(attrs, a.SelectAttrValue("FriendlyName", "")+" "+a.SelectAttrValue("Name", "")+"="+strings.Join(vs, "|"))
	}
	return ids[0].Text(), attrs
}

func TestEachSPGetsItsOwnStableNameIDThatIsNotTheAWSSubject(t *testing.T) {
	w := newSSOWeb(t, false)
	other := w.addSP(t, otherSPEntityID, otherSPACS, store.ServiceProvider{})
	b := w.Browser(t)
	b.Login("alice", ssoPassword)

	first, _ := subjectAndAttrs(t, w.signInTo(t, b, w.sp))
	again, _ := subjectAndAttrs(t, w.signInTo(t, b, w.sp))
	elsewhere, _ := subjectAndAttrs(t, w.signInTo(t, b, other))
	aws, _ := subjectAndAttrs(t, idptest.SignInPost(t, b, "/aws/signin?account=prod&role=ReadOnly").Response)
	if first == "" || first != again {
		t.Fatalf("one SP got NameID %q, then %q", first, again)
	}
	if elsewhere == first {
		t.Fatalf("two SPs got the same NameID %q: they can link the user", first)
	}
	if aws != w.alice.Subject {
		t.Fatalf("AWS got NameID %q; want the subject %q as before", aws, w.alice.Subject)
	}
	for _, v := range []string{first, elsewhere} {
		if v == aws || strings.Contains(v, aws) || strings.Contains(v, "alice") {
			t.Fatalf("an SP's NameID %q can be linked to AWS's %q or the user name", v, aws)
		}
	}
	// Another user gets another NameID at the same SP.
	w.Store.AddGroupMember(context.Background(), "devs", "mallory")
	m := w.Browser(t)
	m.Login("mallory", ssoPassword)
	if theirs, _ := subjectAndAttrs(t, w.signInTo(t, m, w.sp)); theirs == first {
		t.Fatalf("mallory and alice share NameID %q", theirs)
	}
}

func TestAnSPGetsOnlyTheAttributesItsReleaseListNames(t *testing.T) {
	w := newSSOWeb(t, false)
	b := w.Browser(t)
	b.Login("alice", ssoPassword)
	for _, tc := range []struct {
		name    string
		release []string
		want    []string
	}{
		{"an SP with no release list gets no attribute at all", nil, nil},
		{"an SP with email gets mail only", []string{"email"}, []string{"mail urn:oid:0.9.2342.19200300.100.1.3=alice@example.com"}},
		{"an SP with username and groups gets uid and isMemberOf", []string{"groups", "username"},
			[]string{"uid urn:oid:0.9.2342.19200300.100.1.1=alice", "isMemberOf urn:oid:1.3.6.1.4.1.5923.1.5.1.1=devs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.Release = tc.release })
			response := w.signInTo(t, b, w.sp)
			_, attrs := subjectAndAttrs(t, response)
			if strings.Join(attrs, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("attributes %q; want %q", attrs, tc.want)
			}
			if tc.release == nil && strings.Contains(response, "AttributeStatement") {
				t.Fatalf("an empty AttributeStatement was sent:\n%s", response)
			}
			// What was not released appears nowhere in the Response.
			for _, secret := range []string{"alice@example.com", "Alice Example", ">alice<", ">devs<"} {
				shown := false
				for _, a := range tc.want {
					shown = shown || strings.Contains(">"+a[strings.Index(a, "=")+1:]+"<", secret) || strings.HasSuffix(a, "="+secret)
				}
				if !shown && strings.Contains(response, secret) {
					t.Errorf("%q is in the Response though not released:\n%s", secret, response)
				}
			}
		})
	}
}

func TestOnlyMembersOfAnAllowedGroupGetAnAssertion(t *testing.T) {
	w := newSSOWeb(t, false)
	ctx := context.Background()
	if err := w.Store.CreateGroup(ctx, &store.Group{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	w.setPolicy(t, testSPEntityID, func(sp *store.ServiceProvider) { sp.AllowedGroups = []string{"ops"} })
	b := w.Browser(t)
	b.Login("alice", ssoPassword) // in devs, not ops

	count := func(prefix string) int {
		n := 0
		for _, e := range w.AuditOf(t, "assertion") {
			if strings.HasPrefix(e, prefix) {
				n++
			}
		}
		return n
	}
	const refusal = "alice refused: you may not sign in to \"" + testSPEntityID + "\": it is open only to members of certain groups"
	issued := 0
	refused := func(when string) {
		t.Helper()
		before := count(refusal)
		resp, body, _ := w.ssoTry(t, b, w.sp)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "SAMLResponse") || !strings.Contains(idptest.Alert(body), "open only to members of certain groups") {
			t.Fatalf("%s: %d %q; want 403 and no Response", when, resp.StatusCode, idptest.Alert(body))
		}
		if count(refusal) != before+1 || count("alice ok") != issued {
			t.Fatalf("%s: audit %q", when, w.AuditOf(t, "assertion"))
		}
		events, err := w.Store.ListAudit(ctx, store.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if strings.HasPrefix(e.User+" "+e.Result, refusal) && (e.Details["name_id"] != "" || e.Details["assertion_id"] != "" || e.Details["sp"] != testSPEntityID) {
				t.Fatalf("%s: the refusal %v records an assertion", when, e.Details)
			}
		}
	}
	refused("alice outside ops")

	if err := w.Store.AddGroupMember(ctx, "ops", "alice"); err != nil {
		t.Fatal(err)
	}
	response := w.signInTo(t, b, w.sp)
	if id, _ := subjectAndAttrs(t, response); id == "" {
		t.Fatal("a member of ops got no NameID")
	}
	if issued++; count("alice ok") != issued {
		t.Fatalf("audit %q", w.AuditOf(t, "assertion"))
	}

	// Deleting the only allowed group does not open the SP to everyone.
	if err := w.Store.DeleteGroup(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	refused("after ops was deleted")
	if err := w.Store.CreateGroup(ctx, &store.Group{Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Store.AddGroupMember(ctx, "ops", "alice"); err != nil {
		t.Fatal(err)
	}
	refused("in a new group named ops")

	// An SP without allowed groups admits everyone; another SP is not affected by this one's list.
	other := w.addSP(t, otherSPEntityID, otherSPACS, store.ServiceProvider{})
	w.signInTo(t, b, other)
}
