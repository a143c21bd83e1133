// Package samltest checks SAML documents with tools outside this repository (xmllint, xmlsec1), so
// tests do not only trust our own parser. A missing tool fails the test under CI=true and skips it
// elsewhere (testtools decides).
package samltest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"rolegate/internal/testtools"
)

// SchemaDir is where Debian's opensaml-schemas package puts the OASIS SAML 2.0 schemas.
const SchemaDir = "/usr/share/xml/opensaml"

// xmltoolingDir holds the W3C schemas (xmldsig, xenc, xml.xsd) from Debian's xmltooling-schemas.
const xmltoolingDir = "/usr/share/xml/xmltooling"

// catalog maps the W3C schema locations that the OASIS schemas import to local copies, so
// validation needs no network.
const catalog = `<?xml version="1.0"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <system systemId="http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd" uri="file://%[1]s/xmldsig-core-schema.xsd"/>
  <system systemId="http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd" uri="file://%[1]s/xenc-schema.xsd"/>
  <system systemId="http://www.w3.org/2001/xml.xsd" uri="file://%[1]s/xml.xsd"/>
</catalog>
`

// ValidateSchema validates doc with xmllint against schema, a file name in SchemaDir such as
// "saml-schema-metadata-2.0.xsd". It returns xmllint's complaint when doc is not valid.
func ValidateSchema(t testing.TB, doc []byte, schema string) error {
	t.Helper()
	xmllint := testtools.RequireTool(t, "xmllint", "libxml2-utils")
	testtools.RequireFile(t, filepath.Join(SchemaDir, schema), "opensaml-schemas")
	testtools.RequireFile(t, filepath.Join(xmltoolingDir, "xmldsig-core-schema.xsd"), "xmltooling-schemas")
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalog.xml")
	docPath := filepath.Join(dir, "doc.xml")
	if err := os.WriteFile(cat, fmt.Appendf(nil, catalog, xmltoolingDir), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmllint, "--noout", "--nonet", "--schema", filepath.Join(SchemaDir, schema), docPath)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+cat)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("xmllint: %v\n%s", err, out.String())
	}
	return nil
}
