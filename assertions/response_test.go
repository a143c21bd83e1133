package assertions_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testSigner(t *testing.T) assertions.Signer {
	t.Helper()
	cert := selfSigned(t, 2048, "rolegate-test")
	return assertions.Signer{Key: keyOf[cert], Cert: cert}
}

func validResponse() *assertions.AWSResponse {
	return &assertions.AWSResponse{
		BaseURL: "https://idp.example.com",
		ACS:     "https://signin.aws.amazon.com/saml",
		NameID:  "rg_5f2b9c",
		Roles: []assertions.RolePair{{
			RoleARN:     "arn:aws:iam::111122223333:role/Admin",
			ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate",
		}},
		SessionName:     "alice",
		SessionDuration: 2 * time.Hour,
		Tags:            []assertions.Tag{{Key: "team", Value: "platform", Transitive: true}, {Key: "cost-center", Value: "42"}},
		SourceIdentity:  "alice",
		AuthnInstant:    now.Add(-time.Minute),
		AuthnContext:    assertions.ContextPassword,
		SessionIndex:    "_s1",
		Now:             now,
		ResponseID:      "_r1",
		AssertionID:     "_a1",
	}
}

func TestSignedResponseVerifiesWithXMLSecAndGoxmldsig(t *testing.T) {
	s := testSigner(t)
	out, err := assertions.BuildAWS(validResponse(), s)
	if err != nil {
		t.Fatal(err)
	}
	for _, xpath := range []string{samltest.AssertionSignature, samltest.ResponseSignature} {
		if err := samltest.VerifyXMLSec(t, out, s.Cert, xpath); err != nil {
			t.Fatalf("%s: %v", xpath, err)
		}
	}
	if err := samltest.ValidateSchema(t, out, "saml-schema-protocol-2.0.xsd"); err != nil {
		t.Fatal(err)
	}
	// goxmldsig, the library we sign with, verifies it too, against the certificate alone.
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{s.Cert}})
	vctx.Clock = dsig.NewFakeClockAt(now)
	if _, err := vctx.Validate(doc.Root()); err != nil {
		t.Fatalf("goxmldsig: %v", err)
	}
	for _, want := range []string{dsig.RSASHA256SignatureMethod, "http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2001/10/xml-exc-c14n#"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Fatalf("the signature does not use %s", want)
		}
	}
}

func TestTamperedOrForeignSignaturesFail(t *testing.T) {
	s := testSigner(t)
	out, err := assertions.BuildAWS(validResponse(), s)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(out, []byte("role/Admin"), []byte("role/Adnin"), 1)
	if bytes.Equal(tampered, out) {
		t.Fatal("nothing was tampered")
	}
	if samltest.VerifyXMLSec(t, tampered, s.Cert, samltest.AssertionSignature) == nil {
		t.Fatal("xmlsec1 accepted an assertion with a changed role")
	}
	if samltest.VerifyXMLSec(t, tampered, s.Cert, samltest.ResponseSignature) == nil {
		t.Fatal("xmlsec1 accepted a response with a changed role")
	}
	other := testSigner(t)
	if samltest.VerifyXMLSec(t, out, other.Cert, samltest.AssertionSignature) == nil {
		t.Fatal("xmlsec1 accepted a signature against another key's certificate")
	}
}

func TestResponseCarriesWhatAWSRequires(t *testing.T) {
	out, err := assertions.BuildAWS(validResponse(), testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	one := func(path string) *etree.Element {
		t.Helper()
		els := root.FindElements(path)
		if len(els) != 1 {
			t.Fatalf("%s: %d elements, want 1", path, len(els))
		}
		return els[0]
	}
	attr := func(el *etree.Element, name string) string { return el.SelectAttrValue(name, "") }
	if attr(root, "Destination") != "https://signin.aws.amazon.com/saml" {
		t.Fatal("Destination")
	}
	if one("./Issuer").Text() != "https://idp.example.com/saml/metadata" || one("./Assertion/Issuer").Text() != "https://idp.example.com/saml/metadata" {
		t.Fatal("Issuer")
	}
	if attr(one("./Status/StatusCode"), "Value") != assertions.StatusSuccess {
		t.Fatal("Status")
	}
	nid := one("./Assertion/Subject/NameID")
	if nid.Text() != "rg_5f2b9c" || attr(nid, "Format") != assertions.NameIDPersistent {
		t.Fatal("NameID")
	}
	sc := one("./Assertion/Subject/SubjectConfirmation")
	scd := one("./Assertion/Subject/SubjectConfirmation/SubjectConfirmationData")
	if attr(sc, "Method") != assertions.MethodBearer || attr(scd, "Recipient") != "https://signin.aws.amazon.com/saml" ||
		attr(scd, "NotOnOrAfter") != "2026-11-23T12:05:00.000Z" {
		t.Fatalf("SubjectConfirmation: %s %s %s", attr(sc, "Method"), attr(scd, "Recipient"), attr(scd, "NotOnOrAfter"))
	}
	cond := one("./Assertion/Conditions")
	if attr(cond, "NotBefore") != "2026-11-23T11:59:00.000Z" || attr(cond, "NotOnOrAfter") != "2026-11-23T12:05:00.000Z" ||
		one("./Assertion/Conditions/AudienceRestriction/Audience").Text() != assertions.AudienceAWS {
		t.Fatal("Conditions")
	}
	as := one("./Assertion/AuthnStatement")
	if attr(as, "AuthnInstant") != "2026-11-23T11:59:00.000Z" || attr(as, "SessionNotOnOrAfter") != "2026-11-23T14:00:00.000Z" ||
		attr(as, "SessionIndex") != "_s1" || one("./Assertion/AuthnStatement/AuthnContext/AuthnContextClassRef").Text() != assertions.ContextPassword {
		t.Fatal("AuthnStatement")
	}
	values := map[string][]string{}
	for _, a := range root.FindElements("./Assertion/AttributeStatement/Attribute") {
		for _, v := range a.SelectElements("AttributeValue") {
			values[attr(a, "Name")] = append(values[attr(a, "Name")], v.Text())
		}
	}
	want := map[string]string{
		assertions.AttrRole:                         "arn:aws:iam::111122223333:saml-provider/Rolegate,arn:aws:iam::111122223333:role/Admin",
		assertions.AttrRoleSessionName:              "alice",
		assertions.AttrSessionDuration:              "7200",
		assertions.AttrPrincipalTag + "team":        "platform",
		assertions.AttrPrincipalTag + "cost-center": "42",
		assertions.AttrTransitiveTagKeys:            "team",
		assertions.AttrSourceIdentity:               "alice",
	}
	if len(values) != len(want) {
		t.Fatalf("attributes: %v", values)
	}
	for k, v := range want {
		if strings.Join(values[k], "|") != v {
			t.Fatalf("%s = %v, want %s", k, values[k], v)
		}
	}
	// Exactly one Signature in each signed element, right after its Issuer.
	for _, el := range []*etree.Element{root, one("./Assertion")} {
		kids := el.ChildElements()
		if kids[0].Tag != "Issuer" || kids[1].Tag != "Signature" || len(el.SelectElements("Signature")) != 1 {
			t.Fatalf("%s: children %s, %s", el.Tag, kids[0].Tag, kids[1].Tag)
		}
	}
}

// keyOf maps the test certificates to their keys.
var keyOf = map[*x509.Certificate]*rsa.PrivateKey{}
