package loadgen

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"rolegate/assertions"
	"rolegate/awslogin"
	"rolegate/store"
)

// Target is the server under load and what its metadata publishes.
type Target struct {
	URL       string // the server's base URL
	Transport http.RoundTripper
	EntityID  string
	Certs     []*x509.Certificate
	// XMLSec, when set, also checks each verified Response's signatures with xmlsec1.
	XMLSec   *XMLSec
	metadata []byte
}

// maxBody bounds what one answer may be: the largest is an auto-POST page.
const maxBody = 4 << 20

// NewTarget reads the server's metadata once: the entity ID and certificates Responses are held to.
func NewTarget(ctx context.Context, base string, concurrency int) (*Target, error) {
	t := &Target{URL: strings.TrimRight(base, "/"), Transport: &http.Transport{
		MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency * 2, IdleConnTimeout: time.Minute,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+"/saml/metadata", nil)
	if err != nil {
		return nil, store.Errorf(store.Invalid, "--url %q: %v", base, err)
	}
	res, err := t.client(nil).Do(req)
	if err != nil {
		return nil, store.Errorf(store.Unavailable, "cannot read the metadata at %s/saml/metadata: %v", t.URL, err)
	}
	defer res.Body.Close()
	md, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	status := res.StatusCode
	if loc := res.Header.Get("Location"); status >= 300 && status < 400 && loc != "" {
		// serve sends other names of itself (127.0.0.1 for localhost) on to its base URL
		return nil, store.Errorf(store.Invalid, "%s/saml/metadata is redirected to %s: give --url the server's own base URL, the one serve prints "+
			"(\"Rolegate is running at ...\")", t.URL, loc)
	} else if err != nil {
		return nil, store.Errorf(store.Unavailable, "cannot read the metadata at %s/saml/metadata: %v", t.URL, err)
	} else if status != http.StatusOK {
		return nil, store.Errorf(store.Unavailable, "the metadata at %s/saml/metadata answered HTTP %d: is --url a Rolegate server?", t.URL, status)
	}
	if t.EntityID, t.Certs, err = assertions.ReadMetadata(md); err != nil {
		return nil, store.Errorf(store.Invalid, "the metadata at %s/saml/metadata: %v", t.URL, err)
	}
	t.metadata = md
	return t, nil
}

// client is an HTTP client over the target's connections that follows no redirect, with jar.
func (t *Target) client(jar http.CookieJar) *http.Client {
	return &http.Client{Transport: t.Transport, Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (t *Target) get(ctx context.Context, c *http.Client, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL+path, nil)
	if err != nil {
		return 0, nil, err
	}
	return do(c, req)
}

func do(c *http.Client, req *http.Request) (int, []byte, error) {
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	return res.StatusCode, body, err
}

// status is the Failure of an answer with an unexpected HTTP status.
func status(code int, want string) error {
	return &Failure{Kind: fmt.Sprintf("HTTP %d", code), Err: fmt.Errorf("HTTP %d, want %s", code, want)}
}

// retryAfter is what an answer's Retry-After asks for, in whole seconds (the only form Rolegate
// sends); 0 when it asks for nothing.
func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(min(n, 3600)) * time.Second
}

var (
	csrfField   = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
	samlField   = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)
	postAction  = regexp.MustCompile(`<form method="post" action="([^"]+)" id="aws-form"`)
	loginPrefix = "/login"
)

// SignIn signs user in through the login form, as a browser does, and returns a client holding
// the session cookie. portal, when set, checks afterwards that the session opens the portal.
func (t *Target) SignIn(ctx context.Context, user, pw string, portal bool) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := t.client(jar)
	code, page, err := t.get(ctx, c, "/login")
	if err != nil {
		return nil, err
	} else if code != http.StatusOK {
		return nil, status(code, "200 for GET /login")
	}
	m := csrfField.FindSubmatch(page)
	if m == nil {
		return nil, Failf("bad answer", "GET /login: no csrf_token field")
	}
	form := url.Values{"username": {user}, "password": {pw}, "csrf_token": {html.UnescapeString(string(m[1]))}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		f := status(res.StatusCode, "303 for POST /login").(*Failure)
		f.RetryAfter = retryAfter(res.Header)
		return nil, f
	}
	if loc := res.Header.Get("Location"); strings.HasPrefix(loc, loginPrefix) {
		return nil, Failf("bad answer", "POST /login sent %s to %s: the sign-in needs a second factor or a new password", user, loc)
	}
	if portal {
		if code, _, err := t.get(ctx, c, "/"); err != nil {
			return nil, err
		} else if code != http.StatusOK {
			return nil, &Failure{Kind: KindVerify, Err: fmt.Errorf("the new session of %s does not open the portal: HTTP %d", user, code)}
		}
	}
	return c, nil
}

// Login is the login scenario: every request is a whole password sign-in, GET and POST /login; a
// checked one also opens the portal with the new session.
func (t *Target) Login(users []string, pw string) Op {
	return func(ctx context.Context, w int, verify bool) error {
		_, err := t.SignIn(ctx, users[w%len(users)], pw, verify)
		return err
	}
}

// SSO is the sso scenario: IdP-initiated sign-in to account (GET /aws/signin) with the signed-in
// clients, one per user; a checked answer's Response is held to the metadata as AWS would.
func (t *Target) SSO(clients []*http.Client, account, role string) Op {
	path := "/aws/signin?" + url.Values{"account": {account}, "role": {role}}.Encode()
	return func(ctx context.Context, w int, verify bool) error {
		code, page, err := t.get(ctx, clients[w%len(clients)], path)
		if err != nil {
			return err
		} else if code != http.StatusOK {
			return status(code, "200 for GET /aws/signin")
		}
		resp, act := samlField.FindSubmatch(page), postAction.FindSubmatch(page)
		if resp == nil || act == nil {
			return Failf(KindVerify, "GET /aws/signin: the page has no auto-POST form with a SAMLResponse")
		}
		if !verify {
			return nil
		}
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(resp[1])))
		if err != nil {
			return Failf(KindVerify, "the SAMLResponse is not base64")
		}
		return t.Verify(raw, html.UnescapeString(string(act[1])))
	}
}

// ECP is the ecp scenario: one SOAP request with Basic auth per sign-in, through the client
// `rolegate login --ecp` uses.
func (t *Target) ECP(users []string, pw, account string) Op {
	hc := &http.Client{Transport: statusOf{t.Transport}, Timeout: time.Minute}
	return func(ctx context.Context, w int, verify bool) error {
		var code answer
		e := &awslogin.ECP{URL: t.URL, HTTP: hc, Creds: awslogin.ECPCredentials{Username: users[w%len(users)], Password: pw}}
		resp, err := e.SAMLResponse(context.WithValue(ctx, statusKey{}, &code), account)
		if err != nil {
			if code.status != 0 && code.status != http.StatusOK {
				return &Failure{Kind: fmt.Sprintf("HTTP %d", code.status), Err: err, RetryAfter: code.retry}
			} else if code.status == http.StatusOK {
				return &Failure{Kind: KindVerify, Err: err}
			}
			return err
		}
		if !verify {
			return nil
		}
		return t.Verify(resp.Raw, resp.ACS)
	}
}

// statusKey carries, in a request's context, where statusOf writes the answer's HTTP status.
type statusKey struct{}

// answer is what statusOf records of an answer.
type answer struct {
	status int
	retry  time.Duration // its Retry-After
}

// statusOf records the status of each answer for the caller, whose client only says words.
type statusOf struct{ next http.RoundTripper }

func (s statusOf) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := s.next.RoundTrip(req)
	if p, ok := req.Context().Value(statusKey{}).(*answer); ok && res != nil {
		*p = answer{res.StatusCode, retryAfter(res.Header)}
	}
	return res, err
}

// Metadata is the metadata scenario; a checked answer must publish what the first one did.
func (t *Target) Metadata() Op {
	c := t.client(nil)
	return func(ctx context.Context, _ int, verify bool) error {
		code, md, err := t.get(ctx, c, "/saml/metadata")
		if err != nil {
			return err
		} else if code != http.StatusOK {
			return status(code, "200 for GET /saml/metadata")
		}
		if verify && !bytes.Equal(md, t.metadata) {
			return Failf(KindVerify, "the metadata changed during the run (a key rotation?)")
		}
		return nil
	}
}

// Verify holds a Response to what AWS checks: both signatures against the metadata's
// certificates, the issuer, Destination and Recipient equal to acs (an AWS sign-in endpoint),
// the audience, the validity times and the attribute rules.
func (t *Target) Verify(raw []byte, acs string) error {
	if _, err := assertions.SignInRegion(store.PartitionAWS, acs); err != nil {
		return Failf(KindVerify, "the Response goes to %q, not an AWS sign-in endpoint", acs)
	}
	v := assertions.InspectAWS(raw, assertions.Expect{EntityID: t.EntityID, ACS: acs, Certs: t.Certs, Now: time.Now()})
	if !v.Accepted {
		return Failf(KindVerify, "AWS would refuse the Response: %s", strings.Join(v.Problems, "; "))
	}
	if t.XMLSec != nil {
		return t.XMLSec.Verify(raw)
	}
	return nil
}
