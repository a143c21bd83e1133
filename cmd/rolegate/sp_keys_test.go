package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"rolegate/assertions/samltest"
)

// keyedMetadata is spMetadata with one KeyDescriptor per use given (use "" writes none) holding
// the base64 certificate data given.
func keyedMetadata(entityID string, keys ...[2]string) string {
	var kd strings.Builder
	for _, k := range keys {
		use := ""
		if k[0] != "" {
			use = ` use="` + k[0] + `"`
		}
		kd.WriteString(`
    <md:KeyDescriptor` + use + `><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` +
			k[1] + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
	}
	const open = `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`
	return strings.Replace(spMetadata(entityID, [2]string{"HTTP-POST", wikiACS}), open, open+kd.String(), 1)
}

// ecCert is the base64 DER of a self-signed certificate for a P-256 key.
func ecCert(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec sp"},
		NotBefore: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Metadata whose keys Rolegate cannot use used to be stored, and every sign-in to the SP then
// ended, after the user had signed in, in a 500 ("expected key to be x.509 certificate with an RSA
// public key", "x509: malformed certificate").
func TestSPAddRefusesKeysRolegateCannotUse(t *testing.T) {
	t.Parallel()
	_, rsaCert := samltest.KeyPair(t, 2048, "sp")
	_, weakCert := samltest.KeyPair(t, 1024, "weak sp")
	rsa64, ec64, weak64 := base64.StdEncoding.EncodeToString(rsaCert.Raw), ecCert(t), base64.StdEncoding.EncodeToString(weakCert.Raw)
	// methods adds EncryptionMethods to the metadata's KeyDescriptors.
	methods := func(md string, algs ...string) string {
		var em strings.Builder
		for _, a := range algs {
			em.WriteString(`<md:EncryptionMethod Algorithm="` + a + `"/>`)
		}
		return strings.ReplaceAll(md, "</ds:KeyInfo>", "</ds:KeyInfo>"+em.String())
	}
	refused := []struct {
		name, md, frag string
	}{
		{"an EC encryption certificate", keyedMetadata("urn:a", [2]string{"encryption", ec64}), "has a key of type ECDSA; Rolegate encrypts assertions only to RSA keys"},
		{"an EC certificate for any use, with no encryption one", keyedMetadata("urn:a", [2]string{"signing", rsa64}, [2]string{"", ec64}), "only to RSA keys"},
		{"a malformed encryption certificate", keyedMetadata("urn:a", [2]string{"encryption", "AAAAnotacert"}), `KeyDescriptor (use "encryption") whose certificate is not a valid X.509 certificate`},
		{"a signing certificate that is not base64", keyedMetadata("urn:a", [2]string{"signing", "%%%"}), "not base64"},
		{"a 1024-bit RSA encryption certificate", keyedMetadata("urn:a", [2]string{"encryption", weak64}), "holds a 1024-bit RSA key; Rolegate encrypts only to keys of at least 2048 bits"},
		{"an encryption key for 3DES only", methods(keyedMetadata("urn:a", [2]string{"encryption", rsa64}), "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"),
			"Rolegate cannot encrypt to this metadata's key: its EncryptionMethods name only http://www.w3.org/2001/04/xmlenc#tripledes-cbc"},
		{"an encryption key for RSA PKCS#1 v1.5 key transport only", methods(keyedMetadata("urn:a", [2]string{"encryption", rsa64}),
			"http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#rsa-1_5"), "name only the key transport http://www.w3.org/2001/04/xmlenc#rsa-1_5"},
	}
	accepted := []struct {
		name, id, md string
	}{
		{"an RSA encryption certificate", "urn:ok:rsa", keyedMetadata("urn:ok:rsa", [2]string{"encryption", rsa64})},
		{"an EC signing certificate beside an RSA encryption one", "urn:ok:mixed", keyedMetadata("urn:ok:mixed", [2]string{"signing", ec64}, [2]string{"encryption", rsa64})},
		{"an RSA certificate for any use, split over lines", "urn:ok:lines", keyedMetadata("urn:ok:lines", [2]string{"", rsa64[:40] + "\n   " + rsa64[40:]})},
		{"an EC signing certificate and no encryption one", "urn:ok:ec", keyedMetadata("urn:ok:ec", [2]string{"signing", ec64})},
		{"an encryption key for AES-CBC and 3DES", "urn:ok:cbc", methods(keyedMetadata("urn:ok:cbc", [2]string{"encryption", rsa64}),
			"http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc", "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p")},
	}
	forEachBackend(t, func(t *testing.T, c *cli) {
		c.ok(t, "", "migrate") // a store to list, which the refused adds never create
		for _, tc := range refused {
			r := c.run(tc.md, "sp", "add", "--metadata", "-")
			if r.code != exitInvalid || !strings.Contains(r.stderr, tc.frag) || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
				t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit %d and one line containing %q", tc.name, r.code, r.stderr, r.stdout, exitInvalid, tc.frag)
			}
		}
		if list := c.sps(t); len(list) != 0 {
			t.Fatalf("refused metadata was stored: %+v", list)
		}
		for _, tc := range accepted {
			c.ok(t, tc.md, "sp", "add", "--metadata", "-")
		}
		if list := c.sps(t); len(list) != len(accepted) {
			t.Fatalf("%d SPs stored; want %d", len(list), len(accepted))
		}
	})
}
