// Package assertions builds the SAML documents Rolegate issues: IdP metadata and, for AWS and other
// SPs, signed Responses. It is pure: values in, bytes out; no HTTP, no SQL, no clock reads.
package assertions

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/beevik/etree"

	"rolegate/store"
)

// SAML names used in metadata and responses.
const (
	NSMetadata = "urn:oasis:names:tc:SAML:2.0:metadata"
	NSDSig     = "http://www.w3.org/2000/09/xmldsig#"
	NSProtocol = "urn:oasis:names:tc:SAML:2.0:protocol"

	NameIDPersistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDTransient  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEmail      = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	// NameIDUnspecified in a request's NameIDPolicy leaves the format to the IdP; Rolegate never
	// issues it.
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// NameIDFormats are the NameID formats Rolegate issues to SPs (store.NameIDFormats, each with its
// SAML URI), in the order the IdP metadata advertises them; AWS gets persistent only.
var NameIDFormats = []struct{ Key, URI string }{
	{store.NameIDPersistent, NameIDPersistent}, {store.NameIDTransient, NameIDTransient}, {store.NameIDEmail, NameIDEmail},
}

// EntityID is the IdP's SAML entity ID for a base URL. AWS pins it as the Issuer: it never changes.
func EntityID(baseURL string) string { return strings.TrimRight(baseURL, "/") + "/saml/metadata" }

// SSOURL is where SPs send AuthnRequests.
func SSOURL(baseURL string) string { return strings.TrimRight(baseURL, "/") + "/saml/sso" }

// MetadataInput is what IdP metadata says.
type MetadataInput struct {
	BaseURL string
	// SigningCerts are published as signing KeyDescriptors in order: the current key first, then the
	// next one during a rotation. IAM accepts up to 10 per provider.
	SigningCerts []*x509.Certificate
}

// MinRSABits is the smallest signing key Rolegate publishes; IAM itself accepts 1024.
const MinRSABits = 2048

// Metadata returns the IdP's EntityDescriptor as UTF-8 without a BOM, as IAM CreateSAMLProvider requires.
// It carries no validUntil: IAM does not need one, and a lapsed one would break uploads.
func Metadata(in MetadataInput) ([]byte, error) {
	u, err := url.Parse(in.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("assertions: base URL %q is not an absolute http(s) URL without query or fragment", in.BaseURL)
	}
	if len(in.SigningCerts) == 0 || len(in.SigningCerts) > 10 {
		return nil, fmt.Errorf("assertions: metadata needs 1 to 10 signing certificates, got %d", len(in.SigningCerts))
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", NSMetadata)
	ed.CreateAttr("xmlns:ds", NSDSig)
	ed.CreateAttr("entityID", EntityID(in.BaseURL))
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("protocolSupportEnumeration", NSProtocol)
	for _, c := range in.SigningCerts {
		if err := checkCert(c); err != nil {
			return nil, err
		}
		kd := idp.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", "signing")
		kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
			SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}
	for _, f := range NameIDFormats {
		idp.CreateElement("md:NameIDFormat").SetText(f.URI)
	}
	for _, b := range []string{BindingRedirect, BindingPOST} {
		sso := idp.CreateElement("md:SingleSignOnService")
		sso.CreateAttr("Binding", b)
		sso.CreateAttr("Location", SSOURL(in.BaseURL))
	}
	doc.Indent(2)
	return doc.WriteToBytes()
}

func checkCert(c *x509.Certificate) error {
	if c == nil || len(c.Raw) == 0 {
		return fmt.Errorf("assertions: empty signing certificate")
	}
	type sizer interface{ Size() int }
	pk, ok := c.PublicKey.(sizer)
	if !ok || c.PublicKeyAlgorithm != x509.RSA {
		return fmt.Errorf("assertions: signing certificate %q does not hold an RSA key", c.Subject.CommonName)
	}
	if bits := pk.Size() * 8; bits < MinRSABits {
		return fmt.Errorf("assertions: signing certificate %q holds a %d-bit key; at least %d bits are required", c.Subject.CommonName, bits, MinRSABits)
	}
	return nil
}

// ReadMetadata reads an IdP's entity ID and signing certificates from its metadata, as IAM does:
// every certificate of a KeyDescriptor whose use is "signing" or unset. It refuses metadata that
// is not XML or has no signing certificate.
func ReadMetadata(md []byte) (string, []*x509.Certificate, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(md); err != nil || doc.Root() == nil {
		return "", nil, fmt.Errorf("assertions: the metadata is not XML")
	}
	var certs []*x509.Certificate
	for _, kd := range doc.FindElements("//IDPSSODescriptor/KeyDescriptor") {
		if use := kd.SelectAttrValue("use", ""); use != "" && use != "signing" {
			continue
		}
		for _, c := range kd.FindElements(".//X509Certificate") {
			cert, err := ParseMetadataCert(c.Text())
			if cert == nil && err == nil {
				err = errors.New("it is empty")
			}
			if err != nil {
				return "", nil, fmt.Errorf("assertions: a signing certificate in the metadata: %w", err)
			}
			certs = append(certs, cert)
		}
	}
	if len(certs) == 0 {
		return "", nil, fmt.Errorf("assertions: the metadata has no signing certificate")
	}
	return doc.Root().SelectAttrValue("entityID", ""), certs, nil
}

// MaxMetadataBytes bounds a metadata document Rolegate reads from an admin (a file, standard input
// or a fetch): SPs' and AWS's are a few kilobytes.
const MaxMetadataBytes = 1 << 20

// ParseMetadataCert parses the base64 text of a metadata X509Certificate, ASCII white space
// ignored, as crewjam/saml reads it; an empty one is nil with no error (crewjam skips it).
func ParseMetadataCert(data string) (*x509.Certificate, error) {
	data = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\n\f\r", r) {
			return -1
		}
		return r
	}, data)
	if data == "" {
		return nil, nil
	}
	der, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, errors.New("it is not base64")
	}
	return x509.ParseCertificate(der)
}
