package assertions_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/store"
)

// Every content algorithm Rolegate encrypts with decrypts in xmlsec1 to the signed Assertion, whose
// signature then verifies; a changed ciphertext does not decrypt (GCM) or verify (CBC).
func TestEachContentAlgorithmDecryptsWithXMLSecToTheSignedAssertion(t *testing.T) {
	s := testSigner(t)
	for _, alg := range []string{assertions.AlgAES128GCM, assertions.AlgAES192GCM, assertions.AlgAES256GCM,
		assertions.AlgAES128CBC, assertions.AlgAES192CBC, assertions.AlgAES256CBC} {
		t.Run(alg[strings.LastIndexByte(alg, '#')+1:], func(t *testing.T) {
			r, enc := encryptedResponse(t)
			r.Encrypt.Content = alg
			out, err := assertions.BuildAWS(r, s)
			if err != nil {
				t.Fatal(err)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(out); err != nil {
				t.Fatal(err)
			}
			if em := doc.FindElement("//EncryptedData/EncryptionMethod"); em == nil || em.SelectAttrValue("Algorithm", "") != alg {
				t.Fatalf("not encrypted with %s", alg)
			}
			if em := doc.FindElement("//EncryptedKey/EncryptionMethod"); em == nil || em.SelectAttrValue("Algorithm", "") != assertions.AlgRSAOAEP {
				t.Fatal("the key is not wrapped with rsa-oaep-mgf1p")
			}
			plain, err := samltest.DecryptXMLSec(t, out, keyOf[enc])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(plain, []byte("<saml:Assertion")) {
				t.Fatalf("xmlsec1 decrypted to:\n%s", plain)
			}
			if err := samltest.VerifyXMLSec(t, plain, s.Cert, samltest.AssertionSignature); err != nil {
				t.Fatalf("the decrypted Assertion's signature: %v", err)
			}
			// The last ciphertext block changed: GCM's tag fails; CBC's padding or the signature does.
			cv := doc.FindElements("//CipherValue")[1]
			b := []byte(cv.Text())
			i := len(b) - 8
			b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
			cv.SetText(string(b))
			tampered, err := doc.WriteToBytes()
			if err != nil {
				t.Fatal(err)
			}
			if p, err := samltest.DecryptXMLSec(t, tampered, keyOf[enc]); err == nil {
				if err := samltest.VerifyXMLSec(t, p, s.Cert, samltest.AssertionSignature); err == nil {
					t.Fatal("a changed ciphertext decrypts to an Assertion that verifies")
				}
			}
		})
	}
}

func TestAnUnknownContentAlgorithmIsNotUsed(t *testing.T) {
	r, _ := encryptedResponse(t)
	r.Encrypt = &assertions.Encryption{Cert: r.Encrypt.Cert, Rand: rand.Reader, Content: "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"}
	if out, err := assertions.BuildAWS(r, testSigner(t)); err == nil {
		t.Fatalf("built:\n%.300s", out)
	}
}

func TestTheContentAlgorithmFollowsTheSPsEncryptionMethods(t *testing.T) {
	const (
		gcm128 = assertions.AlgAES128GCM
		gcm256 = assertions.AlgAES256GCM
		cbc128 = assertions.AlgAES128CBC
		cbc256 = assertions.AlgAES256CBC
		des    = "http://www.w3.org/2001/04/xmlenc#tripledes-cbc"
		oaep   = assertions.AlgRSAOAEP
		oaep11 = assertions.AlgRSAOAEP11
		rsa15  = assertions.AlgRSA15
	)
	for _, tc := range []struct {
		name   string
		listed []string
		want   string // "" is a refusal
	}{
		{"nothing listed gets AES-256-GCM", nil, gcm256},
		{"only key transports listed gets AES-256-GCM", []string{oaep11, oaep}, gcm256},
		{"the first GCM listed", []string{gcm128, gcm256}, gcm128},
		{"GCM listed after CBC is still GCM", []string{cbc256, des, gcm256, gcm128}, gcm256},
		{"only CBC listed gets the first CBC", []string{cbc256, cbc128}, cbc256},
		{"CBC beside 3DES and transports", []string{des, cbc128, rsa15, oaep}, cbc128},
		{"an unknown algorithm beside GCM is passed over", []string{"urn:example:cipher", gcm256}, gcm256},
		{"only 3DES is refused", []string{des}, ""},
		{"only an unknown algorithm is refused", []string{"http://www.w3.org/2001/04/xmlenc#kw-aes256"}, ""},
		{"only RSA PKCS#1 v1.5 key transport is refused", []string{gcm256, rsa15}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assertions.ChooseContentEncryption(tc.listed)
			switch {
			case tc.want == "" && (err == nil || !store.IsCode(err, store.Invalid)):
				t.Fatalf("chose %q, %v; want a refusal", got, err)
			case tc.want != "" && (err != nil || got != tc.want):
				t.Fatalf("chose %q, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestTheMetadataAdvertisesTheNameIDFormatsSPsCanBeGiven(t *testing.T) {
	var keys, uris []string
	for _, f := range assertions.NameIDFormats {
		keys, uris = append(keys, f.Key), append(uris, f.URI)
	}
	if !slices.Equal(keys, store.NameIDFormats) {
		t.Fatalf("the metadata's formats %v are not the formats SPs can be fixed to %v", keys, store.NameIDFormats)
	}
	if want := []string{assertions.NameIDPersistent, assertions.NameIDTransient, assertions.NameIDEmail}; !slices.Equal(uris, want) {
		t.Fatalf("URIs %v; want %v", uris, want)
	}
	md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: "https://idp.example.com", SigningCerts: []*x509.Certificate{testSigner(t).Cert}})
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(md); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range doc.FindElements("//NameIDFormat") {
		listed = append(listed, e.Text())
	}
	if !slices.Equal(listed, uris) {
		t.Fatalf("the metadata lists %v; want exactly %v", listed, uris)
	}
}
