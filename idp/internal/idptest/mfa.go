package idptest

import (
	"context"
	"encoding/base32"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"rolegate/assertions"
	"rolegate/idp/mfa"
	"rolegate/store"
	"strings"
	"testing"
	"time"
)

var (
	SecretRE   = regexp.MustCompile(`<code class="secret" id="totp-secret">([^<]*)</code>`)
	QRRE       = regexp.MustCompile(`<img class="qr" src="data:image/png;base64,[A-Za-z0-9+/=&#;]{100,}"`)
	RecoveryRE = regexp.MustCompile(`<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>`)
)

const MFASettings = "/account/mfa"

// Post sends a form with the CSRF token of the page at from.
func (b *Browser) Post(from, path string, form url.Values) (*http.Response, string) {
	b.T.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf_token", b.Token(from))
	return b.Do(http.MethodPost, path, form)
}

// EnrollTOTP sets up an authenticator app through /account/mfa as a person would: it reads the
// secret off the page, answers with the current code, and returns the secret and the recovery codes.
// A first factor takes an invite's code (or an open window, with invite ""); the forms carry it on.
func (b *Browser) EnrollTOTP(now time.Time, invite ...string) ([]byte, []string) {
	b.T.Helper()
	from, form := MFASettings, url.Values{}
	if len(invite) > 0 && invite[0] != "" {
		from += "?invite=" + url.QueryEscape(invite[0])
		form.Set("invite", invite[0])
	}
	resp, body := b.Post(from, MFASettings+"/totp", form)
	m := SecretRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil || !QRRE.MatchString(body) {
		b.T.Fatalf("starting TOTP enrollment: %d, no secret or QR code:\n%s", resp.StatusCode, body)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(html.UnescapeString(m[1]), " ", ""))
	if err != nil {
		b.T.Fatalf("the secret on the page: %v", err)
	}
	form.Set("csrf_token", CSRFRE.FindStringSubmatch(body)[1])
	form.Set("code", mfa.Code(secret, mfa.Step(now), mfa.Digits))
	resp, body = b.Do(http.MethodPost, MFASettings+"/totp/confirm", form)
	var codes []string
	for _, c := range RecoveryRE.FindAllStringSubmatch(body, -1) {
		codes = append(codes, c[1])
	}
	if resp.StatusCode != http.StatusOK || len(codes) != mfa.RecoveryCodes {
		b.T.Fatalf("confirming TOTP: %d with %d recovery codes:\n%s", resp.StatusCode, len(codes), body)
	}
	return secret, codes
}

// Invite issues an enrolment invite for name as `rolegate user mfa invite` does, and returns its code.
func (w *Web) Invite(t testing.TB, name string, ttl time.Duration) string {
	t.Helper()
	ctx := context.Background()
	u, err := w.Store.GetUser(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	code, hash, err := mfa.NewInvite()
	if err != nil {
		t.Fatal(err)
	}
	now := w.Clock.Now()
	if err := w.Store.CreateEnrolInvite(ctx, &store.EnrolInvite{UserID: u.ID, CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		t.Fatal(err)
	}
	return code
}

// OpenWindow opens self-enrolment for every user (account "") or an account's users until d from now.
func (w *Web) OpenWindow(t testing.TB, account string, d time.Duration) {
	t.Helper()
	now := w.Clock.Now()
	if err := w.Store.SetEnrolWindow(context.Background(), &store.EnrolWindow{AccountID: account, OpenedAt: now, EndsAt: now.Add(d)}); err != nil {
		t.Fatal(err)
	}
}

// EnrollGoingOn is EnrollTOTP started from a page that goes on to next afterwards; it returns
// the answer to the confirmation, the recovery codes page.
func (b *Browser) EnrollGoingOn(now time.Time, next string) (*http.Response, string) {
	b.T.Helper()
	_, body := b.Post(MFASettings+"?next="+url.QueryEscape(next), MFASettings+"/totp", url.Values{"next": {next}})
	m := SecretRE.FindStringSubmatch(body)
	if m == nil {
		b.T.Fatalf("no secret:\n%s", body)
	}
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(m[1], " ", ""))
	return b.Do(http.MethodPost, MFASettings+"/totp/confirm", url.Values{"csrf_token": {CSRFRE.FindStringSubmatch(body)[1]},
		"next": {next}, "code": {mfa.Code(secret, mfa.Step(now), mfa.Digits)}})
}

// Code submits a second-factor code on /login/mfa.
func (b *Browser) Code(code string) (*http.Response, string) {
	b.T.Helper()
	return b.Post("/login/mfa", "/login/mfa", url.Values{"code": {code}})
}

// AuthnContext is the AuthnContextClassRef of the assertion for a sign-in to account.
func (w *AWSWeb) AuthnContext(t testing.TB, b *Browser, account string) string {
	t.Helper()
	p := SignInPost(t, b, "/aws/signin?account="+account)
	v := assertions.InspectAWS([]byte(p.Response), w.Expect(t, p.Action))
	if !v.Accepted {
		t.Fatalf("AWS would refuse: %v", v.Problems)
	}
	return v.AuthnContext
}

// Enrolled gives name a confirmed TOTP factor and recovery codes straight in the store, as
// `rolegate user mfa enroll` does, and returns the secret and the codes.
func (w *AWSWeb) Enrolled(t testing.TB, name string) ([]byte, []string) {
	t.Helper()
	ctx := context.Background()
	u, err := w.Store.GetUser(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := mfa.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := mfa.SealSecret(w.KEK, u.Subject, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store.CreateMFAFactor(ctx, &store.MFAFactor{UserID: u.ID, Kind: store.FactorTOTP, Name: mfa.TOTPName,
		Secret: sealed, Confirmed: true}); err != nil {
		t.Fatal(err)
	}
	codes, hashes, err := mfa.NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Store.ReplaceRecoveryCodes(ctx, u.ID, hashes, w.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	return secret, codes
}

// PageToken is the CSRF token on any page the signed-in browser gets, whatever its status.
func (b *Browser) PageToken(path string) string {
	b.T.Helper()
	_, body := b.Get(path)
	m := CSRFRE.FindStringSubmatch(body)
	if m == nil {
		b.T.Fatalf("GET %s: no csrf_token in:\n%s", path, body)
	}
	return html.UnescapeString(m[1])
}

// FactorsOf is what the store keeps of name's factors, confirmed or not.
func (w *Web) FactorsOf(t testing.TB, name string) []*store.MFAFactor {
	t.Helper()
	u, err := w.Store.GetUser(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := w.Store.ListMFAFactors(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
