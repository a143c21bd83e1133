package loadgen

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"rolegate/assertions/samltest"
	"rolegate/internal/testtools"

	"github.com/beevik/etree"
)

// golden reads a signed Response from testdata/golden and the certificate that signed it.
func golden(t *testing.T, name string) ([]byte, *x509.Certificate) {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/golden/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.ReadFile("../../testdata/golden/signing-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(p)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return raw, cert
}

func TestXMLSecAcceptsRolegatesSignaturesAndRefusesATamperOrAStrangersKey(t *testing.T) {
	testtools.RequireTool(t, "xmlsec1", "xmlsec1")
	raw, cert := golden(t, "aws-all-roles.xml")
	for _, tc := range []struct {
		name  string
		doc   []byte
		certs []*x509.Certificate
		want  string // "" to accept
	}{
		{"both signatures, the signing certificate", raw, []*x509.Certificate{cert}, ""},
		{"a rotation's two certificates, the second the signer", raw, []*x509.Certificate{strangerCert(t), cert}, ""},
		{"one character of the Assertion changed", bytes.Replace(raw, []byte("arn:aws:iam::"), []byte("arn:aws:iam:;"), 1), []*x509.Certificate{cert}, "xmlsec1 refuses the signature"},
		{"only another key's certificate", raw, []*x509.Certificate{strangerCert(t)}, "xmlsec1 refuses the signature"},
		{"no signature at all", stripSignatures(t, raw), []*x509.Certificate{cert}, "carries no signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := (&Target{Certs: tc.certs}).NewXMLSec("xmlsec1")
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			err = x.Verify(tc.doc)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Verify: %v, want %q", err, tc.want)
			}
			if err != nil && kindOf(err) != KindVerify {
				t.Errorf("a refusal of kind %q, want %q (a wrong answer fails the run)", kindOf(err), KindVerify)
			}
		})
	}
}

// strangerCert is a self-signed certificate of a key that signed nothing here.
func strangerCert(t *testing.T) *x509.Certificate {
	_, c := samltest.KeyPair(t, 2048, "stranger")
	return c
}

// stripSignatures is raw without its Signature elements.
func stripSignatures(t *testing.T, raw []byte) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	for _, s := range doc.FindElements("//Signature") {
		s.Parent().RemoveChild(s)
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
