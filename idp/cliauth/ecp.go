package cliauth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"
	"github.com/gin-gonic/gin"
	xrv "github.com/mattermost/xml-roundtrip-validator"

	"rolegate/assertions"
	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/store"
)

// ECP: the SAML 2.0 ECP profile's IdP leg over SOAP 1.1, for command-line clients (saml2aws
// --idp-provider ShibbolethECP, rolegate login --ecp). AWS is no ECP service provider: the client
// makes the AuthnRequest on AWS's behalf and hands the Response to STS itself. So the request is
// unsigned and nobody at AWS issued it, and the Response is unsolicited: no InResponseTo.
const (
	ecpPath = "/saml/ecp"
	// maxECPBody bounds the SOAP request: an AuthnRequest is well under 2 KiB.
	maxECPBody = 32 << 10
	// maxECPRequestAge is how old an AuthnRequest's IssueInstant may be. The request is unsigned
	// and worth nothing without the credentials that come with it; the window only catches clocks
	// that are far off.
	maxECPRequestAge = 5 * time.Minute

	headerOTP         = "X-Rolegate-OTP"
	headerDuoCode     = "X-Shibboleth-Duo-Passcode"
	headerAccount     = "X-Rolegate-Account"
	headerOmitted     = "X-Rolegate-Omitted-Accounts"
	nsSOAP11          = "http://schemas.xmlsoap.org/soap/envelope/"
	nsECP             = "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"
	soapActorNext     = "http://schemas.xmlsoap.org/soap/actor/next"
	bindingPAOS       = "urn:oasis:names:tc:SAML:2.0:bindings:PAOS"
	basicChallenge    = `Basic realm="Rolegate", charset="UTF-8"`
	ecpProtocolPrefix = "saml2p"
	ecpSlot           = "saml2p:Response"
)

// awsEntityIDs are the names clients give AWS in the AuthnRequest's Issuer (saml2aws's aws_urn).
var awsEntityIDs = []string{"urn:amazon:webservices", "urn:amazon:webservices:govcloud",
	"urn:amazon:webservices:cn-north-1", "urn:amazon:webservices:cn-northwest-1"}

// ecpRequest is what Rolegate reads of an ECP AuthnRequest.
type ecpRequest struct {
	ID  string // the client's; often a bare UUID, which is not an XML ID, so it is only audited
	ACS string // "" when the request names none
}

// parseECP reads the SOAP envelope around an AuthnRequest for AWS, tolerating what clients send:
// a UUID for the ID, an IssueInstant with a UTC offset, an Issuer padded with white space.
func parseECP(body []byte, now time.Time) (*ecpRequest, error) {
	bad := func(msg string, args ...any) (*ecpRequest, error) {
		return nil, store.Errorf(store.Invalid, "the ECP request "+msg, args...)
	}
	if err := xrv.Validate(bytes.NewReader(body)); err != nil {
		return bad("is not well-formed XML that survives a round trip")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil || doc.Root() == nil {
		return bad("is not XML")
	}
	env := doc.Root()
	if env.Tag != "Envelope" || env.NamespaceURI() != nsSOAP11 {
		return bad("is not a SOAP 1.1 Envelope")
	}
	var soapBody *etree.Element
	for _, el := range env.ChildElements() {
		if el.Tag == "Body" && el.NamespaceURI() == nsSOAP11 {
			if soapBody != nil {
				return bad("has two SOAP Bodies")
			}
			soapBody = el
		}
	}
	if soapBody == nil || len(soapBody.ChildElements()) != 1 {
		return bad("must hold exactly one element, an AuthnRequest, in its SOAP Body")
	}
	ar := soapBody.ChildElements()[0]
	if ar.Tag != "AuthnRequest" || ar.NamespaceURI() != assertions.NSProtocol {
		return bad("holds a %s, not a SAML 2.0 AuthnRequest", text.Bounded(ar.Tag, 64))
	}
	r := &ecpRequest{ID: attr(ar, "ID"), ACS: attr(ar, "AssertionConsumerServiceURL")}
	if r.ID == "" || len(r.ID) > authn.MaxRequestID || strings.ContainsFunc(r.ID, unicode.IsSpace) || strings.ContainsFunc(r.ID, text.IsControl) {
		return bad("has no ID, or one that is too long or holds white space")
	}
	if v := attr(ar, "Version"); v != "2.0" {
		return bad("is not SAML 2.0 (Version %q)", text.Bounded(v, 16))
	}
	at, err := time.Parse(time.RFC3339Nano, attr(ar, "IssueInstant"))
	switch {
	case err != nil:
		return bad("has no IssueInstant, or one that is not an xs:dateTime")
	case at.After(now.Add(authn.MaxRequestSkew)):
		return bad("was issued at %s, more than %d s in the future: check this machine's clock", at.UTC().Format(time.RFC3339), int(authn.MaxRequestSkew/time.Second))
	case at.Before(now.Add(-maxECPRequestAge)):
		return bad("was issued at %s, more than %d minutes ago: check this machine's clock", at.UTC().Format(time.RFC3339), int(maxECPRequestAge/time.Minute))
	}
	if b := attr(ar, "ProtocolBinding"); b != "" && b != bindingPAOS {
		return bad("asks for the binding %s; over ECP Rolegate answers in the SOAP response", text.Bounded(b, 128))
	}
	if len(r.ACS) > 256 {
		return bad("names an AssertionConsumerServiceURL longer than 256 characters")
	}
	var issuer *etree.Element
	for _, el := range ar.ChildElements() {
		if el.Tag == "Issuer" && el.NamespaceURI() == assertions.NSAssertion {
			issuer = el
		}
	}
	if issuer == nil || !slices.Contains(awsEntityIDs, strings.TrimSpace(issuer.Text())) {
		got := ""
		if issuer != nil {
			got = strings.TrimSpace(issuer.Text())
		}
		return bad("must name AWS as its Issuer (%s), not %q", strings.Join(awsEntityIDs, ", "), text.Bounded(got, 128))
	}
	return r, nil
}

// attr is the value of el's attribute name in no namespace, "" when it has none: etree's
// SelectAttrValue would take a prefixed x:name as well, so that x:ID could stand for the ID.
func attr(el *etree.Element, name string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value
		}
	}
	return ""
}

// ecp is POST /saml/ecp: HTTP Basic credentials up front, the second factor's code in a header,
// the account in the query or a header (none: every account whose roles can go in together).
func (s *Handler) ecp(c *gin.Context) {
	name, pw, ok := c.Request.BasicAuth()
	if !ok || name == "" || pw == "" {
		s.ecpFault(c, store.Errorf(store.Unauthorized, "send your username and password with HTTP Basic authentication"))
		return
	}
	if len(name) > authn.MaxUsernameBytes || len(pw) > authn.MaxPasswordBytes {
		s.ecpFault(c, store.Errorf(store.Invalid, "the username or password is too long"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxECPBody+1))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || len(body) > maxECPBody {
		c.Header("Connection", "close")
		s.ecpFaultStatus(c, http.StatusRequestEntityTooLarge, "the ECP request is over the limit of 32 KiB")
		return
	} else if err != nil {
		s.ecpFault(c, store.Errorf(store.Invalid, "the ECP request's body could not be read"))
		return
	}
	req, err := parseECP(body, s.Now())
	if err != nil {
		s.ecpFault(c, err)
		return
	}
	account, hdr := c.Query("account"), c.GetHeader(headerAccount)
	if account != "" && hdr != "" && account != hdr {
		s.ecpFault(c, store.Errorf(store.Invalid, "the account parameter (%q) and header %s (%q) differ", text.Bounded(account, 64), headerAccount, text.Bounded(hdr, 64)))
		return
	} else if account == "" {
		account = hdr
	}
	if len(account) > 64 {
		s.ecpFault(c, store.Errorf(store.Invalid, "the account is too long"))
		return
	}
	code := strings.Join(strings.Fields(c.GetHeader(headerOTP)), "")
	if code == "" {
		code = strings.Join(strings.Fields(c.GetHeader(headerDuoCode)), "")
	}
	if len(code) > authn.MaxCodeBytes {
		s.ecpFault(c, store.Errorf(store.Invalid, "the one-time code is too long"))
		return
	}
	done, ok := s.AdmitHash(c, func(status int, msg string) { s.ecpFaultStatus(c, status, msg) })
	if !ok {
		return
	}
	defer done()
	u, wait, err := s.CheckPassword(c, name, pw, map[string]string{"via": "ecp"})
	if u == nil && err == nil {
		err = store.Errorf(store.Unauthorized, "%s", authn.MsgBadCredentials)
	}
	switch {
	case wait > 0:
		s.SignIn(authn.SignInThrottled)
	case store.IsCode(err, store.Unauthorized):
		s.SignIn(authn.SignInBadPassword)
	}
	if s.ecpStopped(c, wait, err) {
		return
	}
	refuse := func(e *store.AuditEvent, err error) {
		s.RecordRefusal(c, e, err)
		s.ecpFault(c, err)
	}
	if u.MustChangePassword {
		refuse(s.AssertionEvent(c, u.Name, map[string]string{"account": account, "via": "ecp"}), store.Errorf(store.Forbidden, "your password is a one-time password: change it in the browser first, at %s%s",
			strings.TrimRight(s.BaseURL, "/"), s.PasswordPath))
		return
	}

	methods, ok := s.ecpSecondFactor(c, u, code)
	if !ok {
		return
	}
	// Only a user without any factor can lack one here: anyone with one gave a code already.
	out, resp, ok := s.ecpIssue(c, Issue{User: u, Methods: methods, AuthnInstant: s.Now(), Account: account, ACS: req.ACS,
		Prefix: ecpProtocolPrefix, Details: map[string]string{"via": "ecp", "request_id": text.Bounded(req.ID, 64)}},
		store.Errorf(store.Forbidden, "this account requires a second factor: add an authenticator app at %s%s", strings.TrimRight(s.BaseURL, "/"), s.MFASettingsPath))
	if !ok {
		return
	}
	if c.GetHeader(headerCLISession) == "request" {
		account := ""
		if out.Account != nil {
			account = out.Account.ID
		}
		cs, err := s.startCLISession(c, u, methods, out.Plan.AuthnInstant, account, c.GetHeader(headerCLIHost))
		if err != nil {
			s.ecpFault(c, err)
			return
		}
		c.Header(headerCLISession, cs.Token)
		c.Header(headerCLISessionID, cs.ID)
		c.Header(headerCLISessionExpires, cs.Expires.Format(time.RFC3339))
	}
	s.ecpReply(c, out, resp)
}

// ecpReply answers with the SOAP envelope around resp, the signed Response of out.
func (s *Handler) ecpReply(c *gin.Context, out *Issued, resp []byte) {
	if len(out.Omitted) > 0 {
		c.Header(headerOmitted, text.Bounded(strings.Join(out.Omitted, "; "), 2000))
	}
	env := etree.NewDocument()
	root := env.CreateElement("soap11:Envelope")
	root.CreateAttr("xmlns:soap11", nsSOAP11)
	h := root.CreateElement("soap11:Header").CreateElement("ecp:Response")
	h.CreateAttr("xmlns:ecp", nsECP)
	h.CreateAttr("soap11:mustUnderstand", "1")
	h.CreateAttr("soap11:actor", soapActorNext)
	h.CreateAttr("AssertionConsumerServiceURL", out.Plan.ACS)
	// The Response goes in where this comment is: etree would write a NUL as U+FFFD, so a comment
	// marks the place, and a place not found is an error, never a Response after the envelope.
	root.CreateElement("soap11:Body").CreateComment(ecpSlot)
	head, err := env.WriteToBytes()
	if err != nil {
		s.ecpFault(c, err)
		return
	}
	head, tail, found := bytes.Cut(head, []byte("<!--"+ecpSlot+"-->"))
	if !found {
		s.ecpFault(c, errors.New("idp: the ECP envelope has no place for the Response"))
		return
	}
	c.Data(http.StatusOK, "text/xml; charset=utf-8", slices.Concat([]byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"), head, resp, tail))
}

// ecpIssue issues and records a Response for in, ready for the SOAP Body; stepUp is the refusal
// when the account requires a second factor the sign-in lacks. It answers and returns false when
// it fails.
func (s *Handler) ecpIssue(c *gin.Context, in Issue, stepUp error) (*Issued, []byte, bool) {
	out, audit, err := s.IssueAWS(c, in)
	if errors.Is(err, s.ErrStepUp) {
		s.RecordRefusal(c, audit, stepUp)
		err = stepUp
	}
	var resp []byte
	if err == nil {
		resp, err = ecpResponse(out)
	}
	if err == nil {
		err = s.RecordIssued(c, audit)
	}
	if err != nil {
		s.ecpFault(c, err)
		return nil, nil, false
	}
	return out, resp, true
}

// ecpResponse is out's Response without its XML declaration, for the SOAP Body.
func ecpResponse(out *Issued) ([]byte, error) {
	start := bytes.Index(out.XML, []byte("?>"))
	if start < 0 {
		return nil, errors.New("idp: the ECP Response has no XML declaration")
	}
	resp := bytes.TrimSpace(out.XML[start+2:])
	// Clients cut the Response out and write it again; a carriage return in it would not survive.
	if bytes.ContainsAny(resp, "\r") || bytes.Contains(resp, []byte("&#xD;")) || bytes.Contains(resp, []byte("&#13;")) {
		return nil, errors.New("idp: the ECP Response holds a carriage return")
	}
	return resp, nil
}

// ecpSecondFactor checks the second factor of an ECP sign-in: a code of the authenticator app,
// required when the user has a factor or every sign-in needs one (an account that requires one
// is issueAWS's to say). Never a recovery code: a script that holds one would spend the user's way
// back in. It returns the methods of the authentication, or answers and returns false.
func (s *Handler) ecpSecondFactor(c *gin.Context, u *store.User, code string) (string, bool) {
	via := map[string]string{"via": "ecp", "method": authn.MethodTOTP}
	due, err := s.MFADue(c, u)
	if err != nil {
		s.ecpFault(c, err)
		return "", false
	}
	fs, err := s.ConfirmedFactors(c, u)
	if err != nil {
		s.ecpFault(c, err)
		return "", false
	}
	totp := slices.ContainsFunc(fs, func(f *store.MFAFactor) bool { return f.Kind == store.FactorTOTP })
	switch {
	case due && !totp:
		s.SignIn(authn.SignInMFARequired)
		s.AuditWith(c, "mfa", u.Name, authn.ResultRefused, via)
		s.ecpFault(c, store.Errorf(store.Forbidden, "a second factor is needed and the command line takes only an authenticator app's code: add an authenticator app at %s%s",
			strings.TrimRight(s.BaseURL, "/"), s.MFASettingsPath))
		return "", false
	case due && code == "":
		s.SignIn(authn.SignInMFARequired)
		s.AuditWith(c, "mfa", u.Name, "missing_code", via)
		s.ecpFault(c, errCodeNeeded)
		return "", false
	case !totp || code == "":
		s.SignIn(authn.SignInOK)
		return authn.MethodPassword, true
	}
	_, result, wait, err := s.CheckSecondFactor(c, u, code, false, map[string]string{"via": "ecp"})
	switch {
	case err == nil && result == authn.ResultReplayed:
		err = store.Errorf(store.Unauthorized, "that code was used already: wait for your authenticator app to show the next one")
	case err == nil && result != authn.ResultOK:
		err = store.Errorf(store.Unauthorized, "the one-time code is wrong (a recovery code is not accepted here); check that this device's clock is right")
	}
	switch {
	case wait > 0:
		s.SignIn(authn.SignInThrottled)
	case store.IsCode(err, store.Unauthorized):
		s.SignIn(authn.SignInMFAFailed)
	case err == nil:
		s.SignIn(authn.SignInOK)
	}
	if s.ecpStopped(c, wait, err) {
		return "", false
	}
	return authn.MethodPassword + "," + authn.MethodTOTP, true
}

// ecpStopped answers a check that failed (err) or must wait, and reports whether it did.
func (s *Handler) ecpStopped(c *gin.Context, wait time.Duration, err error) bool {
	switch {
	case wait > 0:
		s.ecpFaultStatus(c, http.StatusTooManyRequests, s.TryLater(c, wait))
	case err != nil:
		s.ecpFault(c, err)
	default:
		return false
	}
	return true
}

// errCodeNeeded is the answer to a sign-in over ECP that needs the code and came without one.
var errCodeNeeded = store.Errorf(store.Unauthorized, "a one-time code is required: send your authenticator app's code in header %s (saml2aws: --mfa passcode --mfa-token CODE)", headerOTP)

// ecpFault answers with a SOAP 1.1 Fault whose HTTP status is err's code's; a 401 challenges for
// HTTP Basic credentials. Internal details go to the log only.
func (s *Handler) ecpFault(c *gin.Context, err error) {
	code := store.ErrorCode(err)
	if store.Fault(err) {
		s.Log.Error("ecp failed", "request_id", s.RequestID(c), "err", err)
	}
	s.ecpFaultStatus(c, s.StatusOf[code], store.ErrorMessage(err))
}

func (s *Handler) ecpFaultStatus(c *gin.Context, status int, msg string) {
	if status == http.StatusUnauthorized && c.Request.URL.Path == cliRefreshPath {
		c.Header("WWW-Authenticate", `Bearer realm="Rolegate"`)
	} else if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", basicChallenge)
	}
	who := "soap11:Client"
	if status >= 500 {
		who = "soap11:Server"
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	env := doc.CreateElement("soap11:Envelope")
	env.CreateAttr("xmlns:soap11", nsSOAP11)
	f := env.CreateElement("soap11:Body").CreateElement("soap11:Fault")
	f.CreateElement("faultcode").SetText(who)
	f.CreateElement("faultstring").SetText(text.Sentence(msg))
	f.CreateElement("detail").CreateElement("rolegate:RequestID").SetText(s.RequestID(c))
	f.FindElement("detail/*").CreateAttr("xmlns:rolegate", "urn:rolegate:ecp")
	out, _ := doc.WriteToBytes()
	c.Data(status, "text/xml; charset=utf-8", out)
	c.Abort()
}

// tooManySOAP answers an ECP client over the rate limit.
func (s *Handler) tooManySOAP(c *gin.Context, msg string) {
	s.ecpFaultStatus(c, http.StatusTooManyRequests, msg)
}
