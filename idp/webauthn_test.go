package idp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"rolegate/assertions"
	"rolegate/idp"
	"rolegate/idp/internal/idptest"
	"rolegate/store"
	"rolegate/store/sqlstore"
)

// The WebAuthn routes, as the pages' script calls them.
const (
	keyRegisterBegin = idptest.MFASettings + "/webauthn/begin"
	keyRegister      = idptest.MFASettings + "/webauthn"
	keyLoginBegin    = "/login/mfa/webauthn/begin"
	keyLogin         = "/login/mfa/webauthn"
)

var b64url = base64.RawURLEncoding

// keyWeb is an AWS web fixture whose base URL names its host (http://localhost:PORT), since a
// WebAuthn RP ID cannot be an IP address; origin is that base URL.
type keyWeb struct {
	*idptest.AWSWeb
	origin string
}

func newKeyWeb(t *testing.T) *keyWeb {
	t.Helper()
	var origin string
	w := idptest.NewAWSWebWith(t, func(cfg *idp.Config) {
		cfg.BaseURL = strings.Replace(cfg.BaseURL, "://127.0.0.1:", "://localhost:", 1)
		origin = cfg.BaseURL
	})
	if !strings.HasPrefix(origin, "http://localhost:") {
		t.Fatalf("base URL %q does not name localhost", origin)
	}
	// Self-enrolment is open, as during a rollout: these tests are about the keys, not the way in.
	w.OpenWindow(t, "", 24*time.Hour)
	return &keyWeb{AWSWeb: w, origin: origin}
}

// softKey is a software security key holding one ES256 (COSE -7) credential on P-256.
type softKey struct {
	id   []byte
	priv *ecdsa.PrivateKey
	user []byte // the user handle it was created for, returned with each assertion
	// count is the signature counter the key reports in its next answer; each answer then adds
	// step to it (0 for a key that keeps no counter).
	count, step uint32
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &softKey{id: id, priv: priv, step: 1}
}

// keyOptions is the JSON a ceremony's begin step answers with.
type keyOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Params  []param      `json:"pubKeyCredParams"`
		Exclude []descriptor `json:"excludeCredentials"`
		Allow   []descriptor `json:"allowCredentials"`
	} `json:"publicKey"`
}

type descriptor struct {
	ID string `json:"id"`
}

type param struct {
	Alg int `json:"alg"`
}

// ceremony is what the browser hands the key for one answer; a test bends a field to forge one.
type ceremony struct {
	typ       string // "webauthn.create" or "webauthn.get"
	challenge string // base64url, as the options carry it
	origin    string
	rpID      string
	user      []byte // the user handle, on registration
	opts      keyOptions
}

func (c ceremony) clientData() []byte {
	b, _ := json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{c.typ, c.challenge, c.origin, false})
	return b
}

// Authenticator data flags.
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagAT = 0x40 // attested credential data follows
)

// authData is sha256(rpID) | flags | signCount | attested.
func authData(rpID string, flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// The few CBOR items (RFC 8949) a "none" attestation needs, encoded by hand: the module lists
// fxamacker/cbor only as an indirect dependency.
func cborHead(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n <= 0xff:
		return []byte{major<<5 | 24, byte(n)}
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16([]byte{major<<5 | 25}, uint16(n))
	}
	return binary.BigEndian.AppendUint32([]byte{major<<5 | 26}, uint32(n))
}

func cborInt(v int64) []byte {
	if v < 0 {
		return cborHead(1, uint64(-1-v))
	}
	return cborHead(0, uint64(v))
}

func cborBytes(b []byte) []byte { return append(cborHead(2, uint64(len(b))), b...) }
func cborText(s string) []byte  { return append(cborHead(3, uint64(len(s))), s...) }

// cborMap is a map of its arguments taken as key, value, key, value.
func cborMap(kv ...[]byte) []byte {
	out := cborHead(5, uint64(len(kv)/2))
	for _, x := range kv {
		out = append(out, x...)
	}
	return out
}

// coseKey is the credential's public key as a COSE_Key: EC2, ES256, P-256, x, y.
func (k *softKey) coseKey(t *testing.T) []byte {
	t.Helper()
	pub, err := k.priv.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	xy := pub.Bytes()[1:] // uncompressed point: 0x04 | x | y
	return cborMap(cborInt(1), cborInt(2), cborInt(3), cborInt(-7), cborInt(-1), cborInt(1),
		cborInt(-2), cborBytes(xy[:32]), cborInt(-3), cborBytes(xy[32:]))
}

// attestationObject is a "none" attestation of the credential.
func (k *softKey) attestationObject(t *testing.T, rpID string) []byte {
	t.Helper()
	att := make([]byte, 16) // AAGUID: all zero, as "none" attestation allows
	att = binary.BigEndian.AppendUint16(att, uint16(len(k.id)))
	att = append(att, k.id...)
	att = append(att, k.coseKey(t)...)
	ad := authData(rpID, flagUP|flagUV|flagAT, k.count, att)
	k.count += k.step
	return cborMap(cborText("fmt"), cborText("none"), cborText("attStmt"), cborMap(), cborText("authData"), cborBytes(ad))
}

// create answers navigator.credentials.create, serialized as the page's script does.
func (k *softKey) create(t *testing.T, c ceremony) string {
	t.Helper()
	k.user = c.user
	return k.credential(t, map[string]any{
		"clientDataJSON":    b64url.EncodeToString(c.clientData()),
		"attestationObject": b64url.EncodeToString(k.attestationObject(t, c.rpID)),
		"transports":        []string{"usb"},
	})
}

// get answers navigator.credentials.get: a DER ECDSA signature over authData | sha256(clientDataJSON).
func (k *softKey) get(t *testing.T, c ceremony) string {
	t.Helper()
	cd := c.clientData()
	ad := authData(c.rpID, flagUP|flagUV, k.count, nil)
	k.count += k.step
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(slices.Concat(ad, h[:]))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return k.credential(t, map[string]any{
		"clientDataJSON":    b64url.EncodeToString(cd),
		"authenticatorData": b64url.EncodeToString(ad),
		"signature":         b64url.EncodeToString(sig),
		"userHandle":        b64url.EncodeToString(k.user),
	})
}

func (k *softKey) credential(t *testing.T, resp map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": b64url.EncodeToString(k.id), "rawId": b64url.EncodeToString(k.id),
		"type": "public-key", "authenticatorAttachment": "cross-platform", "clientExtensionResults": map[string]any{},
		"response": resp})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// send posts form to path with the CSRF token of the page at from and the Origin a browser sends.
func (w *keyWeb) send(b *idptest.Browser, from, path string, form url.Values) (*http.Response, string) {
	b.T.Helper()
	form.Set("csrf_token", b.Token(from))
	return b.Do(http.MethodPost, path, form, "Origin", w.origin)
}

// begin fetches a ceremony's options as the page's script does, with the token of the page at from
// (and the page's other fields, such as an invite, in form).
func (w *keyWeb) begin(t *testing.T, b *idptest.Browser, from, path string, form ...url.Values) ceremony {
	t.Helper()
	f := url.Values{}
	if len(form) > 0 {
		f = form[0]
	}
	resp, body := w.send(b, from, path, f)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("POST %s: %d %s\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := ceremony{typ: "webauthn.get", origin: w.origin}
	if err := json.Unmarshal([]byte(body), &c.opts); err != nil {
		t.Fatalf("POST %s: %v\n%s", path, err, body)
	}
	c.challenge, c.rpID = c.opts.PublicKey.Challenge, c.opts.PublicKey.RPID
	if path == keyRegisterBegin {
		c.typ, c.rpID = "webauthn.create", c.opts.PublicKey.RP.ID
		user, err := b64url.DecodeString(c.opts.PublicKey.User.ID)
		if err != nil {
			t.Fatalf("user.id %q: %v", c.opts.PublicKey.User.ID, err)
		}
		c.user = user
	}
	if c.challenge == "" || c.rpID != "localhost" {
		t.Fatalf("POST %s: challenge %q for RP %q", path, c.challenge, c.rpID)
	}
	return c
}

func (w *keyWeb) finishRegister(b *idptest.Browser, name, cred string) (*http.Response, string) {
	b.T.Helper()
	return w.send(b, idptest.MFASettings, keyRegister, url.Values{"name": {name}, "credential": {cred}})
}

func (w *keyWeb) finishLogin(b *idptest.Browser, next, cred string) (*http.Response, string) {
	b.T.Helper()
	return w.send(b, "/login/mfa", keyLogin, url.Values{"next": {next}, "credential": {cred}})
}

// register adds k to the signed-in user at /account/mfa, as the page does.
func (w *keyWeb) register(t *testing.T, b *idptest.Browser, k *softKey, name string) {
	t.Helper()
	resp, body := w.finishRegister(b, name, k.create(t, w.begin(t, b, idptest.MFASettings, keyRegisterBegin)))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("registering %q: %d %q", name, resp.StatusCode, idptest.Alert(body))
	}
}

// withKey gives user a new key, registered through the browser, and signs that browser out.
func (w *keyWeb) withKey(t *testing.T, user string) *softKey {
	t.Helper()
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login(user, idptest.GoodPassword)), "", "/")
	k := newSoftKey(t)
	w.register(t, b, k, "Security key")
	b.Post("/", "/logout", nil)
	return k
}

// passwordOnly signs user in with the password on a new browser, which is sent on to /login/mfa.
func (w *keyWeb) passwordOnly(t *testing.T, user string) *idptest.Browser {
	t.Helper()
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login(user, idptest.GoodPassword)), "", "/login/mfa")
	return b
}

// wantNoMFA fails unless b's session still has to show a second factor.
func wantNoMFA(t *testing.T, b *idptest.Browser) {
	t.Helper()
	if resp, _ := b.Get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa") {
		t.Fatalf("GET / after a refused key: %d to %q; want the second-factor page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// keys are user's security keys as stored.
func (w *keyWeb) keys(t *testing.T, user string) []*store.MFAFactor {
	t.Helper()
	ctx := context.Background()
	u, err := w.Store.GetUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := w.Store.ListMFAFactors(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.MFAFactor
	for _, f := range fs {
		if f.Kind == store.FactorWebAuthn {
			out = append(out, f)
		}
	}
	return out
}

// onlyKey is user's one security key.
func (w *keyWeb) onlyKey(t *testing.T, user string) *store.MFAFactor {
	t.Helper()
	keys := w.keys(t, user)
	if len(keys) != 1 {
		t.Fatalf("%s has %d keys; want one", user, len(keys))
	}
	return keys[0]
}

// signCount is the counter stored with a security key.
func signCount(t *testing.T, f *store.MFAFactor) uint32 {
	t.Helper()
	var cred webauthn.Credential
	if err := json.Unmarshal(f.Secret, &cred); err != nil {
		t.Fatalf("factor %d: %v", f.ID, err)
	}
	return cred.Authenticator.SignCount
}

// audits are the audit events of type typ, oldest first.
func (w *keyWeb) audits(t *testing.T, typ string) []*store.AuditEvent {
	t.Helper()
	events, err := w.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*store.AuditEvent
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wantLastAudit fails unless the newest event of type typ is user's, with result and detail k=v.
func (w *keyWeb) wantLastAudit(t *testing.T, typ, user, result, k, v string) {
	t.Helper()
	es := w.audits(t, typ)
	if len(es) == 0 {
		t.Fatalf("no %s audit event", typ)
	}
	if e := es[len(es)-1]; e.User != user || e.Result != result || e.Details[k] != v {
		t.Fatalf("last %s audit: %s %s %v; want %s %s with %s=%s", typ, e.User, e.Result, e.Details, user, result, k, v)
	}
}

// authnContext is the AuthnContextClassRef of b's assertion for account, checked as AWS would.
func (w *keyWeb) authnContext(t *testing.T, b *idptest.Browser, account string) string {
	t.Helper()
	p := idptest.SignInPost(t, b, "/aws/signin?account="+account)
	want := w.Expect(t, p.Action)
	want.EntityID = assertions.EntityID(w.origin)
	v := assertions.InspectAWS([]byte(p.Response), want)
	if !v.Accepted {
		t.Fatalf("AWS would refuse: %v", v.Problems)
	}
	return v.AuthnContext
}

func TestAKeyRegisteredAtAccountMFASignsInAsTheSecondFactor(t *testing.T) {
	w := newKeyWeb(t)
	b := w.Browser(t)
	idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
	if _, body := b.Get(idptest.MFASettings); !strings.Contains(body, `data-webauthn="register"`) {
		t.Fatalf("/account/mfa offers no security key:\n%s", body)
	}
	before := b.Cookie("rg_session")

	k := newSoftKey(t)
	c := w.begin(t, b, idptest.MFASettings, keyRegisterBegin)
	alice, err := w.Store.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.user, []byte(alice.Subject)) || len(c.opts.PublicKey.Exclude) != 0 ||
		!slices.Contains(c.opts.PublicKey.Params, param{Alg: -7}) {
		t.Fatalf("creation options: user %q (want the subject %q), exclude %v, params %v",
			c.user, alice.Subject, c.opts.PublicKey.Exclude, c.opts.PublicKey.Params)
	}
	resp, body := w.finishRegister(b, "YubiKey 5", k.create(t, c))
	if codes := idptest.RecoveryRE.FindAllStringSubmatch(body, -1); resp.StatusCode != http.StatusOK || len(codes) != 10 {
		t.Fatalf("registering: %d with %d recovery codes %q", resp.StatusCode, len(codes), idptest.Alert(body))
	}
	if b.Cookie("rg_session") == before {
		t.Error("the session kept its token when it gained a second factor")
	}
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("right after registering, AuthnContext %s; want MFA", got)
	}
	keys := w.keys(t, "alice")
	if len(keys) != 1 || keys[0].Name != "YubiKey 5" || !keys[0].Confirmed || !bytes.Equal(keys[0].CredentialID, k.id) ||
		signCount(t, keys[0]) != 0 {
		t.Fatalf("stored keys %+v", keys)
	}
	w.wantLastAudit(t, "mfa.enroll", "alice", "ok", "kind", "webauthn")

	b.Post("/", "/logout", nil)
	b = w.passwordOnly(t, "alice")
	if _, body := b.Get("/login/mfa"); !strings.Contains(body, `data-webauthn="login"`) {
		t.Fatalf("/login/mfa offers no security key:\n%s", body)
	}
	c = w.begin(t, b, "/login/mfa", keyLoginBegin)
	if a := c.opts.PublicKey.Allow; len(a) != 1 || a[0].ID != b64url.EncodeToString(k.id) {
		t.Fatalf("allowCredentials %v; want the one key", a)
	}
	w.Clock.Advance(30 * time.Second)
	const next = "/aws/signin?account=prod"
	resp, body = w.finishLogin(b, next, k.get(t, c))
	idptest.WantRedirect(t, resp, body, next)
	if got := w.authnContext(t, b, "prod"); got != assertions.ContextMFA {
		t.Errorf("after password and key, AuthnContext %s; want MFA", got)
	}
	if keys = w.keys(t, "alice"); len(keys) != 1 {
		t.Fatalf("%d keys after signing in", len(keys))
	}
	if got := signCount(t, keys[0]); got != 1 || !keys[0].LastUsedAt.Equal(w.Clock.Now()) {
		t.Errorf("after signing in: sign count %d, last used %v; want 1 and %v", got, keys[0].LastUsedAt, w.Clock.Now())
	}
	w.wantLastAudit(t, "mfa", "alice", "ok", "method", "webauthn")
	if got := w.AuditOf(t, "mfa"); len(got) != 2 {
		t.Errorf("mfa audit %q; want two successes: the registration's and the sign-in's", got)
	}
}

func TestALoginAnswerFromAKeyThatIsNotTheUsersIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(t *testing.T, w *keyWeb, alice *softKey) *softKey
	}{
		{"another user's registered key", func(t *testing.T, w *keyWeb, _ *softKey) *softKey { return w.withKey(t, "mallory") }},
		{"a key that was never registered", func(t *testing.T, w *keyWeb, alice *softKey) *softKey {
			k := newSoftKey(t)
			k.user = alice.user
			return k
		}},
		{"the user's credential ID signed by another private key", func(t *testing.T, w *keyWeb, alice *softKey) *softKey {
			k := newSoftKey(t)
			k.id, k.user, k.count = alice.id, alice.user, alice.count
			return k
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKeyWeb(t)
			alice := w.withKey(t, "alice")
			other := tc.key(t, w, alice)
			b := w.passwordOnly(t, "alice")
			c := w.begin(t, b, "/login/mfa", keyLoginBegin)
			resp, body := w.finishLogin(b, "/", other.get(t, c))
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(idptest.Alert(body), "not accepted") {
				t.Fatalf("got %d %q; want 401", resp.StatusCode, idptest.Alert(body))
			}
			w.wantLastAudit(t, "mfa", "alice", "refused", "method", "webauthn")
			wantNoMFA(t, b)
			if keys := w.keys(t, "alice"); len(keys) != 1 {
				t.Fatalf("alice has %d keys", len(keys))
			} else if got := signCount(t, keys[0]); got != 0 || !keys[0].LastUsedAt.IsZero() {
				t.Errorf("alice's key changed: count %d, last used %v", got, keys[0].LastUsedAt)
			}
			// Her own key still works on the same session.
			resp, body = w.finishLogin(b, "/", alice.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))
			idptest.WantRedirect(t, resp, body, "/")
		})
	}
}

func TestASecurityKeyChallengeIsAnsweredOnceAndOnlyByItsOwnCeremony(t *testing.T) {
	t.Run("a finished login replayed on another session", func(t *testing.T) {
		w := newKeyWeb(t)
		k := w.withKey(t, "alice")
		a := w.passwordOnly(t, "alice")
		answer := k.get(t, w.begin(t, a, "/login/mfa", keyLoginBegin))
		idptest.WantRedirect(t, first(w.finishLogin(a, "/", answer)), "", "/")

		b := w.passwordOnly(t, "alice")
		resp, body := w.finishLogin(b, "/", answer)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("replay with no challenge pending: %d %q", resp.StatusCode, idptest.Alert(body))
		}
		w.begin(t, b, "/login/mfa", keyLoginBegin)
		if resp, body := w.finishLogin(b, "/", answer); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("replay against a new challenge: %d %q", resp.StatusCode, idptest.Alert(body))
		}
		wantNoMFA(t, b)
		if got := strings.Join(w.AuditOf(t, "mfa"), "|"); got != "alice ok|alice ok|alice refused|alice refused" {
			t.Errorf("mfa audit %q", got)
		}
		if keys := w.keys(t, "alice"); len(keys) != 1 || signCount(t, keys[0]) != 1 {
			t.Errorf("%d keys; want one with sign count 1 after one good answer", len(keys))
		}
	})

	t.Run("a challenge is taken by its first answer, even a wrong one", func(t *testing.T) {
		w := newKeyWeb(t)
		k := w.withKey(t, "alice")
		b := w.passwordOnly(t, "alice")
		c := w.begin(t, b, "/login/mfa", keyLoginBegin)
		if resp, _ := w.finishLogin(b, "/", newSoftKey(t).get(t, c)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a stranger's answer: %d", resp.StatusCode)
		}
		if resp, body := w.finishLogin(b, "/", k.get(t, c)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("the right key on a spent challenge: %d %q", resp.StatusCode, idptest.Alert(body))
		}
		wantNoMFA(t, b)
	})

	t.Run("a challenge lasts five minutes", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			after time.Duration
			ok    bool
		}{{"answered a second before", 5*time.Minute - time.Second, true}, {"answered a second after", 5*time.Minute + time.Second, false}} {
			t.Run(tc.name, func(t *testing.T) {
				w := newKeyWeb(t)
				k := w.withKey(t, "alice")
				b := w.passwordOnly(t, "alice")
				c := w.begin(t, b, "/login/mfa", keyLoginBegin)
				w.Clock.Advance(tc.after)
				resp, body := w.finishLogin(b, "/", k.get(t, c))
				if tc.ok {
					idptest.WantRedirect(t, resp, body, "/")
				} else if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("got %d %q; want 401", resp.StatusCode, idptest.Alert(body))
				}
			})
		}
	})

	t.Run("a registration challenge cannot finish a login", func(t *testing.T) {
		w := newKeyWeb(t)
		b := w.Browser(t)
		idptest.WantRedirect(t, first(b.Login("mallory", idptest.GoodPassword)), "", "/")
		k := newSoftKey(t)
		answer := k.create(t, w.begin(t, b, idptest.MFASettings, keyRegisterBegin))
		resp, body := w.send(b, idptest.MFASettings, keyLogin, url.Values{"next": {"/"}, "credential": {answer}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a registration answer at the login step: %d %q", resp.StatusCode, idptest.Alert(body))
		}
		w.wantLastAudit(t, "mfa", "mallory", "refused", "method", "webauthn")
		// That spent the challenge: the registration it was for cannot finish either.
		resp, body = w.finishRegister(b, "Key", answer)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "expired or was used") {
			t.Fatalf("registering on a spent challenge: %d %q", resp.StatusCode, idptest.Alert(body))
		}
		if keys := w.keys(t, "mallory"); len(keys) != 0 {
			t.Fatalf("mallory has %d keys", len(keys))
		}
	})

	t.Run("a login challenge cannot register a key", func(t *testing.T) {
		w := newKeyWeb(t)
		k := w.withKey(t, "alice")
		b := w.passwordOnly(t, "alice")
		c := w.begin(t, b, "/login/mfa", keyLoginBegin)
		fresh := newSoftKey(t)
		resp, body := b.Do(http.MethodPost, keyRegister, url.Values{"csrf_token": {b.Token("/login/mfa")}, "name": {"Another"},
			"credential": {fresh.create(t, ceremony{typ: "webauthn.create", challenge: c.challenge, origin: w.origin,
				rpID: "localhost", user: k.user})}}, "Origin", w.origin)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/mfa") {
			t.Fatalf("registering on a password-only session: %d to %q %q", resp.StatusCode, resp.Header.Get("Location"), idptest.Alert(body))
		}
		if keys := w.keys(t, "alice"); len(keys) != 1 {
			t.Fatalf("alice has %d keys", len(keys))
		}
		idptest.WantRedirect(t, first(w.finishLogin(b, "/", k.get(t, c))), "", "/")
	})

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, w *keyWeb)
	}{
		{"an answer of type webauthn.get cannot finish a registration", func(t *testing.T, w *keyWeb) {
			b := w.Browser(t)
			idptest.WantRedirect(t, first(b.Login("mallory", idptest.GoodPassword)), "", "/")
			c := w.begin(t, b, idptest.MFASettings, keyRegisterBegin)
			c.typ = "webauthn.get"
			resp, body := w.finishRegister(b, "Key", newSoftKey(t).create(t, c))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("got %d %q; want 400", resp.StatusCode, idptest.Alert(body))
			}
			w.wantLastAudit(t, "mfa.enroll", "mallory", "refused", "kind", "webauthn")
			if keys := w.keys(t, "mallory"); len(keys) != 0 {
				t.Fatalf("mallory has %d keys", len(keys))
			}
		}},
		{"an answer of type webauthn.create cannot finish a login", func(t *testing.T, w *keyWeb) {
			k := w.withKey(t, "alice")
			b := w.passwordOnly(t, "alice")
			c := w.begin(t, b, "/login/mfa", keyLoginBegin)
			c.typ = "webauthn.create"
			resp, body := w.finishLogin(b, "/", k.get(t, c))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d %q; want 401", resp.StatusCode, idptest.Alert(body))
			}
			w.wantLastAudit(t, "mfa", "alice", "refused", "method", "webauthn")
			wantNoMFA(t, b)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newKeyWeb(t)) })
	}
}

func TestASecurityKeyAnswerForAnotherOriginOrRPIsRefused(t *testing.T) {
	for _, tamper := range []struct {
		name string
		bend func(*ceremony)
	}{
		{"another site's origin", func(c *ceremony) { c.origin = "https://evil.example" }},
		{"this host on another port", func(c *ceremony) { c.origin = "http://localhost:1" }},
		{"https instead of http", func(c *ceremony) { c.origin = strings.Replace(c.origin, "http:", "https:", 1) }},
		{"another RP ID's hash", func(c *ceremony) { c.rpID = "evil.example" }},
	} {
		t.Run("registration with "+tamper.name, func(t *testing.T) {
			w := newKeyWeb(t)
			b := w.Browser(t)
			idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
			c := w.begin(t, b, idptest.MFASettings, keyRegisterBegin)
			tamper.bend(&c)
			resp, body := w.finishRegister(b, "Key", newSoftKey(t).create(t, c))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "did not check out") {
				t.Fatalf("got %d %q; want 400", resp.StatusCode, idptest.Alert(body))
			}
			w.wantLastAudit(t, "mfa.enroll", "alice", "refused", "kind", "webauthn")
			if keys := w.keys(t, "alice"); len(keys) != 0 {
				t.Fatalf("alice has %d keys", len(keys))
			}
			if got := w.authnContext(t, b, "prod"); got != assertions.ContextPassword {
				t.Errorf("AuthnContext %s; want password", got)
			}
		})
		t.Run("login with "+tamper.name, func(t *testing.T) {
			w := newKeyWeb(t)
			k := w.withKey(t, "alice")
			b := w.passwordOnly(t, "alice")
			c := w.begin(t, b, "/login/mfa", keyLoginBegin)
			tamper.bend(&c)
			resp, body := w.finishLogin(b, "/", k.get(t, c))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d %q; want 401", resp.StatusCode, idptest.Alert(body))
			}
			w.wantLastAudit(t, "mfa", "alice", "refused", "method", "webauthn")
			wantNoMFA(t, b)
		})
	}
}

func TestASecurityKeySignCounterThatDoesNotGoUpIsRefusedAsAClone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		step     uint32 // 0: a key that keeps no counter
		stored   uint32 // the count after the first sign-in
		reported uint32
		ok       bool
	}{
		{"a count one above the stored one", 1, 10, 11, true},
		{"the stored count again", 1, 10, 10, false},
		{"a count below the stored one", 1, 10, 9, false},
		{"zero after a non-zero count", 1, 10, 0, false},
		{"zero from a key that keeps no counter", 0, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newKeyWeb(t)
			k := w.withKey(t, "alice")
			k.step = tc.step
			k.count = tc.stored
			b := w.passwordOnly(t, "alice")
			idptest.WantRedirect(t, first(w.finishLogin(b, "/", k.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))), "", "/")
			if got := signCount(t, w.onlyKey(t, "alice")); got != tc.stored {
				t.Fatalf("stored count %d after the first sign-in; want %d", got, tc.stored)
			}

			b = w.passwordOnly(t, "alice")
			k.count = tc.reported
			resp, body := w.finishLogin(b, "/", k.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))
			want := tc.stored
			if tc.ok {
				idptest.WantRedirect(t, resp, body, "/")
				w.wantLastAudit(t, "mfa", "alice", "ok", "method", "webauthn")
				want = tc.reported
			} else {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("got %d %q; want 401", resp.StatusCode, idptest.Alert(body))
				}
				w.wantLastAudit(t, "mfa", "alice", "clone_warning", "method", "webauthn")
				wantNoMFA(t, b)
			}
			if got := signCount(t, w.onlyKey(t, "alice")); got != want {
				t.Errorf("stored count %d; want %d", got, want)
			}
		})
	}
}

func TestRegisteringAKeyTwiceOrWithATooLongNameIsRefused(t *testing.T) {
	t.Run("the same key again for the same user", func(t *testing.T) {
		w := newKeyWeb(t)
		b := w.Browser(t)
		idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
		k := newSoftKey(t)
		w.register(t, b, k, "First")
		c := w.begin(t, b, idptest.MFASettings, keyRegisterBegin)
		if ex := c.opts.PublicKey.Exclude; len(ex) != 1 || ex[0].ID != b64url.EncodeToString(k.id) {
			t.Fatalf("excludeCredentials %v; want the registered key", ex)
		}
		resp, body := w.finishRegister(b, "Second", k.create(t, c))
		if resp.StatusCode != http.StatusConflict || !strings.Contains(idptest.Alert(body), "already registered") {
			t.Fatalf("got %d %q; want 409", resp.StatusCode, idptest.Alert(body))
		}
		if keys := w.keys(t, "alice"); len(keys) != 1 || keys[0].Name != "First" {
			t.Fatalf("stored keys %+v", keys)
		}
		if got := strings.Join(w.AuditOf(t, "mfa.enroll"), "|"); got != "alice ok|alice conflict" {
			t.Errorf("enroll audit %q", got)
		}
	})

	t.Run("another user's key", func(t *testing.T) {
		w := newKeyWeb(t)
		k := w.withKey(t, "alice")
		b := w.Browser(t)
		idptest.WantRedirect(t, first(b.Login("mallory", idptest.GoodPassword)), "", "/")
		before := b.Cookie("rg_session")
		resp, body := w.finishRegister(b, "Borrowed", k.create(t, w.begin(t, b, idptest.MFASettings, keyRegisterBegin)))
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("got %d %q; want 409", resp.StatusCode, idptest.Alert(body))
		}
		if keys := w.keys(t, "mallory"); len(keys) != 0 {
			t.Fatalf("mallory has %d keys", len(keys))
		}
		if keys := w.keys(t, "alice"); len(keys) != 1 {
			t.Fatalf("alice has %d keys", len(keys))
		}
		w.wantLastAudit(t, "mfa.enroll", "mallory", "conflict", "kind", "webauthn")
		if b.Cookie("rg_session") != before {
			t.Error("the refused registration still upgraded mallory's session")
		}
	})

	for _, tc := range []struct {
		name, given, stored string
	}{
		{"64 characters", strings.Repeat("k", 64), strings.Repeat("k", 64)},
		{"64 two-byte characters", strings.Repeat("é", 64), strings.Repeat("é", 64)},
		{"65 characters", strings.Repeat("k", 65), ""},
		{"a control character", "Key\x07", ""},
		{"a right-to-left override", "Key\u202egnp.exe", ""},
		{"no name", "  ", "Security key"},
	} {
		t.Run("a name of "+tc.name, func(t *testing.T) {
			w := newKeyWeb(t)
			b := w.Browser(t)
			idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
			resp, body := w.finishRegister(b, tc.given, newSoftKey(t).create(t, w.begin(t, b, idptest.MFASettings, keyRegisterBegin)))
			keys := w.keys(t, "alice")
			if tc.stored == "" {
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "1-64 characters") {
					t.Fatalf("got %d %q; want 400", resp.StatusCode, idptest.Alert(body))
				}
				w.wantLastAudit(t, "mfa.enroll", "alice", "invalid", "kind", "webauthn")
				if len(keys) != 0 {
					t.Fatalf("stored keys %+v", keys)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || len(keys) != 1 || keys[0].Name != tc.stored {
				t.Fatalf("got %d %q with keys %+v; want one named %q", resp.StatusCode, idptest.Alert(body), keys, tc.stored)
			}
		})
	}
}

func TestGarbageInTheSecurityKeyAnswerGetsA4xxPage(t *testing.T) {
	big := `{"id":"` + strings.Repeat("A", 70<<10) + `"}`
	shared := []struct {
		name, cred string
	}{
		{"nothing", ""},
		{"text that is not JSON", "garbage{"},
		{"a JSON array", "[1,2]"},
		{"JSON null", "null"},
		{"70 KiB of JSON", big},
		{"an object with only an id", `{"id":"x"}`},
		{"ids that are not base64url", `{"id":"!!!","rawId":"!!!","type":"public-key","response":{}}`},
		{"an id that is not the rawId", `{"id":"AAAA","rawId":"AAAB","type":"public-key","response":{}}`},
		{"fields of the wrong types", `{"id":1,"rawId":[],"type":{},"response":"x"}`},
	}
	type garbage struct {
		name string
		cred func(t *testing.T, k *softKey, c ceremony) string
	}
	var register, login []garbage
	for _, s := range shared {
		register = append(register, garbage{s.name, func(*testing.T, *softKey, ceremony) string { return s.cred }})
		login = append(login, garbage{s.name, func(*testing.T, *softKey, ceremony) string { return s.cred }})
	}
	register = append(register,
		garbage{"an attestation object that is not CBOR", func(t *testing.T, k *softKey, c ceremony) string {
			return k.credential(t, map[string]any{"clientDataJSON": b64url.EncodeToString(c.clientData()),
				"attestationObject": b64url.EncodeToString([]byte("not cbor at all"))})
		}},
		garbage{"authenticator data of five bytes", func(t *testing.T, k *softKey, c ceremony) string {
			obj := cborMap(cborText("fmt"), cborText("none"), cborText("attStmt"), cborMap(), cborText("authData"), cborBytes([]byte("short")))
			return k.credential(t, map[string]any{"clientDataJSON": b64url.EncodeToString(c.clientData()),
				"attestationObject": b64url.EncodeToString(obj)})
		}},
		garbage{"attested data cut off in the public key", func(t *testing.T, k *softKey, c ceremony) string {
			obj := k.attestationObject(t, c.rpID)
			return k.credential(t, map[string]any{"clientDataJSON": b64url.EncodeToString(c.clientData()),
				"attestationObject": b64url.EncodeToString(obj[:len(obj)-20])})
		}},
		garbage{"client data that is not JSON", func(t *testing.T, k *softKey, c ceremony) string {
			return k.credential(t, map[string]any{"clientDataJSON": b64url.EncodeToString([]byte("{{{")),
				"attestationObject": b64url.EncodeToString(k.attestationObject(t, c.rpID))})
		}},
	)
	login = append(login,
		garbage{"authenticator data of five bytes", func(t *testing.T, k *softKey, c ceremony) string {
			return k.credential(t, map[string]any{"clientDataJSON": b64url.EncodeToString(c.clientData()),
				"authenticatorData": b64url.EncodeToString([]byte("short")), "signature": b64url.EncodeToString([]byte("sig"))})
		}},
		garbage{"a signature that is not DER", func(t *testing.T, k *softKey, c ceremony) string {
			var answer map[string]any
			json.Unmarshal([]byte(k.get(t, c)), &answer)
			answer["response"].(map[string]any)["signature"] = b64url.EncodeToString([]byte("not DER"))
			b, _ := json.Marshal(answer)
			return string(b)
		}},
		garbage{"no signature", func(t *testing.T, k *softKey, c ceremony) string {
			var answer map[string]any
			json.Unmarshal([]byte(k.get(t, c)), &answer)
			delete(answer["response"].(map[string]any), "signature")
			b, _ := json.Marshal(answer)
			return string(b)
		}},
	)

	for _, g := range register {
		t.Run("registering "+g.name, func(t *testing.T) {
			w := newKeyWeb(t)
			b := w.Browser(t)
			idptest.WantRedirect(t, first(b.Login("alice", idptest.GoodPassword)), "", "/")
			c := w.begin(t, b, idptest.MFASettings, keyRegisterBegin)
			resp, body := w.finishRegister(b, "Key", g.cred(t, newSoftKey(t), c))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<html") {
				t.Fatalf("got %d %q; want a 400 page", resp.StatusCode, idptest.Alert(body))
			}
			if keys := w.keys(t, "alice"); len(keys) != 0 {
				t.Fatalf("stored keys %+v", keys)
			}
		})
	}
	for _, g := range login {
		t.Run("signing in with "+g.name, func(t *testing.T) {
			w := newKeyWeb(t)
			k := w.withKey(t, "alice")
			b := w.passwordOnly(t, "alice")
			c := w.begin(t, b, "/login/mfa", keyLoginBegin)
			resp, body := w.finishLogin(b, "/", g.cred(t, k, c))
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "<html") {
				t.Fatalf("got %d %q; want a 401 page", resp.StatusCode, idptest.Alert(body))
			}
			w.wantLastAudit(t, "mfa", "alice", "refused", "method", "webauthn")
			wantNoMFA(t, b)
		})
	}
}

// racingStore holds a security key's update, once armed, until a second one arrives or a second
// passes: two sign-ins then both read the stored counter before either writes it.
type racingStore struct {
	*sqlstore.Store
	mu    sync.Mutex
	want  int // updates still to arrive before the held ones go on
	going chan struct{}
}

func (s *racingStore) arm(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.want, s.going = n, make(chan struct{})
}

// hold waits, once armed, until the armed number of calls have arrived or a second passes.
func (s *racingStore) hold() {
	s.mu.Lock()
	going := s.going
	if going != nil {
		if s.want--; s.want == 0 {
			close(going)
		}
	}
	s.mu.Unlock()
	if going != nil {
		select {
		case <-going:
		case <-time.After(2 * time.Second):
		}
	}
}

func (s *racingStore) UpdateWebAuthnFactor(ctx context.Context, factorID int64, prev, secret []byte, now time.Time) error {
	s.hold()
	return s.Store.UpdateWebAuthnFactor(ctx, factorID, prev, secret, now)
}

// AddFirstFactor is held as UpdateWebAuthnFactor is: two first enrolments then both pass the
// handlers' checks before either reaches the store.
func (s *racingStore) AddFirstFactor(ctx context.Context, f *store.MFAFactor, gate store.FirstFactor) error {
	s.hold()
	return s.Store.AddFirstFactor(ctx, f, gate)
}

// newRacingKeyWeb is a keyWeb for alice over a racingStore.
func newRacingKeyWeb(t *testing.T) (*keyWeb, *racingStore) {
	t.Helper()
	st := &racingStore{Store: idptest.NewStore(t)}
	base := &idptest.Web{Store: st.Store, Clock: idptest.NewClock(time.Now().UTC().Truncate(time.Second)), Hasher: idptest.NewHasher()}
	var h http.Handler
	base.Srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { h.ServeHTTP(rw, r) }))
	t.Cleanup(base.Srv.Close)
	origin := strings.Replace(base.Srv.URL, "://127.0.0.1:", "://localhost:", 1)
	h = idp.New(idp.Config{BaseURL: origin, Hasher: base.Hasher, Now: base.Clock.Now, Secrets: idptest.NewKEK(t)}, st, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
	base.BaseURL = origin // a browser is sent there, and the cookies are named after it
	base.AddUser(t, "alice", idptest.GoodPassword)
	return &keyWeb{AWSWeb: &idptest.AWSWeb{Web: base}, origin: origin}, st
}

// Copies of a key that answer at once with the same counter are clones however the requests
// interleave, as two uses of one TOTP step are.
func TestTwoSignInsWithTheSameSecurityKeyCounterCannotBothPass(t *testing.T) {
	w, st := newRacingKeyWeb(t)
	w.OpenWindow(t, "", time.Hour)

	k := w.withKey(t, "alice")
	k.count = 10
	b := w.passwordOnly(t, "alice")
	idptest.WantRedirect(t, first(w.finishLogin(b, "/", k.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))), "", "/")

	// Two copies of the key, each at count 10, answer two sessions' challenges with 11.
	var forms []url.Values
	var bs []*idptest.Browser
	for range 2 {
		b := w.passwordOnly(t, "alice")
		k.count = 11
		answer := k.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin))
		forms = append(forms, url.Values{"csrf_token": {b.Token("/login/mfa")}, "next": {"/"}, "credential": {answer}})
		bs = append(bs, b)
	}
	st.arm(len(bs))
	codes := make([]int, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			resp, _ := b.Do(http.MethodPost, keyLogin, forms[i], "Origin", w.origin)
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	slices.Sort(codes)
	if codes[0] != http.StatusSeeOther || codes[1] != http.StatusUnauthorized {
		t.Errorf("statuses %v; want one 303 and one 401", codes)
	}
	// The two racing requests may be audited in either order.
	got := w.AuditOf(t, "mfa")
	slices.Sort(got)
	if strings.Join(got, "|") != "alice clone_warning|alice ok|alice ok|alice ok" {
		t.Errorf("mfa audit %q", got)
	}
}

// Someone who has only the password can burn the code counter, but not the real user's key.
func TestWrongCodesDoNotLockOutTheUsersSecurityKey(t *testing.T) {
	w := newKeyWeb(t)
	k := w.withKey(t, "alice")
	attacker := w.passwordOnly(t, "alice")
	for range 6 {
		attacker.Code("000000")
	}
	if resp, _ := attacker.Code("000000"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the codes were not throttled: %d", resp.StatusCode)
	}
	b := w.passwordOnly(t, "alice")
	resp, body := w.finishLogin(b, "/", k.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))
	idptest.WantRedirect(t, resp, body, "/")
}

// A removed key, perhaps a lost one, is worth nothing in sessions that used it, and its name
// cannot be the authenticator app's.
func TestRemovingAKeyEndsTheUsersOtherSessions(t *testing.T) {
	w := newKeyWeb(t)
	k := w.withKey(t, "alice")
	elsewhere := w.passwordOnly(t, "alice")
	idptest.WantRedirect(t, first(w.finishLogin(elsewhere, "/", k.get(t, w.begin(t, elsewhere, "/login/mfa", keyLoginBegin)))), "", "/")
	here := w.passwordOnly(t, "alice")
	idptest.WantRedirect(t, first(w.finishLogin(here, "/", k.get(t, w.begin(t, here, "/login/mfa", keyLoginBegin)))), "", "/")

	resp, body := w.finishRegister(here, "authenticator APP", newSoftKey(t).create(t, w.begin(t, here, idptest.MFASettings, keyRegisterBegin)))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(idptest.Alert(body), "kept for the authenticator app") {
		t.Errorf("a key named like the app: %d %q", resp.StatusCode, idptest.Alert(body))
	}
	_, body = here.Get(idptest.MFASettings)
	id := regexp.MustCompile(`name="factor" value="(\d+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("no key on the page:\n%s", body)
	}
	resp, body = here.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {id[1]}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	if elsewhere.SignedIn() {
		t.Error("another session that used the removed key is still signed in")
	}
	if !here.SignedIn() {
		t.Error("the browser that removed the key was signed out")
	}
	if got := w.AuditOf(t, "mfa.remove"); len(got) != 1 || got[0] != "alice ok" {
		t.Errorf("audit %q", got)
	}
}

// A key replaced by a key: alice signs in with her old key, removes it and registers a new one
// within minutes, with no window and no invite; a session whose second factor is older may not.
func TestASessionThatJustUsedItsKeyReplacesItWithoutAnInvite(t *testing.T) {
	w := newKeyWeb(t)
	old := w.withKey(t, "alice")
	if err := w.Store.CloseEnrolWindow(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	b := w.passwordOnly(t, "alice")
	idptest.WantRedirect(t, first(w.finishLogin(b, "/", old.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))), "", "/")
	remove := func() {
		t.Helper()
		resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {strconv.FormatInt(w.onlyKey(t, "alice").ID, 10)}})
		idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	}
	remove()
	w.register(t, b, newSoftKey(t), "New key")
	if k := w.onlyKey(t, "alice"); k.Name != "New key" {
		t.Fatalf("the key after replacing: %q", k.Name)
	}
	remove()
	w.Clock.Advance(11 * time.Minute)
	if resp, body := w.send(b, "/", keyRegisterBegin, url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a stale session without factors begins registering a key: %d %s", resp.StatusCode, body)
	}
}

// Device cookies are bound to the oldest second factor: removing it ends them, except for the
// browser that removed it, which gets a new one.
func TestRemovingTheOldestFactorEndsOtherDeviceCookiesButNotThisBrowsers(t *testing.T) {
	w := newKeyWeb(t)
	old := w.withKey(t, "alice")
	b := w.passwordOnly(t, "alice")
	idptest.WantRedirect(t, first(w.finishLogin(b, "/", old.get(t, w.begin(t, b, "/login/mfa", keyLoginBegin)))), "", "/")
	w.register(t, b, newSoftKey(t), "Second key")
	before := b.Cookie("rg_device")
	var oldID int64
	for _, k := range w.keys(t, "alice") {
		if k.Name == "Security key" {
			oldID = k.ID
		}
	}
	resp, body := b.Post(idptest.MFASettings, idptest.MFASettings+"/remove", url.Values{"factor": {strconv.FormatInt(oldID, 10)}})
	idptest.WantRedirect(t, resp, body, idptest.MFASettings)
	after := b.Cookie("rg_device")
	if before == "" || after == before {
		t.Fatalf("device cookie %q after removing the oldest factor", after)
	}
	for range 12 {
		w.Browser(t).Login("alice", "wrong guess")
	}
	kept := w.Browser(t)
	kept.SetCookie("rg_device", after)
	idptest.WantRedirect(t, first(kept.Login("alice", idptest.GoodPassword)), "", "/login/mfa")
	ended := w.Browser(t)
	ended.SetCookie("rg_device", before)
	if resp, _ := ended.Login("alice", idptest.GoodPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a device cookie from before the oldest factor was removed: %d, want 429", resp.StatusCode)
	}
}
