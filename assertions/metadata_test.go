package assertions_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/crewjam/saml"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
)

func selfSigned(t *testing.T, bits int, cn string) *x509.Certificate {
	t.Helper()
	key, cert := samltest.KeyPair(t, bits, cn)
	keyOf[cert] = key
	return cert
}

func TestMetadataIsWhatIAMAndTheSchemaAccept(t *testing.T) {
	current, next := selfSigned(t, 2048, "current"), selfSigned(t, 3072, "next")
	for _, tc := range []struct {
		name  string
		certs []*x509.Certificate
	}{
		{"one signing key", []*x509.Certificate{current}},
		{"the current and the next key during a rotation", []*x509.Certificate{current, next}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: "https://idp.example.com/", SigningCerts: tc.certs})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(md, []byte("\xef\xbb\xbf")) || !bytes.HasPrefix(md, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
				t.Fatalf("metadata must be UTF-8 without a BOM and declare it; starts %q", md[:40])
			}
			if len(md) < 1000 {
				t.Fatalf("IAM wants at least 1000 characters of metadata, got %d", len(md))
			}
			if err := samltest.ValidateSchema(t, md, "saml-schema-metadata-2.0.xsd"); err != nil {
				t.Fatal(err)
			}
			// A second implementation reads it back: crewjam's metadata types.
			var ed saml.EntityDescriptor
			if err := xml.Unmarshal(md, &ed); err != nil {
				t.Fatal(err)
			}
			if ed.EntityID != "https://idp.example.com/saml/metadata" || len(ed.IDPSSODescriptors) != 1 {
				t.Fatalf("entityID %q, %d IDPSSODescriptors", ed.EntityID, len(ed.IDPSSODescriptors))
			}
			d := ed.IDPSSODescriptors[0]
			if len(d.KeyDescriptors) != len(tc.certs) {
				t.Fatalf("%d KeyDescriptors, want %d", len(d.KeyDescriptors), len(tc.certs))
			}
			for i, kd := range d.KeyDescriptors {
				der, err := base64.StdEncoding.DecodeString(kd.KeyInfo.X509Data.X509Certificates[0].Data)
				if err != nil || kd.Use != "signing" || !bytes.Equal(der, tc.certs[i].Raw) {
					t.Fatalf("KeyDescriptor %d: use %q, certificate matches: %v (%v)", i, kd.Use, bytes.Equal(der, tc.certs[i].Raw), err)
				}
			}
			var formats []string
			for _, f := range d.NameIDFormats {
				formats = append(formats, string(f))
			}
			if got := strings.Join(formats, " "); got != assertions.NameIDPersistent+" "+assertions.NameIDTransient+" "+assertions.NameIDEmail {
				t.Fatalf("NameIDFormats = %s", got)
			}
			if len(d.SingleSignOnServices) != 2 || d.SingleSignOnServices[0].Binding != saml.HTTPRedirectBinding ||
				d.SingleSignOnServices[1].Binding != saml.HTTPPostBinding ||
				d.SingleSignOnServices[0].Location != "https://idp.example.com/saml/sso" {
				t.Fatalf("SingleSignOnServices = %+v", d.SingleSignOnServices)
			}
		})
	}
}

func TestMetadataRefusesWhatIAMWouldNot(t *testing.T) {
	good := selfSigned(t, 2048, "good")
	many := make([]*x509.Certificate, 11)
	for i := range many {
		many[i] = good
	}
	for _, tc := range []struct {
		name  string
		base  string
		certs []*x509.Certificate
		want  string
	}{
		{"a 1024-bit key", "https://idp.example.com", []*x509.Certificate{selfSigned(t, 1024, "weak")}, "1024-bit"},
		{"no certificate", "https://idp.example.com", nil, "1 to 10"},
		{"eleven certificates", "https://idp.example.com", many, "1 to 10"},
		{"a relative base URL", "/idp", []*x509.Certificate{good}, "absolute"},
		{"a base URL with a query", "https://idp.example.com/?x=1", []*x509.Certificate{good}, "query"},
		{"a base URL of another scheme", "ftp://idp.example.com", []*x509.Certificate{good}, "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assertions.Metadata(assertions.MetadataInput{BaseURL: tc.base, SigningCerts: tc.certs})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestEntityIDIgnoresATrailingSlash(t *testing.T) {
	for _, base := range []string{"https://idp.example.com", "https://idp.example.com/", "https://idp.example.com//"} {
		if got := assertions.EntityID(base); got != "https://idp.example.com/saml/metadata" {
			t.Errorf("EntityID(%q) = %q", base, got)
		}
	}
}

func TestReadMetadataTakesWhatIAMTrustsAndNothingElse(t *testing.T) {
	current, next := selfSigned(t, 2048, "current"), selfSigned(t, 2048, "next")
	md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: "https://idp.example.com", SigningCerts: []*x509.Certificate{current, next}})
	if err != nil {
		t.Fatal(err)
	}
	entity, certs, err := assertions.ReadMetadata(md)
	if err != nil || entity != "https://idp.example.com/saml/metadata" || len(certs) != 2 || !certs[0].Equal(current) || !certs[1].Equal(next) {
		t.Fatalf("our own metadata read back: %q, %d certificates, %v", entity, len(certs), err)
	}
	der := base64.StdEncoding.EncodeToString(current.Raw)
	for _, tc := range []struct{ name, md string }{
		{"not XML", "entityID=x"},
		{"no key at all", `<EntityDescriptor entityID="x"><IDPSSODescriptor/></EntityDescriptor>`},
		{"an encryption key only", `<EntityDescriptor entityID="x"><IDPSSODescriptor><KeyDescriptor use="encryption"><KeyInfo><X509Data><X509Certificate>` +
			der + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor></IDPSSODescriptor></EntityDescriptor>`},
		{"a signing key of an SP, not the IdP", `<EntityDescriptor entityID="x"><SPSSODescriptor><KeyDescriptor use="signing"><KeyInfo><X509Data><X509Certificate>` +
			der + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor></SPSSODescriptor></EntityDescriptor>`},
		{"a certificate that is not one", `<EntityDescriptor entityID="x"><IDPSSODescriptor><KeyDescriptor><KeyInfo><X509Data><X509Certificate>bm90IGEgY2VydA==</X509Certificate></X509Data></KeyInfo></KeyDescriptor></IDPSSODescriptor></EntityDescriptor>`},
	} {
		if _, certs, err := assertions.ReadMetadata([]byte(tc.md)); err == nil {
			t.Errorf("%s: read %d certificates; want a refusal", tc.name, len(certs))
		}
	}
}

func TestParseMetadataCertReadsWhatCrewjamReads(t *testing.T) {
	cert := selfSigned(t, 2048, "metadata")
	b64 := base64.StdEncoding.EncodeToString(cert.Raw)
	wrapped := "\n\t " + b64[:40] + "\r\n" + b64[40:] + "\n"
	for _, tc := range []struct {
		name, data string
		want       *x509.Certificate
		err        bool
	}{
		{"plain base64", b64, cert, false},
		{"wrapped and indented, as metadata prints it", wrapped, cert, false},
		{"empty: skipped, as crewjam skips it", " \n\t", nil, false},
		{"not base64", "%%%", nil, true},
		{"a non-ASCII space inside, which crewjam would not read", b64[:40] + "\u00a0" + b64[40:], nil, true},
		{"base64 of something else", base64.StdEncoding.EncodeToString([]byte("not a certificate")), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assertions.ParseMetadataCert(tc.data)
			if (err != nil) != tc.err || (tc.want == nil) != (got == nil) || (got != nil && !got.Equal(tc.want)) {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}
