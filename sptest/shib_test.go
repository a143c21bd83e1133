package sptest

import (
	"fmt"
	"net/http"
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

// protectedPHP prints the page's variables as KEY=VALUE lines; multi-valued ones are ;-separated.
const shibProtectedPHP = `<?php
header('Content-Type: text/plain; charset=utf-8');
echo "page=protected\n";
foreach (['uid', 'mail', 'displayName', 'isMemberOf', 'nameid-persistent', 'nameid-transient', 'nameid-emailAddress', 'Shib-Identity-Provider'] as $k) {
	if (isset($_SERVER[$k])) {
		echo $k, '=', $_SERVER[$k], "\n";
	}
}
`

// startShib starts shibd and Apache with mod_shib for one SP of rg, registered there; signing has
// it sign its AuthnRequests, encrypted gives Rolegate its encryption key.
func startShib(t *testing.T, rg *idp, name string, signing, encrypted bool) *shibSP {
	t.Helper()
	shibd := testtools.RequireTool(t, "shibd", "shibboleth-sp-utils")
	testtools.RequireFile(t, "/usr/lib/apache2/modules/mod_shib.so", "libapache2-mod-shib")
	dir := workDir(t)
	port := freePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	sp := &shibSP{entityID: base + "/shibboleth/" + name}
	tlsKey := newKeyPair(t, dir, "tls")
	spKey := newKeyPair(t, dir, "sp")
	data := map[string]any{"Dir": dir, "ShibdPort": freePort(t), "EntityID": sp.entityID, "Signing": signing,
		"IdP": rg.entityID(), "IdPMetadata": rg.metadata(t, dir), "Key": spKey.KeyFile, "Cert": spKey.CertFile}
	render(t, filepath.Join(dir, "shibboleth2.xml"), shibConfig, data)
	write(t, filepath.Join(dir, "attribute-map.xml"), shibAttributeMap)
	write(t, filepath.Join(dir, "attribute-policy.xml"), shibAttributePolicy)
	render(t, filepath.Join(dir, "shibd.logger"), shibLogger, map[string]string{"Log": filepath.Join(dir, "shibd.log")})
	render(t, filepath.Join(dir, "native.logger"), shibLogger, map[string]string{"Log": filepath.Join(dir, "native.log")})
	for _, d := range []string{"htdocs", "htdocs/secure"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "htdocs/ping.txt"), "ok\n")
	write(t, filepath.Join(dir, "htdocs/secure/index.php"), shibProtectedPHP)
	rg.register(t, dir, spMetadata{EntityID: sp.entityID, ACS: base + "/Shibboleth.sso/SAML2/POST",
		Cert: spKey.base64(), Signed: signing, Encrypted: encrypted})

	startShibd(t, shibd, dir)
	var conf strings.Builder
	data["Dir"] = dir
	render(t, filepath.Join(dir, "shib-apache.conf"), shibApache, data)
	b, _ := os.ReadFile(filepath.Join(dir, "shib-apache.conf"))
	conf.Write(b)
	sp.apache = startApache(t, dir, port, tlsKey, conf.String())
	return sp
}

// startShibd starts shibd on dir/shibboleth2.xml and waits until it serves.
func startShibd(t testing.TB, shibd, dir string) {
	t.Helper()
	cmd := exec.Command(shibd, "-F", "-f", "-c", filepath.Join(dir, "shibboleth2.xml"), "-p", filepath.Join(dir, "shibd.pid"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C"}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: out}, &lockedWriter{w: out}
	log := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "shibd.log"))
		return out.String() + string(b)
	}
	done := startProcess(t, "shibd", cmd, log)
	waitFor(t, "shibd serving", 30*time.Second, func() bool {
		select {
		case <-done:
			outMu.Lock()
			defer outMu.Unlock()
			t.Fatalf("shibd ended before it served:\n%s", tail(log(), 3000))
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
	rg := startRolegate(t)
	for _, v := range []struct {
		name               string
		signing, encrypted bool
	}{
		{"plain", false, false},
		{"signed-requests", true, false},
		{"encrypted", false, true},
		{"signed-encrypted", true, true},
	} {
		t.Run(v.name, func(t *testing.T) {
			sp := startShib(t, rg, v.name, v.signing, v.encrypted)
			for _, f := range []struct{ format, shows, value string }{
				{persistent, "nameid-persistent", ""},
				{transient, "nameid-transient", ""},
				{email, "nameid-emailAddress", aliceMail},
			} {
				t.Run(f.shows, func(t *testing.T) {
					b := newBrowser(t, sp.apache)
					resp := b.signIn(sp.login(f.format))
					xml := decoded(t, resp)
					wantEncrypted(t, xml, v.encrypted)
					got := wantAttributes(t, b.post(resp))
					if got[f.shows] == "" || (f.value != "" && got[f.shows] != f.value) {
						t.Errorf("the SP shows %s=%q, want a NameID of format %s (%q)", f.shows, got[f.shows], f.format, f.value)
					}
					if got["Shib-Identity-Provider"] != rg.entityID() {
						t.Errorf("the SP shows the IdP %q, want %q", got["Shib-Identity-Provider"], rg.entityID())
					}
				})
			}
			t.Run("a Response posted again is refused", func(t *testing.T) {
				resp := newBrowser(t, sp.apache).signIn(sp.login(""))
				if p := newBrowser(t, sp.apache).post(resp); shown(p)["page"] != "protected" {
					t.Fatalf("the first post of the Response: %d\n%s", p.status, tail(p.body, 2000))
				}
				p := newBrowser(t, sp.apache).post(resp)
				wantRefused(t, p, "replay")
			})
			t.Run("a Response changed by one character is refused", func(t *testing.T) {
				resp := newBrowser(t, sp.apache).signIn(sp.login(""))
				p := newBrowser(t, sp.apache).post(withResponse(resp, tamper(t, decoded(t, resp))))
				wantRefused(t, p, "")
			})
		})
	}
}

// wantEncrypted checks that the Response holds an encrypted assertion and nothing of alice in
// clear, or a clear assertion.
func wantEncrypted(t testing.TB, xml string, encrypted bool) {
	t.Helper()
	switch {
	case encrypted && (!strings.Contains(xml, "EncryptedAssertion") || strings.Contains(xml, aliceMail)):
		t.Fatalf("the Response does not hide its assertion:\n%s", tail(xml, 3000))
	case !encrypted && (strings.Contains(xml, "EncryptedAssertion") || !strings.Contains(xml, aliceMail)):
		t.Fatalf("the Response has no assertion in clear:\n%s", tail(xml, 3000))
	}
}

// wantRefused fails t unless p is an error page of the SP that says why (when why is given), and
// shows none of alice's attributes.
func wantRefused(t testing.TB, p page, why string) {
	t.Helper()
	if shown(p)["page"] == "protected" || strings.Contains(p.body, aliceMail) || p.status == http.StatusOK && why == "" && !strings.Contains(strings.ToLower(p.body), "error") {
		t.Fatalf("%d at %s, want the SP's refusal:\n%s", p.status, p.url, tail(p.body, 3000))
	}
	if why != "" && !strings.Contains(strings.ToLower(p.body), why) {
		t.Fatalf("%d at %s, want a refusal that says %q:\n%s", p.status, p.url, why, tail(p.body, 3000))
	}
}
