package sptest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"rolegate/internal/testtools"
)

// sspRoot is where Debian's simplesamlphp package puts SimpleSAMLphp.
const sspRoot = "/usr/share/simplesamlphp"

// sspConfig is SimpleSAMLphp's config.php: Rolegate's metadata is read as the XML it serves.
const sspConfig = `<?php
$config = [
    'baseurlpath' => '{{.Base}}/simplesaml/',
    'certdir' => '{{.Dir}}/',
    'loggingdir' => '{{.Dir}}/var/',
    'datadir' => '{{.Dir}}/var/',
    'tempdir' => '{{.Dir}}/var/',
    'metadatadir' => '{{.Dir}}/ssp-config/',
    'metadata.sources' => [['type' => 'xml', 'file' => '{{.IdPMetadata}}']],
    'technicalcontact_name' => 'Rolegate tests',
    'technicalcontact_email' => 'root@localhost',
    'secretsalt' => '{{.Salt}}',
    'auth.adminpassword' => '{{.Salt}}',
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => true,
    'timezone' => 'UTC',
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'enable.saml20-idp' => false,
    'module.enable' => ['core' => true, 'saml' => true, 'exampleauth' => false],
    // A data store, not the PHP session: SimpleSAMLphp remembers the assertions it received (and
    // refuses them again) only in one.
    'store.type' => 'sql',
    'store.sql.dsn' => 'sqlite:{{.Dir}}/var/store.sqlite',
    'session.cookie.secure' => true,
    'language.available' => ['en'],
    'language.default' => 'en',
    'showerrors' => true,
    'errorreporting' => false,
];
`

// sspAuthsources is the SP: its attribute map turns Rolegate's urn:oid names (assertions/spattrs.go)
// into the names the protected page prints.
const sspAuthsources = `<?php
$config = [
    'default-sp' => [
        'saml:SP',
        'entityID' => '{{.EntityID}}',
        'idp' => '{{.IdP}}',
        'privatekey' => '{{.Key}}',
        'certificate' => '{{.Cert}}',
        'sign.authnrequest' => {{.Signing}},
        'assertion.encryption' => {{.Encrypted}},
        'authproc' => [
            10 => [
                'class' => 'core:AttributeMap',
                'urn:oid:0.9.2342.19200300.100.1.1' => 'uid',
                'urn:oid:0.9.2342.19200300.100.1.3' => 'mail',
                'urn:oid:2.16.840.1.113730.3.1.241' => 'displayName',
                'urn:oid:1.3.6.1.4.1.5923.1.5.1.1' => 'isMemberOf',
            ],
        ],
    ],
];
`

// sspProtectedPHP asks SimpleSAMLphp for a session (with a NameID of the format in the query, if
// any) and prints the NameID and the attributes as KEY=VALUE lines; multi-valued ones ;-separated.
const sspProtectedPHP = `<?php
require_once('` + sspRoot + `/lib/_autoload.php');
$as = new \SimpleSAML\Auth\Simple('default-sp');
$params = [];
if (!empty($_GET['format'])) {
    $params['saml:NameIDPolicy'] = ['Format' => $_GET['format'], 'AllowCreate' => true];
}
$as->requireAuth($params);
header('Content-Type: text/plain; charset=utf-8');
echo "page=protected\n";
$n = $as->getAuthData('saml:sp:NameID');
echo 'nameid-format=', $n->getFormat(), "\n", 'nameid=', $n->getValue(), "\n";
echo 'idp=', $as->getAuthData('saml:sp:IdP'), "\n";
foreach ($as->getAttributes() as $k => $vs) {
    echo $k, '=', implode(';', $vs), "\n";
}
`

const sspApache = `Alias /simplesaml ` + sspRoot + `/www
<Directory ` + sspRoot + `/www>
  Require all granted
</Directory>
SetEnv SIMPLESAMLPHP_CONFIG_DIR {{.Dir}}/ssp-config
`

// sspSP is one SimpleSAMLphp SP in Apache with mod_php.
type sspSP struct {
	*apache
	entityID string
}

// startSSP starts Apache with SimpleSAMLphp as an SP of rg, registered there; signing has it sign
// its AuthnRequests, encrypted gives Rolegate its encryption key and has it refuse clear assertions.
func startSSP(t *testing.T, rg *idp, v variant) *sspSP {
	t.Helper()
	testtools.RequireFile(t, sspRoot+"/lib/_autoload.php", "simplesamlphp")
	for ext, pkg := range map[string]string{"dom": "php-xml", "pdo_sqlite": "php-sqlite3", "mbstring": "php-mbstring"} {
		if m, _ := filepath.Glob("/usr/lib/php/*/" + ext + ".so"); len(m) == 0 {
			testtools.Missing(t, pkg, fmt.Sprintf("PHP's %s extension not found (apt-get install %s)", ext, pkg))
		}
	}
	s := newSite(t, sspProtectedPHP, "ssp-config", "var")
	dir, base, spKey := s.dir, s.base, s.key
	sp := &sspSP{entityID: base + "/simplesaml/" + v.name}
	salt := make([]byte, 16)
	rand.Read(salt)
	data := map[string]any{"Dir": dir, "Base": base, "EntityID": sp.entityID, "IdP": rg.entityID(), "IdPMetadata": rg.metadata(t, dir),
		"Key": spKey.KeyFile, "Cert": spKey.CertFile, "Signing": v.signing, "Encrypted": v.encrypted, "Salt": hex.EncodeToString(salt)}
	if err := os.Chmod(filepath.Join(dir, "var"), 0o777); err != nil { // sessions and logs of Apache's children
		t.Fatal(err)
	}
	render(t, filepath.Join(dir, "ssp-config/config.php"), sspConfig, data)
	render(t, filepath.Join(dir, "ssp-config/authsources.php"), sspAuthsources, data)
	rg.register(t, dir, spMetadata{EntityID: sp.entityID, ACS: base + "/simplesaml/module.php/saml/sp/saml2-acs.php/default-sp",
		Cert: spKey.base64(), Signed: v.signing, Encrypted: v.encrypted, Cipher: v.cipher})
	sp.apache = s.startApache(t, sspApache, data)
	return sp
}

// login is the protected page, asking for a NameID of format (none: the SP asks for no format).
func (sp *sspSP) login(format string) string {
	if format == "" {
		return sp.base + "/secure/"
	}
	return sp.base + "/secure/?" + url.Values{"format": {format}}.Encode()
}

// TestSimpleSAMLphpSP signs alice in at SimpleSAMLphp under each NameID format it asks for, with
// unsigned and signed AuthnRequests, assertions in clear and encrypted; the SP refuses a Response
// posted again and one changed by a character.
func TestSimpleSAMLphpSP(t *testing.T) {
	t.Parallel()
	testSP(t, func(t *testing.T, rg *idp, v variant) spUnderTest {
		sp := startSSP(t, rg, v)
		return spUnderTest{sp.apache, sp.entityID, sp.login, "duplicate assertion", tamperedWhy}
	})
}
