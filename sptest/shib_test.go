package sptest

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rolegate/internal/testtools"
)

// shibSP is one Shibboleth SP: shibd and Apache with mod_shib, sharing one generated shibboleth2.xml.
type shibSP struct {
	*apache
	entityID string
}

const shibConfig = `<SPConfig xmlns="urn:mace:shibboleth:3.0:native:sp:config" clockSkew="180">
  <OutOfProcess logger="{{.Dir}}/shibd.logger"/>
  <InProcess logger="{{.Dir}}/native.logger"/>
  <TCPListener address="127.0.0.1" port="{{.ShibdPort}}" acl="127.0.0.1"/>
  <StorageService type="Memory" id="mem" cleanupInterval="900"/>
  <SessionCache type="StorageService" StorageService="mem" cacheAllowance="900" inprocTimeout="900" cleanupInterval="900"/>
  <ReplayCache StorageService="mem"/>
  <ApplicationDefaults entityID="{{.EntityID}}" REMOTE_USER="uid" signing="{{.Signing}}" encryption="false">
    <Sessions lifetime="28800" timeout="3600" relayState="ss:mem" checkAddress="false" handlerSSL="true" cookieProps="https" redirectLimit="exact">
      <SSO entityID="{{.IdP}}">SAML2</SSO>
      <Logout>Local</Logout>
      <Handler type="Session" Location="/Session" showAttributeValues="true"/>
    </Sessions>
    <Errors supportContact="root@localhost" helpLocation="/about.html" styleSheet="/shibboleth-sp/main.css"/>
    <MetadataProvider type="XML" validate="true" path="{{.IdPMetadata}}"/>
    <AttributeExtractor type="XML" validate="true" reloadChanges="false" path="{{.Dir}}/attribute-map.xml"/>
    <AttributeFilter type="XML" validate="true" path="{{.Dir}}/attribute-policy.xml"/>
    <CredentialResolver type="File" key="{{.Key}}" certificate="{{.Cert}}"/>
  </ApplicationDefaults>
  <SecurityPolicyProvider type="XML" validate="true" path="/etc/shibboleth/security-policy.xml"/>
  <ProtocolProvider type="XML" validate="true" reloadChanges="false" path="/etc/shibboleth/protocols.xml"/>
</SPConfig>
`

// shibAttributeMap maps Rolegate's attribute names (assertions/spattrs.go) and NameID formats to
// the names the protected page prints.
const shibAttributeMap = `<Attributes xmlns="urn:mace:shibboleth:2.0:attribute-map" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Attribute name="urn:oid:0.9.2342.19200300.100.1.1" id="uid"/>
  <Attribute name="urn:oid:0.9.2342.19200300.100.1.3" id="mail"/>
  <Attribute name="urn:oid:2.16.840.1.113730.3.1.241" id="displayName"/>
  <Attribute name="urn:oid:1.3.6.1.4.1.5923.1.5.1.1" id="isMemberOf"/>
  <Attribute name="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" id="nameid-persistent">
    <AttributeDecoder xsi:type="NameIDAttributeDecoder" formatter="$Name"/>
  </Attribute>
  <Attribute name="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" id="nameid-transient">
    <AttributeDecoder xsi:type="NameIDAttributeDecoder" formatter="$Name"/>
  </Attribute>
  <Attribute name="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" id="nameid-emailAddress">
    <AttributeDecoder xsi:type="NameIDAttributeDecoder" formatter="$Name"/>
  </Attribute>
</Attributes>
`

const shibAttributePolicy = `<AttributeFilterPolicyGroup xmlns="urn:mace:shibboleth:2.0:afp" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <AttributeFilterPolicy>
    <PolicyRequirementRule xsi:type="ANY"/>
    <AttributeRule attributeID="*" permitAny="true"/>
  </AttributeFilterPolicy>
</AttributeFilterPolicyGroup>
`

// shibLogger sends a component's log to a file in its folder. Not to the console: log4shib's
// console appender is not safe across threads, and shibd's threads writing at once at start-up
// corrupt its heap ("malloc(): unsorted double linked list corrupted", or a hang).
const shibLogger = `log4j.rootCategory=INFO, file
log4j.category.XMLTooling.XMLObject=WARN
log4j.category.XMLTooling.KeyInfoResolver=WARN
log4j.category.Shibboleth.IPRange=WARN
log4j.category.Shibboleth.PropertySet=WARN
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.fileName={{.Log}}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=%d{%Y-%m-%d %H:%M:%S} %p %c %x: %m%n
`

// shibApache is mod_shib's part of Apache's configuration: /secure needs a Shibboleth session, and
// its page prints what mod_shib put in the environment.
const shibApache = `LoadModule mod_shib /usr/lib/apache2/modules/mod_shib.so
ShibConfig "{{.Dir}}/shibboleth2.xml"
<Location /Shibboleth.sso>
  SetHandler shib
</Location>
<Location /secure>
  AuthType shibboleth
  ShibRequestSetting requireSession 1
  Require shib-session
</Location>
`

// shibProtectedPHP prints what mod_shib put in the environment as KEY=VALUE lines (multi-valued
// ones ;-separated): the attributes, the IdP, and the NameID with its format, which is known from
// the attribute-map.xml entry that decoded it.
const shibProtectedPHP = `<?php
header('Content-Type: text/plain; charset=utf-8');
echo "page=protected\n";
foreach (['nameid-persistent' => '` + persistent + `', 'nameid-transient' => '` + transient + `', 'nameid-emailAddress' => '` + email + `'] as $k => $f) {
	if (isset($_SERVER[$k])) {
		echo 'nameid-format=', $f, "\n", 'nameid=', $_SERVER[$k], "\n";
	}
}
echo 'idp=', $_SERVER['Shib-Identity-Provider'] ?? '', "\n";
foreach (['uid', 'mail', 'displayName', 'isMemberOf'] as $k) {
	if (isset($_SERVER[$k])) {
		echo $k, '=', $_SERVER[$k], "\n";
	}
}
`

// startShib starts shibd and Apache with mod_shib for one SP of rg, registered there; signing has
// it sign its AuthnRequests, encrypted gives Rolegate its encryption key.
func startShib(t *testing.T, rg *idp, v variant) *shibSP {
	t.Helper()
	shibd := testtools.RequireTool(t, "shibd", "shibboleth-sp-utils")
	testtools.RequireFile(t, "/usr/lib/apache2/modules/mod_shib.so", "libapache2-mod-shib")
	s := newSite(t, shibProtectedPHP)
	dir, base, spKey := s.dir, s.base, s.key
	sp := &shibSP{entityID: base + "/shibboleth/" + v.name}
	data := map[string]any{"Dir": dir, "ShibdPort": freePort(t), "EntityID": sp.entityID, "Signing": v.signing,
		"IdP": rg.entityID(), "IdPMetadata": rg.metadata(t, dir), "Key": spKey.KeyFile, "Cert": spKey.CertFile}
	render(t, filepath.Join(dir, "shibboleth2.xml"), shibConfig, data)
	write(t, filepath.Join(dir, "attribute-map.xml"), shibAttributeMap)
	write(t, filepath.Join(dir, "attribute-policy.xml"), shibAttributePolicy)
	render(t, filepath.Join(dir, "shibd.logger"), shibLogger, map[string]string{"Log": filepath.Join(dir, "shibd.log")})
	render(t, filepath.Join(dir, "native.logger"), shibLogger, map[string]string{"Log": filepath.Join(dir, "native.log")})
	write(t, filepath.Join(dir, "native.log"), "") // mod_shib's log, written by Apache's children
	if err := os.Chmod(filepath.Join(dir, "native.log"), 0o666); err != nil {
		t.Fatal(err)
	}
	rg.register(t, dir, spMetadata{EntityID: sp.entityID, ACS: base + "/Shibboleth.sso/SAML2/POST",
		Cert: spKey.base64(), Signed: v.signing, Encrypted: v.encrypted, Cipher: v.cipher})

	startShibd(t, shibd, dir)
	sp.apache = s.startApache(t, shibApache, data)
	return sp
}

// startShibd starts shibd on dir/shibboleth2.xml and waits until it serves.
func startShibd(t testing.TB, shibd, dir string) {
	t.Helper()
	cmd := exec.Command(shibd, "-F", "-f", "-c", filepath.Join(dir, "shibboleth2.xml"), "-p", filepath.Join(dir, "shibd.pid"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C"}
	out := &testtools.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	log := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "shibd.log"))
		return out.String() + string(b)
	}
	done := startProcess(t, "shibd", cmd, log)
	testtools.WaitFor(t, "shibd serving", 30*time.Second, func() bool {
		select {
		case <-done:
			t.Fatalf("shibd ended before it served:\n%s", testtools.Tail(log(), 3000))
		default:
		}
		b, _ := os.ReadFile(filepath.Join(dir, "shibd.log"))
		return strings.Contains(string(b), "listener service starting")
	})
}

// login asks the SP for a session with a NameID of format (none: the SP asks for no format).
func (sp *shibSP) login(format string) string {
	q := url.Values{"target": {sp.base + "/secure/"}}
	if format != "" {
		q.Set("NameIDFormat", format)
	}
	return sp.base + "/Shibboleth.sso/Login?" + q.Encode()
}

// TestShibbolethSP signs alice in at the Shibboleth SP under each NameID format it asks for, with
// unsigned and signed AuthnRequests, assertions in clear and encrypted; the SP refuses a Response
// posted again and one changed by a character.
func TestShibbolethSP(t *testing.T) {
	t.Parallel()
	testSP(t, func(t *testing.T, rg *idp, v variant) spUnderTest {
		sp := startShib(t, rg, v)
		// Rolegate signs the Response too: Shibboleth checks that signature before it decrypts.
		return spUnderTest{sp.apache, sp.entityID, sp.login, "replayed message", func(bool) string { return "signature" }}
	})
}
