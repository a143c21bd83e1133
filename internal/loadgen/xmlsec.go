package loadgen

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/beevik/etree"
)

// XMLSec checks Responses' signatures with xmlsec1, a verifier that shares no code with Rolegate,
// trusting only the certificates the metadata published: the key data is restricted to the given
// key, so a key or certificate inside the Response is never used.
type XMLSec struct {
	Path  string   // the xmlsec1 binary
	certs []string // the metadata's certificates, one PEM file each
	dir   string
}

// xmlsecIDs names the ID attributes xmlsec1 resolves the signatures' references by.
var xmlsecIDs = []string{
	"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
	"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
}

// NewXMLSec finds xmlsec1 (path, or on PATH when path is "xmlsec1") and writes the target's
// certificates for it into a new temporary directory; Close removes it.
func (t *Target) NewXMLSec(path string) (*XMLSec, error) {
	p, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("xmlsec1 not found (%v): install it (Debian: apt-get install xmlsec1) or leave --xmlsec1 out", err)
	}
	dir, err := os.MkdirTemp("", "rolegate-bench-xmlsec")
	if err != nil {
		return nil, err
	}
	x := &XMLSec{Path: p, dir: dir}
	for i, c := range t.Certs {
		f := filepath.Join(dir, fmt.Sprintf("idp-%d.crt", i))
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
			x.Close()
			return nil, err
		}
		x.certs = append(x.certs, f)
	}
	return x, nil
}

// Close removes the certificates' directory.
func (x *XMLSec) Close() error { return os.RemoveAll(x.dir) }

// Verify checks every signature raw carries, the Response's and a plain Assertion's (an encrypted
// one is the SP's to open), each with one of the certificates. A Response without any is refused.
func (x *XMLSec) Verify(raw []byte) error {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return Failf(KindVerify, "xmlsec1: the Response does not parse: %v", err)
	}
	var paths []string
	if doc.Root().SelectElement("Signature") != nil {
		paths = append(paths, "/*[local-name()='Response']/*[local-name()='Signature']")
	}
	if a := doc.Root().SelectElement("Assertion"); a != nil && a.SelectElement("Signature") != nil {
		paths = append(paths, "/*[local-name()='Response']/*[local-name()='Assertion']/*[local-name()='Signature']")
	}
	if len(paths) == 0 {
		return Failf(KindVerify, "xmlsec1: the Response carries no signature")
	}
	f, err := os.CreateTemp(x.dir, "response-*.xml")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	f.Close()
	for _, xp := range paths {
		var why []string
		ok := false
		for _, c := range x.certs {
			args := append([]string{"--verify", "--pubkey-cert-pem", c, "--enabled-key-data", "key-name"}, xmlsecIDs...)
			out, err := exec.Command(x.Path, append(args, "--node-xpath", xp, f.Name())...).CombinedOutput()
			if err == nil && bytes.Contains(out, []byte("OK")) {
				ok = true
				break
			}
			why = append(why, strings.TrimSpace(lastLine(out)))
		}
		if !ok {
			return Failf(KindVerify, "xmlsec1 refuses the signature at %s: %s", xp, strings.Join(why, "; "))
		}
	}
	return nil
}

// lastLine is the last non-empty line of out, where xmlsec1 says its verdict.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}
