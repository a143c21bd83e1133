package awslogin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/store"
)

// ECP profile names (SAML 2.0 profiles §4.2, SOAP binding §3.2, PAOS §3.3).
const (
	nsSOAP11    = "http://schemas.xmlsoap.org/soap/envelope/"
	nsECP       = "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"
	bindingPAOS = "urn:oasis:names:tc:SAML:2.0:bindings:PAOS"
	paosHeader  = `ver="urn:liberty:paos:2003-08";"` + nsECP + `"`
	soapAction  = "http://www.oasis-open.org/committees/security"

	// ecpPath is where a Rolegate server answers ECP; --url may name the server or the endpoint.
	ecpPath = "/saml/ecp"
	// maxECPReply bounds what the CLI reads back: AWS takes at most 100000 base64 characters.
	maxECPReply = 1 << 20
)

// ECPCredentials are what an ECP request carries: HTTP Basic username and password, and the
// one-time code in X-Rolegate-OTP.
type ECPCredentials struct {
	Username, Password, OTP string
}

// ReadECPCredentials gathers the credentials for scripts first, then asks for what is missing.
// The username is the flag's value, else ROLEGATE_USERNAME, else a prompt. With fromStdin the
// password is the first line of stdin and the one-time code the optional second; otherwise they are
// ROLEGATE_PASSWORD and ROLEGATE_OTP, else a prompt for the password. The code is asked for only
// when the IdP wants one (see ECP).
func ReadECPCredentials(env func(string) string, username string, stdin io.Reader, fromStdin bool, p Prompter) (ECPCredentials, error) {
	c := ECPCredentials{Username: username, Password: env("ROLEGATE_PASSWORD"), OTP: env("ROLEGATE_OTP")}
	if c.Username == "" {
		c.Username = env("ROLEGATE_USERNAME")
	}
	if fromStdin {
		if p.Interactive() { // the password would be echoed as it is typed
			return c, store.Errorf(store.Invalid, "--password-stdin reads a pipe, and standard input is a terminal: leave the flag off to be asked without echo")
		}
		br := bufio.NewReader(stdin)
		pw, err := readLine(br)
		if err != nil {
			return c, store.Errorf(store.Invalid, "--password-stdin: no password on standard input")
		}
		c.Password = pw
		if otp, err := readLine(br); err == nil && otp != "" {
			c.OTP = otp
		}
	}
	var err error
	if c.Username == "" {
		if !p.Interactive() {
			return c, store.Errorf(store.Invalid, "no username: pass --username or set ROLEGATE_USERNAME")
		}
		if c.Username, err = p.Line("Username: "); err != nil {
			return c, err
		}
	}
	if c.Password == "" {
		if !p.Interactive() {
			return c, store.Errorf(store.Invalid, "no password: set ROLEGATE_PASSWORD or pass it on standard input with --password-stdin")
		}
		if c.Password, err = p.Secret("Password for " + c.Username + ": "); err != nil {
			return c, err
		}
	}
	c.Username, c.OTP = strings.TrimSpace(c.Username), strings.TrimSpace(c.OTP)
	if c.Username == "" || c.Password == "" || strings.Contains(c.Username, ":") {
		return c, store.Errorf(store.Invalid, "the username and password must not be empty, and the username holds no colon")
	}
	return c, nil
}

// ECP gets a Response through the SAML ECP profile: one SOAP request to the IdP with the credentials
// up front. It is one of the ways `rolegate login` authenticates.
type ECP struct {
	URL    string // the IdP's base URL, or its /saml/ecp endpoint
	Creds  ECPCredentials
	Prompt Prompter // asks for the one-time code when the IdP wants one that was not given
	HTTP   *http.Client
	Now    func() time.Time
	// WantSession asks the IdP for a CLI session, for credential-process to refresh with; Host
	// names this machine in the user's list of sessions. Session is the one the IdP issued.
	WantSession bool
	Host        string
	Session     *Session
}

// CLISession implements SessionSource.
func (e *ECP) CLISession() *Session { return e.Session }

// SAMLResponse implements Source.
func (e *ECP) SAMLResponse(ctx context.Context, account string) (*Response, error) {
	resp, err := e.exchange(ctx, account)
	if e.Creds.OTP == "" && errors.Is(err, errOTPRequired) && e.Prompt != nil && e.Prompt.Interactive() {
		otp, perr := e.Prompt.Secret("One-time code: ")
		if perr != nil {
			return nil, perr
		}
		e.Creds.OTP = strings.TrimSpace(otp)
		resp, err = e.exchange(ctx, account)
	}
	return resp, err
}

// errOTPRequired marks an IdP refusal that is about the one-time code.
var errOTPRequired = errors.New("one-time code required")

// Endpoint is the ECP URL for the IdP at base, with the account in the query when one is named.
func Endpoint(base, account string) (string, error) {
	u, err := idpURL(base, ecpPath)
	if err != nil {
		return "", err
	}
	if account != "" {
		q := u.Query()
		q.Set("account", account)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// idpURL is the IdP's endpoint at path, for --url naming the server (or that endpoint). Secrets
// go to it (a password, a code worth a Response): only TLS may carry them, except to this machine.
func idpURL(base, path string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Fragment != "" {
		return nil, store.Errorf(store.Invalid, "--url %q is not the https URL of a Rolegate server", base)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, store.Errorf(store.Invalid, "--url %q is plain http: your password or sign-in would cross the network unencrypted; use https", base)
	}
	// The server's address, whichever of its endpoints --url names, then path.
	u.Path = strings.TrimRight(u.Path, "/")
	for _, p := range []string{ecpPath, cliAuthorizePath} {
		u.Path = strings.TrimSuffix(u.Path, p)
	}
	u.Path += path
	return u, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authnRequest is the SOAP envelope with the AuthnRequest that a client makes on AWS's behalf
// (AWS is no ECP SP): Issuer urn:amazon:webservices, PAOS binding. It names no ACS: the IdP takes
// the sign-in endpoint of the account's partition and region, which the CLI cannot know before.
func authnRequest(now time.Time) ([]byte, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	env := doc.CreateElement("S:Envelope")
	env.CreateAttr("xmlns:S", nsSOAP11)
	req := env.CreateElement("S:Body").CreateElement("samlp:AuthnRequest")
	req.CreateAttr("xmlns:samlp", assertions.NSProtocol)
	req.CreateAttr("xmlns:saml", assertions.NSAssertion)
	req.CreateAttr("ID", "_"+hex.EncodeToString(id[:]))
	req.CreateAttr("Version", "2.0")
	req.CreateAttr("IssueInstant", now.UTC().Format("2006-01-02T15:04:05Z"))
	req.CreateAttr("ProtocolBinding", bindingPAOS)
	req.CreateElement("saml:Issuer").SetText(assertions.AudienceAWS)
	return doc.WriteToBytes()
}

func (e *ECP) exchange(ctx context.Context, account string) (*Response, error) {
	endpoint, err := Endpoint(e.URL, account)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	body, err := authnRequest(now())
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(e.Creds.Username, e.Creds.Password)
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("Accept", "text/xml, application/vnd.paos+xml")
	req.Header.Set("PAOS", paosHeader)
	req.Header.Set("SOAPAction", soapAction)
	if e.Creds.OTP != "" {
		req.Header.Set("X-Rolegate-OTP", e.Creds.OTP)
	}
	if account != "" {
		req.Header.Set("X-Rolegate-Account", account)
	}
	if e.WantSession {
		req.Header.Set(headerCLISession, "request")
		if h := strings.Map(func(r rune) rune {
			if r <= ' ' || r >= 0x7f {
				return -1
			}
			return r
		}, e.Host); h != "" {
			req.Header.Set("X-Rolegate-Host", h)
		}
	}
	res, raw, err := send(e.HTTP, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode == http.StatusOK {
		env, fault, err := parseEnvelope(raw)
		if env != nil {
			env.Omitted = printable(res.Header.Get("X-Rolegate-Omitted-Accounts"))
			if e.WantSession && err == nil {
				e.Session = issuedSession(res)
			}
		}
		if err != nil || env != nil {
			return env, err
		}
		if fault == "" {
			fault = "the answer is not a SOAP envelope with a SAML Response"
		}
		return nil, e.refusal(res, fault)
	}
	return nil, e.refusal(res, message(raw))
}

// send makes one request to the IdP and reads its answer, at most maxECPReply bytes. It follows no
// redirect: that would re-send a password or a code somewhere --url did not name.
func send(hc *http.Client, req *http.Request) (*http.Response, []byte, error) {
	client := *httpClient(hc)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, store.Errorf(store.Internal, "cannot reach the IdP at %s: %v", req.URL.Redacted(), err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxECPReply+1))
	if err != nil {
		return nil, nil, store.Errorf(store.Internal, "reading the IdP's answer: %v", err)
	}
	if len(raw) > maxECPReply {
		return nil, nil, store.Errorf(store.Internal, "the IdP's answer is larger than %d bytes", maxECPReply)
	}
	return res, raw, nil
}

func httpClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: time.Minute}
	}
	return c
}

// otpWords finds a refusal that is about the one-time code, in the IdP's words.
var otpWords = regexp.MustCompile(`(?i)one-time code|\botp\b|passcode|\bcode\b`)

// secondFactorWords find a refusal about the person's factors or password rather than their roles.
var secondFactorWords = regexp.MustCompile(`(?i)second factor|authenticator|\bmfa\b|password`)

// refusal turns the IdP's refusal into words that say what to fix, with the exit status of its kind.
func (e *ECP) refusal(res *http.Response, msg string) error {
	said := ""
	if msg != "" {
		said = " (the IdP says: " + msg + ")"
	}
	switch status := res.StatusCode; {
	case status == http.StatusTooManyRequests:
		wait := "a while"
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = (time.Duration(s) * time.Second).String()
		}
		return store.Errorf(store.Unauthorized, "too many failed sign-ins: wait %s before trying again, or ask an admin to unlock you (rolegate user unlock)%s", wait, said)
	case status == http.StatusUnauthorized && otpWords.MatchString(msg):
		if e.Creds.OTP == "" {
			return &store.Error{Code: store.Unauthorized, Err: errOTPRequired, Message: "your account needs a one-time code from your authenticator app: " +
				"set ROLEGATE_OTP, put it on the second line of standard input with --password-stdin, or run from a terminal to be asked" + said}
		}
		return store.Errorf(store.Unauthorized, "the one-time code was refused: check your authenticator app's clock and use a fresh code (each code works once)%s", said)
	case status == http.StatusUnauthorized:
		return store.Errorf(store.Unauthorized, "wrong username or password for %q: check them (the username is your Rolegate user name)%s", e.Creds.Username, said)
	case status == http.StatusForbidden && secondFactorWords.MatchString(msg):
		return store.Errorf(store.Forbidden, "the IdP will not sign you in from the command line yet%s", said)
	case status == http.StatusForbidden:
		return store.Errorf(store.Forbidden, "Rolegate granted you no role for this request: check --account, or ask an admin for a grant (rolegate grant add)%s", said)
	case status == http.StatusNotFound:
		return store.Errorf(store.NotFound, "not found at the IdP: check that --url names a Rolegate server%s", said)
	case status >= 300 && status < 400:
		return store.Errorf(store.Invalid, "the IdP redirected the request to %q: check --url", printable(res.Header.Get("Location")))
	case status == http.StatusOK || (status >= 400 && status < 500):
		return store.Errorf(store.Invalid, "the IdP refused the request (HTTP %d)%s", status, said)
	}
	return store.Errorf(store.Internal, "the IdP failed (HTTP %d)%s; try again later", res.StatusCode, said)
}

// parseEnvelope reads a SOAP 1.1 reply: the Response in the Body, the ACS from the ecp:Response
// header; or the fault's words; or, when the Response is there but unusable, why.
func parseEnvelope(raw []byte) (*Response, string, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, "", nil
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != nsSOAP11 {
		return nil, "", nil
	}
	var body, header *etree.Element
	for _, el := range env.ChildElements() {
		switch {
		case el.Tag == "Body" && el.NamespaceURI() == nsSOAP11:
			body = el
		case el.Tag == "Header" && el.NamespaceURI() == nsSOAP11:
			header = el
		}
	}
	if body == nil {
		return nil, "", nil
	}
	for _, el := range body.ChildElements() {
		if el.Tag == "Fault" && el.NamespaceURI() == nsSOAP11 {
			msg := strings.TrimSpace(el.FindElement("./faultstring").Text())
			if msg == "" {
				msg = "a SOAP fault without words"
			}
			return nil, printable(msg), nil
		}
		if el.Tag != "Response" || el.NamespaceURI() != assertions.NSProtocol {
			continue
		}
		out, err := standalone(doc, el)
		if err != nil {
			return nil, "", err
		}
		r, err := ParseResponse(out)
		if err != nil {
			return nil, "", err
		}
		if header != nil {
			for _, h := range header.ChildElements() {
				if h.Tag == "Response" && h.NamespaceURI() == nsECP {
					r.ACS = h.SelectAttrValue("AssertionConsumerServiceURL", "")
				}
			}
		}
		return r, "", nil
	}
	return nil, "", nil
}

// standalone serialises el as its own document. Namespaces that el inherits from the envelope are
// declared on it, so the copy means what the original meant; exclusive canonicalisation, which
// the signatures use, does not see where a namespace is declared, so they still verify.
func standalone(doc *etree.Document, el *etree.Element) ([]byte, error) {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			declared[a.Key] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			name := a.Key
			if a.Space == "" && a.Key == "xmlns" {
				name = "xmlns"
			} else if a.Space != "xmlns" {
				continue
			}
			if !declared[name] {
				declared[name] = true
				if name == "xmlns" {
					cp.CreateAttr("xmlns", a.Value)
				} else {
					cp.CreateAttr("xmlns:"+a.Key, a.Value)
				}
			}
		}
	}
	out := etree.NewDocument()
	out.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	out.SetRoot(cp)
	return out.WriteToBytes()
}

// message is the words of an error body: a SOAP fault, Rolegate's JSON error, or the first line of text.
func message(raw []byte) string {
	if _, fault, _ := parseEnvelope(raw); fault != "" {
		return fault
	}
	var j struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &j) == nil && j.Error != "" {
		return printable(j.Error)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if strings.HasPrefix(line, "<") { // an HTML page says nothing on one line
		return ""
	}
	return printable(line)
}

// printable keeps the IdP's words from driving the terminal: no control characters, at most 300.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		// Format characters too: a bidi override or a zero-width character could disguise a URL.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "..."
	}
	return strings.TrimSpace(s)
}
