package assertions_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/store"
)

func encryptedResponse(t *testing.T) (*assertions.AWSResponse, *x509.Certificate) {
	t.Helper()
	enc := selfSigned(t, 3072, "rolegate encryption 111122223333")
	r := validResponse()
	r.ACS = "https://us-east-1.signin.aws.amazon.com/saml/acs/A1B2C3D4-0000-1111-2222-333344445555"
	r.Encrypt = &assertions.Encryption{Cert: enc, Rand: rand.Reader}
	return r, enc
}

func TestEncryptedResponseDecryptsAndVerifiesWithXMLSec(t *testing.T) {
	s := testSigner(t)
	r, enc := encryptedResponse(t)
	out, err := assertions.BuildAWS(r, s)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing of the assertion shows outside the encryption.
	for _, secret := range []string{"arn:aws:iam::111122223333:role/Admin", "rg_5f2b9c", "platform", "<saml:Assertion"} {
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("the encrypted Response shows %q", secret)
		}
	}
	for _, want := range []string{assertions.AlgAES256GCM, assertions.AlgRSAOAEP, "<saml:EncryptedAssertion ",
		base64.StdEncoding.EncodeToString(enc.Raw)[:64], `Destination="` + r.ACS + `"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the encrypted Response lacks %q", want)
		}
	}
	// The EncryptedAssertion is what the SAML and XML Encryption schemas allow.
	if err := samltest.ValidateSchema(t, out, "saml-schema-protocol-2.0.xsd"); err != nil {
		t.Errorf("the encrypted Response against the schemas: %v", err)
	}
	// The Response's signature, made after encryption, covers the EncryptedAssertion.
	if err := samltest.VerifyXMLSec(t, out, s.Cert, samltest.ResponseSignature); err != nil {
		t.Fatalf("Response signature: %v", err)
	}
	plain, err := samltest.DecryptXMLSec(t, out, keyOf[enc])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(plain, []byte("<saml:Assertion")) || bytes.Contains(plain, []byte("EncryptedData")) {
		t.Fatalf("xmlsec1 decrypted to:\n%s", plain)
	}
	if err := samltest.VerifyXMLSec(t, plain, s.Cert, samltest.AssertionSignature); err != nil {
		t.Fatalf("the decrypted Assertion's signature: %v", err)
	}
	if !bytes.Contains(plain, []byte(`Recipient="`+r.ACS+`"`)) {
		t.Error("the decrypted Assertion's Recipient is not the encrypted endpoint")
	}
	// The decrypted Assertion verifies with the signing certificate only: not with another one.
	if err := samltest.VerifyXMLSec(t, plain, selfSigned(t, 2048, "stranger"), samltest.AssertionSignature); err == nil {
		t.Error("the decrypted Assertion verified with a stranger's certificate")
	}
	if err := samltest.VerifyXMLSec(t, out, selfSigned(t, 2048, "stranger"), samltest.ResponseSignature); err == nil {
		t.Error("the Response verified with a stranger's certificate")
	}
}

func TestTamperedEncryptedAssertionDoesNotDecrypt(t *testing.T) {
	r, enc := encryptedResponse(t)
	out, err := assertions.BuildAWS(r, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	// flip changes one base64 character in the middle of the n-th CipherValue (0: the wrapped key, 1: the content).
	flip := func(n int) []byte {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(out); err != nil {
			t.Fatal(err)
		}
		cv := doc.FindElements("//CipherValue")[n]
		b := []byte(cv.Text())
		i := len(b) / 2
		b[i] = map[bool]byte{true: 'B', false: 'A'}[b[i] == 'A']
		cv.SetText(string(b))
		res, err := doc.WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for name, doc := range map[string][]byte{
		"a changed content ciphertext fails GCM's check": flip(1),
		"a changed wrapped key fails OAEP":               flip(0),
	} {
		t.Run(name, func(t *testing.T) {
			if plain, err := samltest.DecryptXMLSec(t, doc, keyOf[enc]); err == nil {
				t.Fatalf("xmlsec1 decrypted it:\n%.300s", plain)
			}
		})
	}
	if _, err := samltest.DecryptXMLSec(t, out, keyOf[selfSigned(t, 3072, "stranger")]); err == nil {
		t.Error("a stranger's key decrypted it")
	}
	if _, err := samltest.DecryptXMLSec(t, out, keyOf[enc]); err != nil {
		t.Errorf("the untouched Response does not decrypt: %v", err)
	}
}

func TestTwoEncryptionsOfOneAssertionDiffer(t *testing.T) {
	r, _ := encryptedResponse(t)
	s := testSigner(t)
	a, err := assertions.BuildAWS(r, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := assertions.BuildAWS(r, s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("two encryptions are identical: the content key or nonce is not fresh")
	}
}

func TestEncryptionRefusesAWeakOrMissingCertificate(t *testing.T) {
	for _, c := range []struct {
		name string
		enc  *assertions.Encryption
	}{
		{"a 1024-bit key", &assertions.Encryption{Cert: selfSigned(t, 1024, "weak"), Rand: rand.Reader}},
		{"no certificate", &assertions.Encryption{Rand: rand.Reader}},
		{"no random source", &assertions.Encryption{Cert: selfSigned(t, 2048, "ok")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := validResponse()
			r.Encrypt = c.enc
			if out, err := assertions.BuildAWS(r, testSigner(t)); err == nil {
				t.Fatalf("built:\n%.200s", out)
			}
		})
	}
}

func TestEncryptedResponseWithManyRolesStaysUnderAWSLimit(t *testing.T) {
	s := testSigner(t)
	r, _ := encryptedResponse(t)
	build := func(n int) ([]byte, error) {
		r.Roles = nil
		for i := range n {
			r.Roles = append(r.Roles, assertions.RolePair{
				RoleARN:     fmt.Sprintf("arn:aws:iam::111122223333:role/team-%04d/a-rather-long-role-name-for-sizing", i),
				ProviderARN: "arn:aws:iam::111122223333:saml-provider/Rolegate"})
		}
		return assertions.BuildAWS(r, s)
	}
	// The most roles that fit: found by bisection between one that fits and one that cannot.
	lo, hi := 1, 2000
	if _, err := build(hi); !store.IsCode(err, store.Invalid) || !strings.Contains(store.ErrorMessage(err), "100000") {
		t.Fatalf("%d roles: %v", hi, err)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, err := build(mid); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	out, err := build(lo)
	if err != nil {
		t.Fatal(err)
	}
	if n := base64.StdEncoding.EncodedLen(len(out)); n > assertions.MaxSAMLResponseLen || n < assertions.MaxSAMLResponseLen-2000 {
		t.Errorf("%d roles make %d base64 characters: want just under %d", lo, n, assertions.MaxSAMLResponseLen)
	}
	if lo < 100 {
		t.Errorf("only %d roles fit in an encrypted Response", lo)
	}
	_, err = build(lo + 1)
	if !store.IsCode(err, store.Invalid) || !strings.Contains(store.ErrorMessage(err), fmt.Sprint(lo+1, " roles")) {
		t.Errorf("one role more: %v", err)
	}
}

func TestInspectDecryptsWithTheAccountKeyOnly(t *testing.T) {
	s := testSigner(t)
	r, enc := encryptedResponse(t)
	out, err := assertions.BuildAWS(r, s)
	if err != nil {
		t.Fatal(err)
	}
	want := assertions.Expect{EntityID: "https://idp.example.com/saml/metadata", ACS: r.ACS, Certs: []*x509.Certificate{s.Cert}, Now: now}
	if v := assertions.InspectAWS(out, want); v.Accepted || !strings.Contains(strings.Join(v.Problems, " "), "no encryption key") {
		t.Errorf("without a key: %+v", v)
	}
	want.Decrypt = append(want.Decrypt, keyOf[selfSigned(t, 3072, "stranger")])
	if v := assertions.InspectAWS(out, want); v.Accepted || !strings.Contains(strings.Join(v.Problems, " "), "does not decrypt") {
		t.Errorf("with a stranger's key: %+v", v)
	}
	want.Decrypt = append(want.Decrypt, keyOf[enc])
	v := assertions.InspectAWS(out, want)
	if !v.Accepted || !v.ResponseSigned || v.SessionName != "alice" || len(v.Roles) != 1 ||
		v.Encryption != assertions.AlgAES256GCM+" with key transport "+assertions.AlgRSAOAEP {
		t.Errorf("with the account's key: %+v", v)
	}
	// A plain Response says it was not encrypted.
	r.Encrypt, r.ACS, want.ACS = nil, "https://signin.aws.amazon.com/saml", "https://signin.aws.amazon.com/saml"
	plain, err := assertions.BuildAWS(r, s)
	if err != nil {
		t.Fatal(err)
	}
	if v := assertions.InspectAWS(plain, want); !v.Accepted || v.Encryption != "" {
		t.Errorf("plain: %+v", v)
	}
}

// Anyone can encrypt to the account's certificate: what decrypts must still carry the IdP's signature.
func TestInspectRefusesAnEncryptedAssertionSignedByAStranger(t *testing.T) {
	idpSigner := testSigner(t)
	stranger := assertions.Signer{Cert: selfSigned(t, 2048, "stranger")}
	stranger.Key = keyOf[stranger.Cert]
	r, enc := encryptedResponse(t)
	forged, err := assertions.BuildAWS(r, stranger)
	if err != nil {
		t.Fatal(err)
	}
	want := assertions.Expect{EntityID: "https://idp.example.com/saml/metadata", ACS: r.ACS, Certs: []*x509.Certificate{idpSigner.Cert},
		Now: now, Decrypt: []*rsa.PrivateKey{keyOf[enc]}}
	if v := assertions.InspectAWS(forged, want); v.Accepted || !strings.Contains(strings.Join(v.Problems, " "), "signature does not verify") {
		t.Errorf("a stranger's encrypted assertion: %+v", v)
	}
	plain, err := samltest.DecryptXMLSec(t, forged, keyOf[enc])
	if err != nil {
		t.Fatal(err)
	}
	if err := samltest.VerifyXMLSec(t, plain, idpSigner.Cert, samltest.AssertionSignature); err == nil {
		t.Error("xmlsec1 verified a stranger's assertion with the IdP's certificate")
	}
}
