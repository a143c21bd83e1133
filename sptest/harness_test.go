package sptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"rolegate/internal/testtools"
)

// The user every test signs in, with what each SP must show.
const (
	alice        = "alice"
	alicePW      = "correct horse battery staple"
	aliceMail    = "alice@example.org"
	aliceDisplay = "Alice Liddell"
	groupA       = "engineers"
	groupB       = "ops"
)

// NameID formats an SP asks for in its AuthnRequest's NameIDPolicy.
const (
	persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	transient  = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	email      = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
)

// variant is one SP set-up: whether it signs its AuthnRequests (and Rolegate requires it), whether
// its metadata gives an encryption key, and the content encryption it lists there ("": none, so
// Rolegate's default AES-256-GCM).
type variant struct {
	name               string
	signing, encrypted bool
	cipher             string
}

// The content encryptions the variants list and expect.
const (
	aes256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	aes128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
)

// variants are the set-ups every SP is tested in.
var variants = []variant{
	{"plain", false, false, ""},
	{"signed-requests", true, false, ""},
	{"encrypted", false, true, ""},
	{"signed-encrypted-cbc", true, true, aes128CBC}, // an SP that lists only CBC gets CBC
}

// formats are the NameID formats the SPs ask for, and the value the NameID must have, if fixed.
var formats = []struct{ name, format, value string }{
	{"persistent", persistent, ""},
	{"transient", transient, ""},
	{"emailAddress", email, aliceMail},
}

func TestMain(m *testing.M) {
	code := m.Run()
	testtools.RemoveBuilt()
	os.Exit(code)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// workDir is a folder for one SP's files that the unprivileged user Apache's children run as
// (when the tests run as root) can read; it is removed when t ends.
func workDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rolegate-sp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("SPTEST_KEEP") != "" && t.Failed() {
			t.Logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// render writes the template text with data to path.
func render(t testing.TB, path, text string, data any) {
	t.Helper()
	var b bytes.Buffer
	if err := template.Must(template.New(filepath.Base(path)).Parse(text)).Execute(&b, data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	write(t, path, b.String())
}

// idp is one `rolegate serve` process with its own store.
type idp struct {
	base    string // http://localhost:PORT
	environ []string
	out     *testtools.SyncBuffer
}

// startRolegate starts Rolegate on a free port and adds alice, her e-mail, display name and two groups.
func startRolegate(t *testing.T) *idp {
	t.Helper()
	port := freePort(t)
	r := &idp{base: fmt.Sprintf("http://localhost:%d", port), out: &testtools.SyncBuffer{},
		environ: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "ROLEGATE_DATA_DIR=" + t.TempDir()}}
	r.cli(t, alicePW+"\n", "user", "add", alice, "--email", aliceMail, "--display-name", aliceDisplay, "--password-stdin")
	for _, g := range []string{groupA, groupB} {
		r.cli(t, "", "group", "add", g)
		r.cli(t, "", "group", "add-member", g, alice)
	}
	cmd := exec.Command(testtools.Rolegate(t), "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", r.base)
	cmd.Env = r.environ
	cmd.Stdout, cmd.Stderr = r.out, r.out
	startProcess(t, "rolegate", cmd, func() string { return r.out.String() })
	testtools.WaitFor(t, "rolegate ready", 30*time.Second, func() bool {
		res, err := http.Get(r.base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return r
}

// cli runs one rolegate command against r's store and fails t unless it succeeds.
func (r *idp) cli(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testtools.Rolegate(t), args...)
	cmd.Env = r.environ
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("rolegate %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String()
}

// metadata fetches Rolegate's IdP metadata into dir/idp-metadata.xml and returns its path.
func (r *idp) metadata(t testing.TB, dir string) string {
	t.Helper()
	res, err := http.Get(r.base + "/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /saml/metadata: %d %s", res.StatusCode, b)
	}
	path := filepath.Join(dir, "idp-metadata.xml")
	write(t, path, string(b))
	return path
}

func (r *idp) entityID() string { return r.base + "/saml/metadata" }

// spMetadata is what Rolegate is told about an SP: its metadata, written by hand as an SP's
// administrator sends it, from the SP's real ACS URL and certificate.
type spMetadata struct {
	EntityID, ACS string
	Cert          string // base64 DER
	Signed        bool   // AuthnRequestsSigned, and the SP registered with --require-signed-requests
	Encrypted     bool   // an encryption key: Rolegate encrypts every assertion to it
	Cipher        string // the content encryption listed with it, if any
}

const spMetadataXML = `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{{.EntityID}}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" AuthnRequestsSigned="{{.Signed}}" WantAssertionsSigned="true">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{.Cert}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
{{- if .Encrypted}}
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{{.Cert}}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
{{- if .Cipher}}<md:EncryptionMethod Algorithm="{{.Cipher}}"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>{{end -}}
    </md:KeyDescriptor>
{{- end}}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{{.ACS}}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`

// register adds the SP to Rolegate with every attribute released.
func (r *idp) register(t testing.TB, dir string, md spMetadata) {
	t.Helper()
	path := filepath.Join(dir, "sp-metadata.xml")
	render(t, path, spMetadataXML, md)
	args := []string{"sp", "add", "--metadata", path, "--release", "username,email,name,groups"}
	if md.Signed {
		args = append(args, "--require-signed-requests")
	}
	r.cli(t, "", args...)
}

// keyPair is a self-signed RSA certificate for 127.0.0.1 and its key, as PEM files in a folder.
type keyPair struct {
	CertFile, KeyFile string
	certDER           []byte
}

func (k keyPair) base64() string { return base64.StdEncoding.EncodeToString(k.certDER) }

func newKeyPair(t testing.TB, dir, name string) keyPair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k := keyPair{CertFile: filepath.Join(dir, name+"-cert.pem"), KeyFile: filepath.Join(dir, name+"-key.pem"), certDER: der}
	write(t, k.CertFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, k.KeyFile, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})))
	return k
}

// startProcess starts cmd, which must keep running until t ends; it is then killed, and output()
// is logged when t failed. The returned channel is closed when the process has ended.
func startProcess(t testing.TB, name string, cmd *exec.Cmd, output func() string) <-chan struct{} {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its own process group: Apache's children too
		<-done
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, testtools.Tail(output(), 6000))
		}
	})
	return done
}

// apache is one Apache httpd with TLS on 127.0.0.1, configured from a generated file.
type apache struct {
	base string // https://127.0.0.1:PORT
	dir  string
	tls  keyPair
}

// apacheConf is the whole configuration: no file of /etc/apache2 is read. Extra holds the SP's part.
const apacheConf = `ServerRoot "{{.Dir}}"
ServerName 127.0.0.1
Listen 127.0.0.1:{{.Port}}
PidFile "{{.Dir}}/apache.pid"
DefaultRuntimeDir "{{.Dir}}"
Mutex file:{{.Dir}} default
ErrorLog "{{.Dir}}/apache-error.log"
LogLevel warn
{{- if .User}}
User {{.User}}
Group {{.Group}}
{{- end}}
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule env_module /usr/lib/apache2/modules/mod_env.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
LoadModule socache_shmcb_module /usr/lib/apache2/modules/mod_socache_shmcb.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule php_module {{.PHP}}
StartServers 2
MinSpareServers 1
MaxSpareServers 8
MaxRequestWorkers 16
DirectoryIndex index.php
TypesConfig /etc/mime.types
SSLEngine on
SSLCertificateFile "{{.Cert}}"
SSLCertificateKeyFile "{{.Key}}"
SSLSessionCache "shmcb:{{.Dir}}/ssl_scache(51200)"
DocumentRoot "{{.Dir}}/htdocs"
<Directory />
  Require all denied
</Directory>
<Directory "{{.Dir}}/htdocs">
  Require all granted
</Directory>
<FilesMatch "\.php$">
  SetHandler application/x-httpd-php
</FilesMatch>
{{.Extra}}
`

// startApache starts Apache in the foreground for s, with the SP's part of the configuration: the
// template extra executed with data.
func (s site) startApache(t testing.TB, extra string, spData any) *apache {
	t.Helper()
	dir, port, tlsKey := s.dir, s.port, s.tlsKey
	var spConf bytes.Buffer
	if err := template.Must(template.New("sp").Parse(extra)).Execute(&spConf, spData); err != nil {
		t.Fatalf("the SP's Apache configuration: %v", err)
	}
	bin := testtools.RequireTool(t, "apache2", "apache2")
	php, _ := filepath.Glob("/usr/lib/apache2/modules/libphp*.so")
	if len(php) == 0 {
		testtools.Missing(t, "libapache2-mod-php", "/usr/lib/apache2/modules/libphp*.so not found (apt-get install libapache2-mod-php)")
	}
	data := map[string]any{"Dir": dir, "Port": port, "PHP": php[0], "Cert": tlsKey.CertFile, "Key": tlsKey.KeyFile, "Extra": spConf.String()}
	if os.Geteuid() == 0 { // Apache refuses to serve as root: its children run as www-data
		if _, err := user.Lookup("www-data"); err != nil {
			t.Fatalf("running as root, and no user www-data for Apache's children: %v", err)
		}
		data["User"], data["Group"] = "www-data", "www-data"
	}
	conf := filepath.Join(dir, "apache.conf")
	render(t, conf, apacheConf, data)
	cmd := exec.Command(bin, "-f", conf, "-DFOREGROUND")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C"}
	var out testtools.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	a := &apache{base: fmt.Sprintf("https://127.0.0.1:%d", port), dir: dir, tls: tlsKey}
	startProcess(t, "apache2", cmd, func() string {
		var logs strings.Builder
		for _, name := range []string{"apache-error.log", "native.log", "var/simplesamlphp.log"} { // the SPs' own, if any
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				fmt.Fprintf(&logs, "--- %s:\n%s", name, testtools.Tail(string(b), 3000))
			}
		}
		return out.String() + logs.String()
	})
	c := newBrowser(t, a).c
	testtools.WaitFor(t, "apache2 listening", 20*time.Second, func() bool {
		res, err := c.Get(a.base + "/ping.txt")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return a
}

// browser is an HTTP client that does what a browser does in the SAML bindings: it keeps
// cookies, follows redirects, and submits the auto-POST forms; on Rolegate's sign-in form it
// signs alice in. It trusts the SP's TLS certificate.
type browser struct {
	t   testing.TB
	c   *http.Client
	log []string // every request, for failure messages
}

func newBrowser(t testing.TB, sp *apache) *browser {
	pool := x509.NewCertPool()
	cert, err := x509.ParseCertificate(sp.tls.certDER)
	if err != nil {
		t.Fatal(err)
	}
	pool.AddCert(cert)
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			b.log = append(b.log, "redirect "+req.URL.String())
			return nil
		}}
	return b
}

// requestSigned reports whether the browser was sent to Rolegate's /saml/sso with a signed
// AuthnRequest (HTTP-Redirect binding: SigAlg and Signature beside it); ok is false when it was
// never sent there that way.
func (b *browser) requestSigned(rg *idp) (signed, ok bool) {
	for _, l := range b.log {
		if u, found := strings.CutPrefix(l, "redirect "+rg.base+"/saml/sso?"); found {
			q, _ := url.ParseQuery(u)
			if q.Has("SAMLRequest") {
				return q.Has("Signature") && q.Has("SigAlg"), true
			}
		}
	}
	return false, false
}

// page is one answer the browser got.
type page struct {
	url    *url.URL
	status int
	body   string
}

// form is an HTML form with its hidden and text inputs.
type form struct {
	action string
	fields url.Values
}

var (
	formTag  = regexp.MustCompile(`(?is)<form\b[^>]*>.*?</form>`)
	actionAt = regexp.MustCompile(`(?i)\baction="([^"]*)"`)
	inputTag = regexp.MustCompile(`(?i)<input\b[^>]*>`)
	nameAt   = regexp.MustCompile(`(?i)\bname="([^"]*)"`)
	valueAt  = regexp.MustCompile(`(?i)\bvalue="([^"]*)"`)
)

// forms reads the forms of p, their actions resolved against p's URL.
func (p page) forms() []form {
	var out []form
	for _, f := range formTag.FindAllString(p.body, -1) {
		open := f[:strings.Index(f, ">")]
		action := p.url.String()
		if m := actionAt.FindStringSubmatch(open); m != nil && m[1] != "" {
			if u, err := p.url.Parse(html.UnescapeString(m[1])); err == nil {
				action = u.String()
			}
		}
		fields := url.Values{}
		for _, in := range inputTag.FindAllString(f, -1) {
			n := nameAt.FindStringSubmatch(in)
			if n == nil {
				continue
			}
			v := ""
			if m := valueAt.FindStringSubmatch(in); m != nil {
				v = html.UnescapeString(m[1])
			}
			fields.Set(html.UnescapeString(n[1]), v)
		}
		out = append(out, form{action, fields})
	}
	return out
}

func (b *browser) do(method, u string, body url.Values) page {
	b.t.Helper()
	b.log = append(b.log, method+" "+u)
	var res *http.Response
	var err error
	if method == http.MethodPost {
		res, err = b.c.PostForm(u, body)
	} else {
		res, err = b.c.Get(u)
	}
	if err != nil {
		b.t.Fatalf("%s %s: %v (after %s)", method, u, err, strings.Join(b.log, " -> "))
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return page{res.Request.URL, res.StatusCode, string(raw)}
}

// post submits f.
func (b *browser) post(f form) page { return b.do(http.MethodPost, f.action, f.fields) }

// signIn starts at u (an SP's page that requires a session) and walks the bindings until the SP
// is handed a Response: it signs alice in at Rolegate on the way and returns Rolegate's
// auto-POST form (SAMLResponse, RelayState, and the ACS as its action) without submitting it.
func (b *browser) signIn(u string) form {
	b.t.Helper()
	p := b.do(http.MethodGet, u, nil)
	for range 10 {
		var f form
		for _, g := range p.forms() { // a page's other forms (sign out) are not the binding's
			if g.fields.Has("SAMLResponse") || g.fields.Has("SAMLRequest") || g.fields.Has("username") && g.fields.Has("csrf_token") {
				f = g
				break
			}
		}
		switch {
		case f.fields.Has("SAMLResponse"):
			return f
		case f.fields.Has("SAMLRequest"): // the SP's POST binding towards Rolegate
			p = b.post(f)
		case f.fields.Has("username"):
			f.fields.Set("username", alice)
			f.fields.Set("password", alicePW)
			p = b.post(f)
		default:
			b.t.Fatalf("%d at %s: neither the sign-in form nor an auto-POST one (after %s):\n%s",
				p.status, p.url, strings.Join(b.log, " -> "), testtools.Tail(p.body, 3000))
		}
	}
	b.t.Fatalf("no SAMLResponse after %s", strings.Join(b.log, " -> "))
	return form{}
}

// decoded returns the XML of the SAMLResponse in f.
func decoded(t testing.TB, f form) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(f.fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	return string(raw)
}

// withResponse returns a copy of f carrying xml as its SAMLResponse.
func withResponse(f form, xml string) form {
	g := form{f.action, url.Values{}}
	for k, v := range f.fields {
		g.fields[k] = append([]string(nil), v...)
	}
	g.fields.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(xml)))
	return g
}

// shown reads the KEY=VALUE lines a protected test page prints.
func shown(p page) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(p.body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// wantAttributes fails t unless the SP's page shows alice's username, e-mail, display name and groups.
func wantAttributes(t testing.TB, p page) map[string]string {
	t.Helper()
	got := shown(p)
	if p.status != http.StatusOK || got["page"] != "protected" {
		t.Fatalf("%d at %s, want the SP's protected page:\n%s", p.status, p.url, testtools.Tail(p.body, 3000))
	}
	want := map[string]string{"uid": alice, "mail": aliceMail, "displayName": aliceDisplay}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the SP shows %s=%q, want %q (page:\n%s)", k, got[k], v, p.body)
		}
	}
	groups := strings.Split(got["isMemberOf"], ";")
	if len(groups) != 2 || !(groups[0] == groupA && groups[1] == groupB || groups[0] == groupB && groups[1] == groupA) {
		t.Errorf("the SP shows isMemberOf=%q, want %s and %s", got["isMemberOf"], groupA, groupB)
	}
	return got
}

// wantEncrypted checks that the Response holds an encrypted assertion and nothing of alice in
// clear, or a clear assertion.
func wantEncrypted(t testing.TB, xml string, v variant) {
	t.Helper()
	encrypted, cipher := v.encrypted, v.cipher
	if cipher == "" {
		cipher = aes256GCM
	}
	switch {
	case encrypted && !strings.Contains(xml, `Algorithm="`+cipher+`"`):
		t.Fatalf("the Response's assertion is not encrypted with %s:\n%s", cipher, testtools.Tail(xml, 3000))
	case encrypted && (!strings.Contains(xml, "EncryptedAssertion") || strings.Contains(xml, aliceMail)):
		t.Fatalf("the Response does not hide its assertion:\n%s", testtools.Tail(xml, 3000))
	case !encrypted && (strings.Contains(xml, "EncryptedAssertion") || !strings.Contains(xml, aliceMail)):
		t.Fatalf("the Response has no assertion in clear:\n%s", testtools.Tail(xml, 3000))
	}
}

// wantRefused fails t unless p is an error page of the SP that says why (when why is given), and
// shows none of alice's attributes.
func wantRefused(t testing.TB, p page, why string) {
	t.Helper()
	if shown(p)["page"] == "protected" || strings.Contains(p.body, aliceMail) || p.status == http.StatusOK && why == "" && !strings.Contains(strings.ToLower(p.body), "error") {
		t.Fatalf("%d at %s, want the SP's refusal:\n%s", p.status, p.url, testtools.Tail(p.body, 3000))
	}
	if why != "" && !strings.Contains(strings.ToLower(p.body), why) {
		t.Fatalf("%d at %s, want a refusal that says %q:\n%s", p.status, p.url, why, testtools.Tail(p.body, 3000))
	}
}

// site is the folder and address of one SP before its Apache starts: a free port, a TLS key
// for 127.0.0.1, the SP's own key, and htdocs with the SP's protected page at /secure/.
type site struct {
	dir, base   string
	port        int
	tlsKey, key keyPair
}

func newSite(t testing.TB, protectedPHP string, dirs ...string) site {
	t.Helper()
	s := site{dir: workDir(t), port: freePort(t)}
	s.base = fmt.Sprintf("https://127.0.0.1:%d", s.port)
	s.tlsKey, s.key = newKeyPair(t, s.dir, "tls"), newKeyPair(t, s.dir, "sp")
	for _, d := range append([]string{"htdocs", "htdocs/secure"}, dirs...) {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(s.dir, "htdocs/ping.txt"), "ok\n")
	write(t, filepath.Join(s.dir, "htdocs/secure/index.php"), protectedPHP)
	return s
}

// spUnderTest is one running SP as testSP drives it.
type spUnderTest struct {
	*apache
	entityID  string
	login     func(format string) string // the URL that starts a sign-in asking for format ("": none)
	replayWhy string                     // what the SP's refusal of a replayed Response says
	tamperWhy func(encrypted bool) string
}

// testSP starts one SP per variant with start, and signs alice in at each under every NameID
// format; the SP's page must show her attributes, the NameID in the format asked for, and Rolegate
// as the IdP. A Response posted again (from another browser) and one changed by a character must
// be refused, saying why.
func testSP(t *testing.T, start func(t *testing.T, rg *idp, v variant) spUnderTest) {
	rg := startRolegate(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			sp := start(t, rg, v)
			for _, f := range formats {
				t.Run(f.name, func(t *testing.T) {
					b := newBrowser(t, sp.apache)
					resp := b.signIn(sp.login(f.format))
					if signed, ok := b.requestSigned(rg); !ok || signed != v.signing {
						t.Errorf("AuthnRequest sent by HTTP-Redirect: %v, signed: %v, want signed: %v (%s)", ok, signed, v.signing, strings.Join(b.log, " -> "))
					}
					wantEncrypted(t, decoded(t, resp), v)
					got := wantAttributes(t, b.post(resp))
					if got["nameid-format"] != f.format || got["nameid"] == "" || (f.value != "" && got["nameid"] != f.value) {
						t.Errorf("the SP shows a NameID %q of format %q, want format %s (%q)", got["nameid"], got["nameid-format"], f.format, f.value)
					}
					if got["idp"] != rg.entityID() {
						t.Errorf("the SP shows the IdP %q, want %q", got["idp"], rg.entityID())
					}
				})
			}
			t.Run("a Response posted again is refused", func(t *testing.T) {
				b := newBrowser(t, sp.apache)
				resp := b.signIn(sp.login(""))
				if p := b.post(resp); shown(p)["page"] != "protected" {
					t.Fatalf("the first post of the Response: %d\n%s", p.status, testtools.Tail(p.body, 2000))
				}
				wantRefused(t, newBrowser(t, sp.apache).post(resp), sp.replayWhy)
			})
			t.Run("a Response changed by one character is refused", func(t *testing.T) {
				b := newBrowser(t, sp.apache)
				resp := b.signIn(sp.login(""))
				wantRefused(t, b.post(withResponse(resp, tamper(t, decoded(t, resp)))), sp.tamperWhy(v.encrypted))
			})
			if !v.signing { // what makes the signed variants' success mean that Rolegate verified the signature
				t.Run("an unsigned request is refused once Rolegate requires signed ones", func(t *testing.T) {
					rg.cli(t, "", "sp", "set", sp.entityID, "--require-signed-requests")
					defer rg.cli(t, "", "sp", "set", sp.entityID, "--require-signed-requests=false")
					p := newBrowser(t, sp.apache).do(http.MethodGet, sp.login(""), nil)
					if p.status != http.StatusBadRequest || !strings.Contains(p.body, "must sign its sign-in requests") {
						t.Fatalf("%d at %s, want Rolegate's refusal of the unsigned request:\n%s", p.status, p.url, testtools.Tail(p.body, 2000))
					}
				})
			}
		})
	}
}

// tamperedWhy is what an SP's refusal of a tampered Response says: its assertion's signature
// fails, or its encrypted assertion does not decrypt.
func tamperedWhy(encrypted bool) string {
	if encrypted {
		return "decrypt"
	}
	return "signature"
}

// tamper changes one character of the Response inside its Assertion: a clear assertion's e-mail
// value (alice@ becomes alicf@), or a byte of an encrypted one's cipher text.
func tamper(t testing.TB, xml string) string {
	t.Helper()
	if i := strings.Index(xml, "CipherValue>"); strings.Contains(xml, "EncryptedAssertion") && i >= 0 {
		i += len("CipherValue>") + 40 // inside the data, past its base64 start
		c := byte('A')
		if xml[i] == 'A' {
			c = 'B'
		}
		return xml[:i] + string(c) + xml[i+1:]
	}
	if !strings.Contains(xml, ">"+aliceMail+"<") {
		t.Fatalf("no clear e-mail value in the Response to change:\n%s", xml)
	}
	return strings.Replace(xml, ">"+aliceMail+"<", ">"+"alicf"+strings.TrimPrefix(aliceMail, "alice")+"<", 1)
}
