package samltest

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"rolegate/internal/testtools"
)

// Signature locations in a SAML Response, for VerifyXMLSec.
const (
	AssertionSignature = "//*[local-name()='Assertion']/*[local-name()='Signature']"
	ResponseSignature  = "/*[local-name()='Response']/*[local-name()='Signature']"
)

// VerifyXMLSec verifies the signature at xpath in doc with xmlsec1, trusting only cert: the key data
// is restricted to the given key, so a key embedded in the document is never used.
func VerifyXMLSec(t testing.TB, doc []byte, cert *x509.Certificate, xpath string) error {
	t.Helper()
	xmlsec := testtools.RequireTool(t, "xmlsec1", "xmlsec1")
	dir := t.TempDir()
	certPath, docPath := filepath.Join(dir, "idp.crt"), filepath.Join(dir, "response.xml")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmlsec, "--verify", "--pubkey-cert-pem", certPath, "--enabled-key-data", "key-name",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		"--node-xpath", xpath, docPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("xmlsec1: %v\n%s", err, out.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("OK")) {
		return fmt.Errorf("xmlsec1 did not say OK:\n%s", out.String())
	}
	return nil
}

// DecryptXMLSec decrypts the encrypted elements of doc with xmlsec1 and key, the recipient's private
// key, and returns the document with them replaced by what they held.
func DecryptXMLSec(t testing.TB, doc []byte, key *rsa.PrivateKey) ([]byte, error) {
	t.Helper()
	xmlsec := testtools.RequireTool(t, "xmlsec1", "xmlsec1")
	dir := t.TempDir()
	keyPath, docPath := filepath.Join(dir, "sp.key"), filepath.Join(dir, "response.xml")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	// Only an EncryptedKey (opened with key) may give the content key: never a key the document
	// carries in the clear, nor a certificate it names.
	cmd := exec.Command(xmlsec, "--decrypt", "--privkey-pem", keyPath, "--enabled-key-data", "enc-key", docPath)
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("xmlsec1 --decrypt: %v\n%s", err, errs.String())
	}
	return out.Bytes(), nil
}
