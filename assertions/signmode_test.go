package assertions_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/store"
)

var signModes = []store.SignMode{store.SignBoth, store.SignAssertion, store.SignResponse}

// Each mode carries exactly the signatures it names, each verifies with xmlsec1 against the signing
// certificate alone, and the checker (what ststest holds Responses to as well) accepts the Response,
// plain or encrypted.
func TestEachSignModeSignsWhatItSaysAndIsAccepted(t *testing.T) {
	s := testSigner(t)
	for _, m := range signModes {
		for _, encrypted := range []bool{false, true} {
			t.Run(m.String()+map[bool]string{true: "/encrypted"}[encrypted], func(t *testing.T) {
				r, exp := validResponse(), expect(s, now.Add(time.Minute))
				var decrypt *rsa.PrivateKey
				if encrypted {
					var enc *x509.Certificate
					r, enc = encryptedResponse(t)
					decrypt, exp.ACS = keyOf[enc], r.ACS
					exp.Decrypt = []*rsa.PrivateKey{decrypt}
				}
				r.Sign = m
				out, err := assertions.BuildAWS(r, s)
				if err != nil {
					t.Fatal(err)
				}
				plain := out // where the Assertion is in the clear
				if encrypted {
					if plain, err = samltest.DecryptXMLSec(t, out, decrypt); err != nil {
						t.Fatal(err)
					}
				}
				wantResp, wantAssertion := m != store.SignAssertion, m != store.SignResponse
				if got := signatures(t, out, "Response"); got != map[bool]int{true: 1}[wantResp] {
					t.Errorf("the Response carries %d signatures, want %v", got, wantResp)
				}
				if got := signatures(t, plain, "Assertion"); got != map[bool]int{true: 1}[wantAssertion] {
					t.Errorf("the Assertion carries %d signatures, want %v", got, wantAssertion)
				}
				if wantResp {
					if err := samltest.VerifyXMLSec(t, out, s.Cert, samltest.ResponseSignature); err != nil {
						t.Errorf("Response signature: %v", err)
					}
				}
				if wantAssertion {
					if err := samltest.VerifyXMLSec(t, plain, s.Cert, samltest.AssertionSignature); err != nil {
						t.Errorf("Assertion signature: %v", err)
					}
				}
				if err := samltest.ValidateSchema(t, out, "saml-schema-protocol-2.0.xsd"); err != nil {
					t.Errorf("schema: %v", err)
				}
				v := assertions.InspectAWS(out, exp)
				if !v.Accepted || v.ResponseSigned != wantResp || v.AssertionSigned != wantAssertion || v.SessionName != "alice" {
					t.Errorf("verdict %+v", v)
				}
			})
		}
	}
}

// signatures counts the ds:Signature children of the first element named local in doc.
func signatures(t *testing.T, doc []byte, local string) int {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		t.Fatal(err)
	}
	el := d.Root()
	if el.Tag != local {
		el = d.FindElement("//" + local)
	}
	if el == nil {
		t.Fatalf("no %s in the document", local)
	}
	return len(el.SelectElements("Signature"))
}

// With one signature, the checker reads only the Assertion that signature covers: a forged one
// beside or around a signed Response, or a signed Response's Assertion changed, is refused.
func TestOneSignatureIsTiedToTheAssertionRead(t *testing.T) {
	s := testSigner(t)
	build := func(m store.SignMode) []byte {
		r := validResponse()
		r.Sign = m
		out, err := assertions.BuildAWS(r, s)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	respOnly, assertionOnly := build(store.SignResponse), build(store.SignAssertion)
	forged := func(raw []byte) string { return strings.Replace(assertionOf(raw), "role/Admin", "role/Root", 1) }
	// The signed Response hidden in the Extensions of an unsigned one that holds the forged Assertion.
	body := strings.TrimPrefix(string(respOnly), `<?xml version="1.0" encoding="UTF-8"?>`)
	wrapped := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_w" Version="2.0" IssueInstant="2026-11-30T12:00:00.000Z" Destination="https://signin.aws.amazon.com/saml">` +
		`<saml:Issuer>https://idp.example.com/saml/metadata</saml:Issuer><samlp:Extensions>` + body + `</samlp:Extensions>` +
		`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` + forged(respOnly) + `</samlp:Response>`
	for _, tc := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"a changed role under the Response signature", bytes.Replace(respOnly, []byte("role/Admin"), []byte("role/Root"), 1), "Response signature does not verify"},
		{"a forged Assertion beside the signed one", bytes.Replace(respOnly, []byte("<saml:Assertion"), []byte(forged(respOnly)+"<saml:Assertion"), 1), "Response signature does not verify"},
		{"a signed Response wrapped in an unsigned one with a forged Assertion", []byte(wrapped), "no signature covers"},
		{"a changed role under the Assertion signature", bytes.Replace(assertionOnly, []byte(assertionOf(assertionOnly)), []byte(forged(assertionOnly)), 1), "Assertion signature does not verify"},
		{"the signed Assertion replaced by an unsigned one", bytes.Replace(assertionOnly, []byte(assertionOf(assertionOnly)), []byte(forged(respOnly)), 1), "no signature covers"},
		{"neither signed", unsigned(t, respOnly), "no signature covers"},
		{"a Response signature with the Assertion's removed from both", unsigned(t, build(store.SignBoth)), "no signature covers"},
		{"a signed Response with a broken Assertion signature", bytes.Replace(build(store.SignBoth), []byte("<ds:SignatureValue>"), []byte("<ds:SignatureValue>AAAA"), 2), "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if bytes.Equal(tc.raw, respOnly) || bytes.Equal(tc.raw, assertionOnly) {
				t.Fatal("nothing was changed")
			}
			v := assertions.InspectAWS(tc.raw, expect(s, now.Add(time.Minute)))
			if v.Accepted || !strings.Contains(strings.Join(v.Problems, " | "), tc.want) {
				t.Fatalf("accepted=%v problems=%v; want one about %q", v.Accepted, v.Problems, tc.want)
			}
			for _, r := range v.Roles {
				if strings.Contains(r.RoleARN, "Root") {
					t.Fatalf("the verdict shows the forged role %s", r.RoleARN)
				}
			}
		})
	}
}

func assertionOf(raw []byte) string {
	i, j := bytes.Index(raw, []byte("<saml:Assertion")), bytes.Index(raw, []byte("</saml:Assertion>"))
	return string(raw[i : j+len("</saml:Assertion>")])
}

func TestUnknownSignModeIsRefused(t *testing.T) {
	r := validResponse()
	r.Sign = "none"
	if out, err := assertions.BuildAWS(r, testSigner(t)); err == nil {
		t.Fatalf("built an unsigned Response:\n%s", out)
	}
}

// A comment put into a signed value leaves the signature valid (exclusive c14n drops comments); the
// checker must then report the whole signed value, not the text before the comment.
func TestACommentInASignedValueDoesNotCutIt(t *testing.T) {
	s := testSigner(t)
	for _, m := range signModes {
		t.Run(m.String(), func(t *testing.T) {
			r := validResponse()
			r.Sign = m
			out, err := assertions.BuildAWS(r, s)
			if err != nil {
				t.Fatal(err)
			}
			cut := strings.Replace(strings.Replace(string(out), "role/Admin", "role/Ad<!---->min", 1), ">alice<", ">al<!--x-->ice<", 1)
			if cut == string(out) || strings.Count(cut, "<!--") != 2 {
				t.Fatal("no comment was put in")
			}
			v := assertions.InspectAWS([]byte(cut), expect(s, now.Add(time.Minute)))
			if !v.Accepted || v.SessionName != "alice" || len(v.Roles) != 1 || v.Roles[0].RoleARN != "arn:aws:iam::111122223333:role/Admin" {
				t.Fatalf("verdict %+v", v)
			}
		})
	}
}
