package e2e

import (
	"bytes"
	"encoding/base32"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"rolegate/assertions"
	"rolegate/idp/mfa"
	"rolegate/store"
)

const (
	bobPW      = "battery staple horse"
	vaultID    = "444455556666"
	adminRole  = chromedp.CSS(`a.role[href^="/aws/signin?account=` + accountID + `&"][href$="&role=Admin"]`)
	keyName    = "Work YubiKey"
	replayText = "used already"
)

var (
	secretTextRE   = regexp.MustCompile(`^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$`) // base32 in groups of four
	recoveryCodeRE = regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)
)

// enrollTOTP is a person setting up an authenticator app on /account/mfa (open in the browser):
// the button, the secret read off the page as they would type it into an app, the app's current
// code, and the recovery codes shown once. It returns the secret and the time step of the code it
// confirmed with. With shot, the setup and recovery pages are saved as shot+"-totp-setup" and
// shot+"-recovery-codes".
func (f *fixture) enrollTOTP(shot string) ([]byte, int64) {
	f.t.Helper()
	f.clickThrough("start setting up an authenticator app", `#add-totp`, totpSetupPage)
	f.do("wait for the QR code", chromedp.WaitVisible(chromedp.CSS(`img.qr`)))
	if shot != "" {
		f.screenshot(shot + "-totp-setup")
	}
	text := run(f, "read the secret", chromedp.Text(totpSetupPage))
	if !secretTextRE.MatchString(text) {
		f.t.Fatalf("the secret on the page is %q; want base32 in groups of four", text)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(text, " ", ""))
	if err != nil || len(secret) != mfa.SecretSize {
		f.t.Fatalf("the secret %q does not decode to %d bytes: %v", text, mfa.SecretSize, err)
	}
	step := mfa.Step(time.Now())
	f.do("type the app's code", chromedp.SendKeys(chromedp.CSS(`form[action="/account/mfa/totp/confirm"] input[name=code]`),
		mfa.Code(secret, step, mfa.Digits)))
	f.clickThrough("confirm the app with its code", totpConfirm, recoveryPage)
	if alert := f.alert(); alert != "" {
		f.t.Fatalf("confirming the authenticator app: the page says %q", alert)
	}
	codes := run(f, "read the recovery codes", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#recovery-codes li")].map(li => li.textContent.trim())`))
	if len(codes) != mfa.RecoveryCodes {
		f.t.Fatalf("the page shows %d recovery codes; want %d: %q", len(codes), mfa.RecoveryCodes, codes)
	}
	for _, c := range codes {
		if !recoveryCodeRE.MatchString(c) {
			f.t.Errorf("recovery code %q does not look like abcd-efgh-ijkl-mnop", c)
		}
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(codes))); len(distinct) != len(codes) {
		f.t.Errorf("the recovery codes repeat: %q", codes)
	}
	if shot != "" {
		f.screenshot(shot + "-recovery-codes")
	}
	return secret, step
}

// invite issues an enrolment invite for name, as `rolegate user mfa invite` does, and returns the
// link the admin would send.
func (f *fixture) invite(name string) string {
	f.t.Helper()
	u, err := f.st.GetUser(f.t.Context(), name)
	if err != nil {
		f.t.Fatal(err)
	}
	code, hash, err := mfa.NewInvite()
	if err != nil {
		f.t.Fatal(err)
	}
	now := time.Now()
	if err := f.st.CreateEnrolInvite(f.t.Context(), &store.EnrolInvite{UserID: u.ID, CodeHash: hash, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		f.t.Fatal(err)
	}
	return f.base + "/account/mfa?" + url.Values{"invite": {code}}.Encode()
}

// openWindow opens self-enrolment for an account's users (every user with "") for an hour.
func (f *fixture) openWindow(account string) {
	f.t.Helper()
	now := time.Now()
	if err := f.st.SetEnrolWindow(f.t.Context(), &store.EnrolWindow{AccountID: account, OpenedAt: now, EndsAt: now.Add(time.Hour)}); err != nil {
		f.t.Fatal(err)
	}
}

// submitCode types a code into /login/mfa and submits it, then waits for landing or an alert.
func (f *fixture) submitCode(code string, landing chromedp.CSS) {
	f.t.Helper()
	f.do("type the code "+code, chromedp.SendKeys(mfaCodeField, code))
	f.clickThrough("submit the code "+code, mfaCodeSubmit, landing)
}

// path is the browser's location without the base URL.
func (f *fixture) path() string {
	f.t.Helper()
	return strings.TrimPrefix(run(f, "location", chromedp.Location()), f.base)
}

// TestTOTPEnrollmentThenSignInWithACodeReachesAWS: a user with only a password cannot set up a
// factor on their own (whoever had the password could); with the admin's invite link they set up an
// authenticator app in the browser, reading the secret off the page; from then on the password
// leads to /login/mfa, where the code used to enroll is refused as used and the next one lets them
// in, and the Response AWS gets says MFA. A user without a factor who takes a role in an account
// that requires MFA, during that account's self-enrolment window, is sent to set one up instead of
// to AWS, and reaches AWS once they have.
func TestTOTPEnrollmentThenSignInWithACodeReachesAWS(t *testing.T) {
	f := newFixture(t)
	certs := f.metadataCerts()

	f.signIn()
	f.clickThrough("open the two-step sign-in settings", mfaSettingsLink, enrolRefusal)
	if ask := run(f, "read the refusal", chromedp.Text(enrolRefusal)); !strings.Contains(ask, "rolegate user mfa invite alice") {
		t.Errorf("the refusal says %q; want whom to ask", ask)
	}
	if n := run(f, "count enrolment forms", chromedp.Evaluate[int](`document.querySelectorAll("#add-totp, #add-key").length`)); n != 0 {
		t.Errorf("the refusal offers %d ways to enrol", n)
	}
	f.screenshot("mfa-enrol-refused")
	f.do("follow the invite link", chromedp.Navigate(f.invite("alice")), chromedp.WaitVisible(noFactorsMessage))
	if notice := run(f, "the invite notice", chromedp.Text(chromedp.CSS(`p.notice`))); !strings.Contains(notice, "enrolment code is accepted") {
		t.Errorf("the invite's page says %q", notice)
	}
	secret, enrolled := f.enrollTOTP("mfa")
	f.clickThrough("go on from the recovery codes", `#codes-saved`, portalPage)
	if changes := run(f, "the factor changes", chromedp.Text(chromedp.CSS(`#factor-changes ul`))); !strings.Contains(changes, "Added Authenticator app") {
		t.Errorf("the portal's factor changes say %q", changes)
	}
	f.screenshot("mfa-portal-changes")
	f.signOut()

	// The password alone now leads to the second step, which has no security-key button.
	if loc := f.signInAs("alice", alicePW, mfaPage, ""); loc != f.base+"/login/mfa" {
		t.Fatalf("after the password the browser is at %s; want /login/mfa", loc)
	}
	if n := run(f, "count key buttons", chromedp.Evaluate[int](`document.querySelectorAll("#use-key").length`)); n != 0 {
		t.Errorf("/login/mfa offers a security key to a user who has none")
	}
	f.screenshot("mfa-login")
	f.do("the portal waits for the second factor", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(mfaPage))
	if p := f.path(); p != "/login/mfa" {
		t.Errorf("the portal with the password alone sent the browser to %s; want /login/mfa", p)
	}

	// The code that confirmed the app is spent: replaying it is refused, and says why.
	f.submitCode(mfa.Code(secret, enrolled, mfa.Digits), portalPage)
	if alert := f.alert(); !strings.Contains(alert, replayText) {
		t.Fatalf("the enrollment code again: the page says %q; want %q", alert, replayText)
	}
	if p := f.path(); p != "/login/mfa" {
		t.Errorf("after a replayed code the browser is at %s", p)
	}
	f.screenshot("mfa-login-replayed")
	// The next step's code, which the server takes within its one step of skew: no waiting.
	f.submitCode(mfa.Code(secret, enrolled+1, mfa.Digits), portalPage)
	if alert := f.alert(); alert != "" {
		t.Fatalf("the next code: the page says %q", alert)
	}
	if p := f.path(); p != "/" {
		t.Errorf("after the second factor the browser is at %s; want the portal", p)
	}
	_, v := f.checkResponse(f.takeRole(adminRole), certs)
	if v.AuthnContext != assertions.ContextMFA {
		t.Errorf("after password and code, AuthnContext %s; want %s", v.AuthnContext, assertions.ContextMFA)
	}

	// bob has a password only, and a role in vault, which requires MFA.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hash, err := f.hasher.Hash(t.Context(), bobPW)
	must(err)
	must(f.st.CreateUser(t.Context(), &store.User{Name: "bob", PasswordHash: hash}))
	must(f.st.CreateAccount(t.Context(), &store.Account{ID: vaultID, Alias: "vault", ProviderName: "Rolegate",
		Partition: store.PartitionAWS, RequireMFA: true}))
	must(f.st.CreateGrant(t.Context(), &store.Grant{User: "bob", AccountID: vaultID, Role: "Auditor"}))
	f.openWindow(vaultID)

	f.do("back to the portal", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(portalPage))
	f.signOut()
	if loc := f.signInAs("bob", bobPW, portalPage, ""); loc != f.base+"/" {
		t.Fatalf("bob, without factors, lands at %s after the password; want the portal", loc)
	}
	if badge := run(f, "the MFA badge", chromedp.Text(chromedp.CSS(`li.account h3 .badge`))); badge != "MFA" {
		t.Errorf("vault's heading has badge %q; want MFA", badge)
	}
	posts := len(f.acsPosts())
	auditor := "/aws/signin?account=" + vaultID + "&role=Auditor"
	auditorRole := chromedp.CSS(`a.role[href^="/aws/signin?account=` + vaultID + `&"][href$="&role=Auditor"]`)
	auditorLink := run(f, "the Auditor link", chromedp.AttributeValue(auditorRole, "href")).Value
	f.do("a direct link waits for the second factor too",
		chromedp.Navigate(f.base+auditor), chromedp.WaitVisible(noFactorsMessage))
	if p := f.path(); !strings.HasPrefix(p, "/account/mfa?next=") {
		t.Errorf("opening the sign-in link directly led to %s; want /account/mfa", p)
	}
	if n := len(f.acsPosts()); n != posts {
		t.Fatalf("a password-only session in an account that requires MFA posted %d Responses to AWS", n-posts)
	}
	f.do("back to the portal", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(portalPage))
	f.clickThrough("take the Auditor role in vault", auditorRole, noFactorsMessage)
	// /aws/signin sent bob to /login/mfa, which, with nothing to ask for, sent him to set a factor up.
	if want := "/account/mfa?" + (url.Values{"next": {auditorLink}}).Encode(); f.path() != want {
		t.Errorf("a password-only session taking a role in vault is at %s; want %s", f.path(), want)
	}
	notice := run(f, "the enrollment notice", chromedp.Text(chromedp.CSS(`p.notice`)))
	if !strings.Contains(notice, "Set up a second factor to go on") {
		t.Errorf("the settings page says %q; want it to ask for a second factor", notice)
	}
	f.screenshot("mfa-required")
	if n := len(f.acsPosts()); n != posts {
		t.Fatalf("a password-only session in an account that requires MFA posted %d Responses to AWS", n-posts)
	}

	// Once bob has set up an app there, "I have saved them" goes on to AWS, with MFA.
	f.enrollTOTP("")
	// The portal link goes on, re-issued for bob's renewed session, so it still signs in at once.
	if href := run(f, "the go-on link", chromedp.AttributeValue(chromedp.ID("codes-saved"), "href")).Value; href == auditorLink ||
		!portalTokenRE.MatchString(href) || portalTokenRE.ReplaceAllString(href, "") != auditor {
		t.Errorf("after enrolling, the recovery page goes on to %q; want the portal's Auditor link with a new token", href)
	}
	_, v = f.inspect(f.takeRole(chromedp.CSS(`#codes-saved`)), certs)
	if v.AuthnContext != assertions.ContextMFA || v.SessionName != "bob" ||
		!slices.Equal(v.Roles, []assertions.RolePair{{RoleARN: "arn:aws:iam::" + vaultID + ":role/Auditor",
			ProviderARN: "arn:aws:iam::" + vaultID + ":saml-provider/Rolegate"}}) {
		t.Errorf("bob's Response to vault: AuthnContext %s, session %q, roles %+v", v.AuthnContext, v.SessionName, v.Roles)
	}
	if c := f.cspViolations(); len(c) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
	}
}

// TestSecurityKeySignInThroughChromesVirtualAuthenticatorReachesAWSWithMFA registers a key from
// Chrome's DevTools virtual authenticator on /account/mfa, signs in with password and key, and
// checks the Response says MFA and the authenticator signed once more; after the key is removed,
// the password alone signs in again and the Response says password.
func TestSecurityKeySignInThroughChromesVirtualAuthenticatorReachesAWSWithMFA(t *testing.T) {
	f := newFixture(t)
	certs := f.metadataCerts()
	call := func(what string, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			f.fatal(what, err)
		}
	}
	var auth webauthn.AuthenticatorID
	call("enable the WebAuthn domain", func() error {
		_, err := chromedp.Call(f.browser, webauthn.Enable, webauthn.EnableParams{})
		return err
	})
	call("add a virtual authenticator", func() error {
		res, err := chromedp.Call(f.browser, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                webauthn.Ctap2versionCtap21,
				Transport:                   webauthn.AuthenticatorTransportUsb,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			}})
		auth = res.AuthenticatorID
		return err
	})
	credentials := func() []*webauthn.Credential {
		t.Helper()
		var creds []*webauthn.Credential
		call("read the authenticator's credentials", func() error {
			res, err := chromedp.Call(f.browser, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
			creds = res.Credentials
			return err
		})
		return creds
	}

	// Register the key under a name typed in, in a self-enrolment window; a first factor comes with recovery codes.
	f.openWindow("")
	f.signIn()
	f.clickThrough("open the two-step sign-in settings", mfaSettingsLink, noFactorsMessage)
	f.do("name the key",
		chromedp.WaitVisible(chromedp.ID("key-name")),
		chromedp.Clear(chromedp.ID("key-name")),
		chromedp.SendKeys(chromedp.ID("key-name"), keyName),
	)
	f.clickThrough("add the key", `#add-key`, recoveryPage)
	if alert := f.alert(); alert != "" {
		t.Fatalf("registering the key: the page says %q", alert)
	}
	if n := run(f, "count recovery codes", chromedp.Evaluate[int](`document.querySelectorAll("#recovery-codes li").length`)); n != mfa.RecoveryCodes {
		t.Errorf("after the first factor the page shows %d recovery codes; want %d", n, mfa.RecoveryCodes)
	}
	creds := credentials()
	if len(creds) != 1 {
		t.Fatalf("the authenticator holds %d credentials after registration; want 1", len(creds))
	}
	cred := creds[0]
	if cred.RpID != "localhost" || !cred.IsResidentCredential {
		t.Errorf("the credential has RP ID %q, resident %v; want localhost, resident (a passkey)", cred.RpID, cred.IsResidentCredential)
	}
	alice, err := f.st.GetUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if string(cred.UserHandle) != alice.Subject {
		t.Errorf("the credential's user handle is %q; want alice's subject %q", cred.UserHandle, alice.Subject)
	}

	f.clickThrough("go on from the recovery codes", `#codes-saved`, portalPage)
	f.clickThrough("open the two-step sign-in settings", mfaSettingsLink, `li.factor`)
	listed := run(f, "read the factors", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("li.factor strong")].map(e => e.textContent.trim())`))
	if !slices.Equal(listed, []string{keyName}) {
		t.Errorf("/account/mfa lists %q; want [%q]", listed, keyName)
	}
	if kind := run(f, "read the factor's kind", chromedp.Text(chromedp.CSS(`li.factor .muted`))); !strings.Contains(kind, "Security key or passkey") ||
		!strings.Contains(kind, "last used never") {
		t.Errorf("the key's line says %q", kind)
	}
	f.screenshot("mfa-settings-key")
	f.signOut()

	// Password, then the key.
	if loc := f.signInAs("alice", alicePW, mfaPage, ""); loc != f.base+"/login/mfa" {
		t.Fatalf("after the password the browser is at %s; want /login/mfa", loc)
	}
	f.do("wait for the key button", chromedp.WaitVisible(chromedp.ID("use-key")))
	f.screenshot("mfa-login-key")
	f.clickThrough("use the security key", `#use-key`, portalPage)
	if alert := f.alert(); alert != "" {
		t.Fatalf("signing in with the key: the page says %q", alert)
	}
	if p := f.path(); p != "/" {
		t.Errorf("after the key the browser is at %s; want the portal", p)
	}
	after := credentials()
	if len(after) != 1 || !bytes.Equal(after[0].CredentialID, cred.CredentialID) {
		t.Fatalf("after sign-in the authenticator holds %d credentials; want the one registered", len(after))
	}
	t.Logf("the authenticator's sign count: %v after registration, %v after sign-in", cred.SignCount, after[0].SignCount)
	if after[0].SignCount <= cred.SignCount {
		t.Errorf("the sign count went from %v to %v; want it to rise", cred.SignCount, after[0].SignCount)
	}
	_, v := f.checkResponse(f.takeRole(adminRole), certs)
	if v.AuthnContext != assertions.ContextMFA {
		t.Errorf("after password and key, AuthnContext %s; want %s", v.AuthnContext, assertions.ContextMFA)
	}

	// Remove the key: the password alone signs in again, and says so.
	f.do("open the two-step sign-in settings", chromedp.Navigate(f.base+"/account/mfa"), chromedp.WaitVisible(chromedp.CSS(`li.factor`)))
	if used := run(f, "read the factor's line", chromedp.Text(chromedp.CSS(`li.factor .muted`))); strings.Contains(used, "last used never") {
		t.Errorf("after a sign-in with it, the key's line says %q", used)
	}
	f.clickThrough("remove the key", chromedp.CSS(`li.factor button[aria-label="Remove `+keyName+`"]`), noFactorsMessage)
	if p := f.path(); p != "/account/mfa" {
		t.Errorf("after removing the key the browser is at %s", p)
	}
	f.signOut()
	if loc := f.signInAs("alice", alicePW, portalPage, ""); loc != f.base+"/" {
		t.Fatalf("without a factor the password leads to %s; want the portal", loc)
	}
	_, v = f.checkResponse(f.takeRole(adminRole), certs)
	if v.AuthnContext != assertions.ContextPassword {
		t.Errorf("with the key removed, AuthnContext %s; want %s", v.AuthnContext, assertions.ContextPassword)
	}
	if c := f.cspViolations(); len(c) > 0 {
		t.Errorf("CSP violations:\n%s", strings.Join(c, "\n"))
	}
}
