// Package logintest holds a minimal ECP responder for tests of `rolegate login`: it issues Responses
// built and signed by the assertions package and publishes its metadata at /saml/metadata, where
// the STS stand-in (awstest/ststest) reads it.
package logintest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"rolegate/assertions"
	"rolegate/assertions/samltest"
	"rolegate/store"
)

// User is an account at the ECP stand-in.
type User struct {
	Password string
	OTP      string // the code it wants; "" for a user without a second factor
	Roles    []assertions.RolePair
}

// IdP is a minimal ECP responder: Basic credentials, a one-time code in X-Rolegate-OTP, the account
// in ?account= or X-Rolegate-Account, and a Response built and signed by the assertions package in
// a SOAP envelope. It answers refusals the way Rolegate's /saml/ecp contract says.
type IdP struct {
	*httptest.Server
	Users           map[string]User
	Aliases         map[string]string // account ID to alias, for ?account=ALIAS
	SessionDuration time.Duration
	Now             func() time.Time
	// Omitted, when set, goes out in X-Rolegate-Omitted-Accounts: the accounts left out of the Response.
	Omitted string
	// RetryAfter, when set, throttles every request with 429 and this Retry-After.
	RetryAfter time.Duration
	// Key and Cert sign; Metadata publishes Cert. Swap Key for another to sign as an impostor.
	Key  *rsa.PrivateKey
	Cert *x509.Certificate

	mu       sync.Mutex
	requests []http.Header
}

// NewIdP starts an ECP stand-in with a fresh signing key.
func NewIdP(t testing.TB, users map[string]User) *IdP {
	t.Helper()
	key, cert := samltest.KeyPair(t, 2048, "logintest IdP")
	p := &IdP{Users: users, Key: key, Cert: cert, Now: func() time.Time { return time.Now().UTC() }}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Requests are the headers of the ECP requests received so far.
func (p *IdP) Requests() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.requests...)
}

const (
	nsSOAP = "http://schemas.xmlsoap.org/soap/envelope/"
	nsECP  = "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"
)

func (p *IdP) serve(w http.ResponseWriter, r *http.Request) {
	jsonErr := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if r.Method == http.MethodGet && r.URL.Path == "/saml/metadata" { // where the STS stand-in reads it
		md, err := assertions.Metadata(assertions.MetadataInput{BaseURL: p.URL, SigningCerts: []*x509.Certificate{p.Cert}})
		if err != nil {
			jsonErr(http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(md)
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, r.Header.Clone())
	p.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/saml/ecp" {
		jsonErr(http.StatusNotFound, "not found")
		return
	}
	doc := etree.NewDocument()
	if _, err := doc.ReadFrom(http.MaxBytesReader(w, r.Body, 64<<10)); err != nil || doc.FindElement("/Envelope/Body/AuthnRequest") == nil {
		fault(w, http.StatusBadRequest, "soap11:Client", "the body is not a SOAP envelope with an AuthnRequest")
		return
	}
	if iss := doc.FindElement("/Envelope/Body/AuthnRequest/Issuer"); iss == nil || iss.Text() != assertions.AudienceAWS {
		fault(w, http.StatusBadRequest, "soap11:Client", "the AuthnRequest is not for AWS")
		return
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(p.RetryAfter/time.Second)))
		jsonErr(http.StatusTooManyRequests, "Too many failed attempts. Try again later.")
		return
	}
	name, pw, ok := r.BasicAuth()
	u, known := p.Users[name]
	if !ok || !known || subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Rolegate", charset="UTF-8"`)
		jsonErr(http.StatusUnauthorized, "Wrong username or password.")
		return
	}
	if u.OTP != "" {
		switch code := r.Header.Get("X-Rolegate-OTP"); {
		case code == "":
			fault(w, http.StatusUnauthorized, "soap11:Client", "A one-time code is required: send it in X-Rolegate-OTP.")
			return
		case code != u.OTP:
			fault(w, http.StatusUnauthorized, "soap11:Client", "The one-time code is wrong.")
			return
		}
	}
	account := r.URL.Query().Get("account")
	if h := r.Header.Get("X-Rolegate-Account"); account == "" {
		account = h
	}
	var roles []assertions.RolePair
	for _, rp := range u.Roles {
		id := strings.Split(rp.RoleARN, ":")[4]
		if account == "" || account == id || account == p.Aliases[id] {
			roles = append(roles, rp)
		}
	}
	if len(roles) == 0 {
		jsonErr(http.StatusForbidden, "You have no role in this account.")
		return
	}
	acs, _ := assertions.SignInURL(store.PartitionAWS, "")
	now := p.Now()
	raw, err := assertions.BuildAWS(&assertions.AWSResponse{
		BaseURL: p.URL, ACS: acs, NameID: "u-" + name, Roles: roles, SessionName: name,
		SessionDuration: p.SessionDuration, AuthnInstant: now, Now: now,
		ResponseID: "_r" + randHex(16), AssertionID: "_a" + randHex(16),
	}, assertions.Signer{Key: p.Key, Cert: p.Cert})
	if err != nil {
		jsonErr(http.StatusInternalServerError, err.Error())
		return
	}
	resp := etree.NewDocument()
	if err := resp.ReadFromBytes(raw); err != nil {
		jsonErr(http.StatusInternalServerError, err.Error())
		return
	}
	out := etree.NewDocument()
	env := out.CreateElement("soap11:Envelope")
	env.CreateAttr("xmlns:soap11", nsSOAP)
	h := env.CreateElement("soap11:Header").CreateElement("ecp:Response")
	h.CreateAttr("xmlns:ecp", nsECP)
	h.CreateAttr("soap11:mustUnderstand", "1")
	h.CreateAttr("soap11:actor", "http://schemas.xmlsoap.org/soap/actor/next")
	h.CreateAttr("AssertionConsumerServiceURL", acs)
	env.CreateElement("soap11:Body").AddChild(resp.Root())
	if p.Omitted != "" {
		w.Header().Set("X-Rolegate-Omitted-Accounts", p.Omitted)
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	out.WriteTo(w)
}

func fault(w http.ResponseWriter, status int, code, msg string) {
	doc := etree.NewDocument()
	env := doc.CreateElement("soap11:Envelope")
	env.CreateAttr("xmlns:soap11", nsSOAP)
	f := env.CreateElement("soap11:Body").CreateElement("soap11:Fault")
	f.CreateElement("faultcode").SetText(code)
	f.CreateElement("faultstring").SetText(msg)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	doc.WriteTo(w)
}
