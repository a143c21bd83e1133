package assertions_test

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/assertions"
)

func expect(s assertions.Signer, at time.Time) assertions.Expect {
	return assertions.Expect{EntityID: "https://idp.example.com/saml/metadata", ACS: "https://signin.aws.amazon.com/saml",
		Certs: []*x509.Certificate{s.Cert}, Now: at}
}

// resign edits a built Response's Assertion and signs it again, as a careless IdP would, so the
// checker's attribute rules can be tested on a signature that verifies.
func resign(t *testing.T, raw []byte, s assertions.Signer, edit func(a *etree.Element)) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	resp := doc.Root()
	resp.RemoveChild(resp.SelectElement("Signature"))
	a := resp.SelectElement("Assertion")
	a.RemoveChild(a.SelectElement("Signature"))
	edit(a)
	ctx, err := dsig.NewSigningContext(s.Key, [][]byte{s.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	signed, err := ctx.SignEnveloped(a)
	if err != nil {
		t.Fatal(err)
	}
	resp.RemoveChild(a)
	resp.AddChild(signed)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func setAttr(name, value string) func(a *etree.Element) {
	return func(a *etree.Element) {
		for _, at := range a.FindElements("./AttributeStatement/Attribute") {
			if at.SelectAttrValue("Name", "") == name {
				at.SelectElement("AttributeValue").SetText(value)
			}
		}
	}
}

func TestInspectAcceptsWhatRolegateIssues(t *testing.T) {
	s := testSigner(t)
	raw, err := assertions.BuildAWS(validResponse(), s)
	if err != nil {
		t.Fatal(err)
	}
	v := assertions.InspectAWS(raw, expect(s, now.Add(time.Minute)))
	if !v.Accepted || len(v.Problems) != 0 {
		t.Fatalf("refused: %v", v.Problems)
	}
	if len(v.Roles) != 1 || v.Roles[0].RoleARN != "arn:aws:iam::111122223333:role/Admin" || v.SessionName != "alice" ||
		v.SessionDuration != 2*time.Hour-time.Minute || v.SourceIdentity != "alice" || !v.ResponseSigned || len(v.Tags) != 2 ||
		v.Tags[1] != (assertions.Tag{Key: "team", Value: "platform", Transitive: true}) {
		t.Fatalf("verdict: %+v", v)
	}
}

func TestInspectRefusesWhatAWSWouldRefuse(t *testing.T) {
	s, other := testSigner(t), testSigner(t)
	good, err := assertions.BuildAWS(validResponse(), s)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := bytes.Replace(good, []byte("<saml:Assertion"), []byte(`<saml:Assertion ID="_evil"><saml:Issuer>x</saml:Issuer></saml:Assertion><saml:Assertion`), 1)
	for _, tc := range []struct {
		name string
		raw  []byte
		exp  assertions.Expect
		want string
	}{
		{"an expired assertion", good, expect(s, now.Add(5*time.Minute)), "expired"},
		{"an assertion from the future", good, expect(s, now.Add(-2*time.Minute)), "not valid before"},
		{"a Response posted to another endpoint", good, func() assertions.Expect {
			e := expect(s, now)
			e.ACS = "https://eu-west-1.signin.aws.amazon.com/saml"
			return e
		}(), "Destination"},
		{"another issuer", good, func() assertions.Expect { e := expect(s, now); e.EntityID = "https://other/saml/metadata"; return e }(), "Issuer"},
		{"a signature by a key the metadata does not list", good, expect(other, now), "does not verify"},
		{"a changed role", bytes.Replace(good, []byte("role/Admin"), []byte("role/Root"), 1), expect(s, now), "does not verify"},
		{"a second, unsigned assertion", wrapped, expect(s, now), "signature"},
		{"a bad session name", resign(t, good, s, setAttr(assertions.AttrRoleSessionName, "al ice")), expect(s, now), "RoleSessionName"},
		{"a source identity in the aws: namespace", resign(t, good, s, setAttr(assertions.AttrSourceIdentity, "aws:alice")), expect(s, now), "SourceIdentity"},
		{"a session of 13 hours", resign(t, good, s, setAttr(assertions.AttrSessionDuration, "46800")), expect(s, now), "SessionDuration"},
		{"a role pair across accounts", resign(t, good, s, setAttr(assertions.AttrRole,
			"arn:aws:iam::111122223333:role/Admin,arn:aws:iam::999999999999:saml-provider/Rolegate")), expect(s, now), "different accounts"},
		{"an unsigned assertion", unsigned(t, good), expect(s, now), "no signature covers"},
		{"not a Response", []byte(`<x/>`), expect(s, now), "not a SAML 2.0 Response"},
		{"not XML", []byte(`<<<`), expect(s, now), "XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := assertions.InspectAWS(tc.raw, tc.exp)
			if v.Accepted || !strings.Contains(strings.Join(v.Problems, " | "), tc.want) {
				t.Fatalf("accepted=%v problems=%v; want one about %q", v.Accepted, v.Problems, tc.want)
			}
		})
	}
}

func unsigned(t *testing.T, raw []byte) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	for _, sig := range doc.FindElements("//Signature") {
		sig.Parent().RemoveChild(sig)
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
