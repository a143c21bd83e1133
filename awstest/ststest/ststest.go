// Package ststest is a stand-in for AWS STS, the AWS sign-in page and its federation endpoint
// (console sign-in from temporary credentials), for tests of clients that
// turn a Rolegate SAML Response into AWS credentials (saml2aws, rolegate login). It speaks STS's
// wire protocol (Query API form POST, XML AssumeRoleWithSAMLResponse, AWS error XML), checks each
// Response as AWS would (assertions.InspectAWS: the signature against the IdP's metadata, times,
// audience, recipient, attribute rules, the role and provider pair asked for) and issues random
// credentials it remembers, so GetCallerIdentity answers for them.
//
// Clients reach it directly (Endpoint, with the CA in CAFile) or, for clients whose STS endpoint
// cannot be set (saml2aws: aws-sdk-go v1), through ProxyURL: an HTTPS_PROXY that answers CONNECT
// to the AWS hosts itself, with certificates from the same test CA.
package ststest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/store"
)

// Config sets up a stand-in.
type Config struct {
	// MetadataURL is the IdP's metadata, read at every call: its entity ID and signing certificates.
	MetadataURL string
	// MaxSessionDuration is every role's maximum session (default 1 h, IAM's default).
	MaxSessionDuration time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Untrusted lists role ARNs whose trust policy does not trust the provider: AccessDenied.
	Untrusted []string
	// MaxSessionDurations overrides MaxSessionDuration for the roles it names.
	MaxSessionDurations map[string]time.Duration
	// Refuse, when set, answers a call with the AWS error of its choosing ("" for none) before
	// the Response is checked.
	Refuse func(roleARN string) (code, message string)
}

// Call is one AssumeRoleWithSAML call as the stand-in saw it, and its answer.
type Call struct {
	RoleArn, PrincipalArn                      string
	DurationSeconds                            int
	Verdict                                    *assertions.Verdict
	Error                                      string // the AWS error code, "" when credentials were issued
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// Server is a running stand-in.
type Server struct {
	// Endpoint is the STS endpoint (https://127.0.0.1:PORT/), for clients that take one.
	Endpoint string
	// ProxyURL is an HTTPS_PROXY (http://127.0.0.1:PORT) that sends AWS hosts here.
	ProxyURL string
	// CAFile is the test CA's certificate (PEM), for AWS_CA_BUNDLE and SSL_CERT_FILE.
	CAFile string
	// CAPool trusts the test CA.
	CAPool *x509.CertPool

	cfg    Config
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	mu     sync.Mutex
	calls  []Call
	issued map[string]string    // access key ID -> assumed role ARN
	keys   map[string]issuedKey // access key ID -> its secret, token and expiry
	tokens map[string]string    // sign-in token -> assumed role ARN, for Action=login
	certs  map[string]*tls.Certificate
}

// New starts a stand-in that stops when t ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.MaxSessionDuration == 0 {
		cfg.MaxSessionDuration = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, issued: map[string]string{}, keys: map[string]issuedKey{}, tokens: map[string]string{}, certs: map[string]*tls.Certificate{}}
	if err := s.newCA(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(s.serve)
	// TLS under httptest's plain server: its own StartTLS would answer 127.0.0.1 with its own certificate.
	direct := httptest.NewUnstartedServer(h)
	direct.Listener = tls.NewListener(direct.Listener, &tls.Config{GetCertificate: s.certificate})
	direct.Start()
	t.Cleanup(direct.Close)
	s.Endpoint = "https://" + strings.TrimPrefix(direct.URL, "http://") + "/"

	// The proxy: CONNECT to an AWS host is answered here, over TLS with the test CA's certificate.
	inner := newConnListener()
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(tls.NewListener(inner, &tls.Config{GetCertificate: s.certificate}))
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		if r.Method != http.MethodConnect || !awsHost(host) {
			http.Error(w, "this proxy only reaches AWS's STS and sign-in hosts", http.StatusForbidden)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		select {
		case inner.ch <- &bufferedConn{Conn: conn, r: buf.Reader}:
		case <-inner.done:
			conn.Close()
		}
	}))
	t.Cleanup(func() { proxy.Close(); hs.Close(); inner.Close() })
	s.ProxyURL = proxy.URL
	return s
}

// Configure changes the stand-in's Config between calls.
func (s *Server) Configure(f func(*Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.cfg)
}

// Issued returns the AssumeRoleWithSAML calls so far that were given credentials.
func (s *Server) Issued() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(s.calls), func(c Call) bool { return c.Error != "" })
}

// Calls returns the AssumeRoleWithSAML calls so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

var awsHostRE = regexp.MustCompile(`^(sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?|([a-z0-9-]+\.)?signin\.(aws\.amazon\.com|amazonaws-us-gov\.com|amazonaws\.cn))$`)

func awsHost(h string) bool { return awsHostRE.MatchString(h) || h == "127.0.0.1" }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, "signin.") && r.URL.Path == "/saml" {
		s.signIn(w, r)
		return
	}
	if strings.Contains(host, "signin.") && r.URL.Path == "/federation" {
		s.federation(w, r)
		return
	}
	if r.Method != http.MethodPost {
		awsError(w, http.StatusBadRequest, "InvalidAction", "STS takes POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		awsError(w, http.StatusBadRequest, "MalformedInput", "the body is not a form")
		return
	}
	if r.PostForm.Get("Version") != "2011-06-15" {
		awsError(w, http.StatusBadRequest, "InvalidParameterValue", "Version must be 2011-06-15")
		return
	}
	switch r.PostForm.Get("Action") {
	case "AssumeRoleWithSAML":
		s.assume(w, r)
	case "GetCallerIdentity":
		s.callerIdentity(w, r)
	default:
		awsError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+r.PostForm.Get("Action")+" for version 2011-06-15")
	}
}

// metadata reads the IdP's entity ID and signing certificates.
func (s *Server) metadata() (string, []*x509.Certificate, error) {
	resp, err := http.Get(s.config().MetadataURL)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	md, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", nil, err
	}
	return assertions.ReadMetadata(md)
}

func (s *Server) config() Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// assume answers AssumeRoleWithSAML as STS does.
func (s *Server) assume(w http.ResponseWriter, r *http.Request) {
	f, cfg := r.PostForm, s.config()
	call := Call{RoleArn: f.Get("RoleArn"), PrincipalArn: f.Get("PrincipalArn")}
	fail := func(status int, code, msg string) {
		call.Error = code
		s.record(call)
		awsError(w, status, code, msg)
	}
	if call.RoleArn == "" || call.PrincipalArn == "" || f.Get("SAMLAssertion") == "" {
		fail(400, "MissingParameter", "RoleArn, PrincipalArn and SAMLAssertion are required")
		return
	}
	if len(f.Get("SAMLAssertion")) > assertions.MaxSAMLResponseLen {
		fail(400, "ValidationError", "1 validation error detected: Value at 'SAMLAssertion' failed to satisfy constraint: Member must have length less than or equal to 100000")
		return
	}
	if cfg.Refuse != nil {
		if code, msg := cfg.Refuse(call.RoleArn); code != "" {
			status := 400
			if code == "IDPRejectedClaim" || code == "AccessDenied" || code == "RegionDisabledException" {
				status = 403
			}
			fail(status, code, msg)
			return
		}
	}
	raw, err := base64.StdEncoding.DecodeString(f.Get("SAMLAssertion"))
	if err != nil {
		fail(400, "InvalidIdentityToken", "Invalid base64 SAMLResponse (Service: AWSOpenIdDiscoveryService)")
		return
	}
	entity, certs, err := s.metadata()
	if err != nil {
		fail(500, "InternalFailure", "the stand-in could not read the IdP metadata: "+err.Error())
		return
	}
	// AWS accepts the Response at any sign-in endpoint of the role's partition; the one it names must be one.
	acs := ""
	if doc := etree.NewDocument(); doc.ReadFromBytes(raw) == nil && doc.Root() != nil {
		acs = doc.Root().SelectAttrValue("Destination", "")
	}
	if _, err := assertions.SignInRegion(store.Partition(strings.Split(call.RoleArn+":", ":")[1]), acs); err != nil {
		fail(400, "InvalidIdentityToken", "Destination "+acs+" is not an AWS sign-in endpoint")
		return
	}
	now := cfg.Now()
	v := assertions.InspectAWS(raw, assertions.Expect{EntityID: entity, ACS: acs, Certs: certs, Now: now})
	call.Verdict = v
	if !v.Accepted {
		code := "InvalidIdentityToken"
		if slices.ContainsFunc(v.Problems, func(p string) bool { return strings.Contains(p, "expired") }) {
			code = "ExpiredTokenException"
		}
		fail(400, code, strings.Join(v.Problems, "; "))
		return
	}
	if !slices.ContainsFunc(v.Roles, func(p assertions.RolePair) bool {
		return p.RoleARN == call.RoleArn && p.ProviderARN == call.PrincipalArn
	}) {
		// The message AWS is seen to give (aws-saml.md §6: de facto).
		fail(400, "InvalidIdentityToken", "SAML Assertion doesn't contain the requested Role and Metadata in the attributes")
		return
	}
	if slices.Contains(cfg.Untrusted, call.RoleArn) {
		fail(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
		return
	}
	d := time.Hour
	if ds := f.Get("DurationSeconds"); ds != "" {
		n, err := strconv.Atoi(ds)
		if err != nil || n < 900 || n > 43200 {
			fail(400, "ValidationError", "1 validation error detected: Value '"+ds+"' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200")
			return
		}
		d = time.Duration(n) * time.Second
	}
	call.DurationSeconds = int(d / time.Second)
	limit, ok := cfg.MaxSessionDurations[call.RoleArn]
	if !ok {
		limit = cfg.MaxSessionDuration
	}
	if d > limit {
		fail(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		return
	}
	// The session ends at the duration asked for or the assertion's SessionNotOnOrAfter, whichever is first.
	if v.SessionDuration > 0 && v.SessionDuration < d {
		d = v.SessionDuration
	}
	akid := "ASIA" + strings.ToUpper(randHex(8))
	parts := strings.Split(call.RoleArn, ":")
	roleName := strings.TrimPrefix(parts[5], "role/")
	assumed := "arn:" + parts[1] + ":sts::" + parts[4] + ":assumed-role/" + roleName + "/" + v.SessionName
	secret, token, expires := randHex(20), base64.StdEncoding.EncodeToString([]byte(randHex(48))), now.Add(d).UTC()
	s.mu.Lock()
	s.issued[akid] = assumed
	s.keys[akid] = issuedKey{secret: secret, token: token, expires: expires}
	s.mu.Unlock()
	call.AccessKeyID, call.SecretAccessKey, call.SessionToken, call.Expiration = akid, secret, token, expires.Truncate(time.Second)
	s.record(call)
	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	}
	var out struct {
		XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithSAMLResponse"`
		Result  struct {
			Audience         string `xml:"Audience"`
			AssumedRoleUser  struct{ Arn, AssumedRoleId string }
			Credentials      creds `xml:"Credentials"`
			Issuer           string
			NameQualifier    string
			PackedPolicySize int
			SourceIdentity   string `xml:",omitempty"`
			Subject          string
			SubjectType      string
		} `xml:"AssumeRoleWithSAMLResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	out.Result.Audience = acs
	out.Result.AssumedRoleUser.Arn = assumed
	out.Result.AssumedRoleUser.AssumedRoleId = "AROA" + strings.ToUpper(randHex(8)) + ":" + v.SessionName
	out.Result.Credentials = creds{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token, Expiration: expires.Format(time.RFC3339)}
	out.Result.Issuer, out.Result.Subject, out.Result.SubjectType, out.Result.SourceIdentity = entity, v.NameID, "persistent", v.SourceIdentity
	out.RequestID = randUUID()
	writeXML(w, http.StatusOK, out)
}

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

// callerIdentity answers GetCallerIdentity for credentials the stand-in issued.
func (s *Server) callerIdentity(w http.ResponseWriter, r *http.Request) {
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	s.mu.Lock()
	arn, ok := "", false
	if m != nil {
		arn, ok = s.issued[m[1]]
	}
	s.mu.Unlock()
	if !ok {
		awsError(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	var out struct {
		XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
		Result  struct {
			Arn, UserId, Account string
		} `xml:"GetCallerIdentityResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	out.Result.Arn, out.Result.UserId, out.Result.Account = arn, m[1], strings.Split(arn, ":")[4]
	out.RequestID = randUUID()
	writeXML(w, http.StatusOK, out)
}

// signIn is the AWS sign-in page's role chooser, as saml2aws scrapes it for account names.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	raw, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse"))
	if err != nil {
		http.Error(w, "bad SAMLResponse", http.StatusBadRequest)
		return
	}
	entity, certs, err := s.metadata()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	acs := "https://" + r.Host + "/saml"
	v := assertions.InspectAWS(raw, assertions.Expect{EntityID: entity, ACS: acs, Certs: certs, Now: s.config().Now()})
	if !v.Accepted {
		http.Error(w, "Your request included an invalid SAML response: "+strings.Join(v.Problems, "; "), http.StatusBadRequest)
		return
	}
	byAccount := map[string][]string{}
	var order []string
	for _, p := range v.Roles {
		a := strings.Split(p.RoleARN, ":")[4]
		if byAccount[a] == nil {
			order = append(order, a)
		}
		byAccount[a] = append(byAccount[a], p.RoleARN)
	}
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><body><form id="saml_form" method="post" action="/saml"><fieldset>`)
	for _, a := range order {
		fmt.Fprintf(&b, `<div class="saml-account"><div class="saml-account-name">Account: %s (%s)</div>`, a, a)
		for _, arn := range byAccount[a] {
			fmt.Fprintf(&b, `<div class="saml-role"><input type="radio" name="roleIndex" value="%s" id="%s"><label for="%s" class="saml-role-description">%s</label></div>`,
				html.EscapeString(arn), html.EscapeString(arn), html.EscapeString(arn), html.EscapeString(arn[strings.LastIndex(arn, "/")+1:]))
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</fieldset></form></body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, b.String())
}

// issuedKey is what the stand-in remembers of credentials it issued.
type issuedKey struct {
	secret, token string
	expires       time.Time
}

// consoleHosts are the console hosts a login may send the browser to, by sign-in host.
var consoleHosts = map[string]string{"signin.aws.amazon.com": "console.aws.amazon.com",
	"signin.amazonaws-us-gov.com": "console.amazonaws-us-gov.com", "signin.amazonaws.cn": "console.amazonaws.cn"}

// federation is the sign-in federation endpoint (the custom identity broker's protocol):
// Action=getSigninToken trades temporary credentials, as Session JSON, for a sign-in token;
// Action=login with that token redirects to Destination, a console URL of the same partition.
func (s *Server) federation(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	q := r.URL.Query()
	switch q.Get("Action") {
	case "getSigninToken":
		var sess struct{ SessionID, SessionKey, SessionToken string }
		raw := q.Get("Session")
		if err := json.Unmarshal([]byte(raw), &sess); err != nil || !strings.Contains(raw, `"sessionId"`) {
			http.Error(w, "Session must be JSON with sessionId, sessionKey and sessionToken", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		k, ok := s.keys[sess.SessionID]
		s.mu.Unlock()
		if !ok || k.secret != sess.SessionKey || k.token != sess.SessionToken || !s.config().Now().Before(k.expires) {
			// AWS answers bad credentials with a bare 400.
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		tok := randHex(64)
		s.mu.Lock()
		s.tokens[tok] = s.issued[sess.SessionID]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"SigninToken": tok})
	case "login":
		s.mu.Lock()
		_, ok := s.tokens[q.Get("SigninToken")]
		s.mu.Unlock()
		dest, err := url.Parse(q.Get("Destination"))
		if !ok || err != nil || dest.Scheme != "https" || !strings.HasSuffix(dest.Hostname(), consoleHosts[host]) || consoleHosts[host] == "" {
			http.Error(w, "Your request included an invalid sign-in token or destination", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, dest.String(), http.StatusFound)
	default:
		http.Error(w, "unknown Action", http.StatusBadRequest)
	}
}

// Consoles returns the role ARNs of sign-in tokens handed out so far, one per token.
func (s *Server) Consoles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, arn := range s.tokens {
		out = append(out, arn)
	}
	return out
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	var out struct {
		XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error     struct{ Type, Code, Message string }
		RequestID string `xml:"RequestId"`
	}
	out.Error.Type, out.Error.Code, out.Error.Message, out.RequestID = typ, code, msg, randUUID()
	writeXML(w, status, out)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", randUUID())
	w.WriteHeader(status)
	w.Write(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randUUID() string {
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ---- the test CA

func (s *Server) newCA(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ststest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	if s.ca, err = x509.ParseCertificate(der); err != nil {
		return err
	}
	s.caKey = key
	s.CAPool = x509.NewCertPool()
	s.CAPool.AddCert(s.ca)
	s.CAFile = filepath.Join(dir, "ststest-ca.pem")
	return os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
}

// certificate issues (once per name) a certificate for an AWS host or the loopback address.
func (s *Server) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := hello.ServerName
	if name == "" {
		name = "127.0.0.1"
	}
	if !awsHost(name) {
		return nil, fmt.Errorf("ststest: no certificate for %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.certs[name]; c != nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca, &key.PublicKey, s.caKey)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	s.certs[name] = c
	return c, nil
}

// ---- connections handed from the proxy to the TLS server

type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// bufferedConn reads first what the proxy's reader already holds.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
