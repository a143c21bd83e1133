package idp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/store"
)

// maxCredentialJSON bounds a WebAuthn response from the browser; real ones are a few KiB.
const maxCredentialJSON = 64 << 10

// newWebAuthn is the relying party of the base URL: its host is the RP ID, its origin the only
// origin accepted. Without a base URL whose host is a name (RP IDs cannot be IP addresses) there
// are no security keys, and it says why.
func newWebAuthn(baseURL string) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(baseURL)
	if baseURL == "" || err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("security keys need a base URL (--base-url)")
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, fmt.Errorf("security keys need a base URL whose host is a name, not the IP address %s", u.Hostname())
	}
	return webauthn.New(&webauthn.Config{
		RPID:                  u.Hostname(),
		RPDisplayName:         "Rolegate",
		RPOrigins:             []string{normalOrigin(baseURL)},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: challengeTTL, TimeoutUVD: challengeTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: challengeTTL, TimeoutUVD: challengeTTL},
		},
	})
}

// waUser is a user as the WebAuthn library sees them. The user handle is the persistent subject:
// random, opaque, and never a name or an address.
type waUser struct {
	u     *store.User
	creds []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte { return []byte(w.u.Subject) }
func (w *waUser) WebAuthnName() string {
	return w.u.Name
}
func (w *waUser) WebAuthnDisplayName() string {
	if w.u.DisplayName != "" {
		return w.u.DisplayName
	}
	return w.u.Name
}
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// webAuthnUser is u with its registered security keys; a stored credential that does not decode
// is logged and left out.
func (s *Server) webAuthnUser(c *gin.Context, u *store.User) (*waUser, error) {
	fs, err := s.confirmedFactors(c, u)
	if err != nil {
		return nil, err
	}
	wu := &waUser{u: u}
	for _, f := range fs {
		if f.Kind != store.FactorWebAuthn {
			continue
		}
		var cred webauthn.Credential
		if err := json.Unmarshal(f.Secret, &cred); err != nil {
			s.log.Error("webauthn: a stored credential does not decode", "user", u.Name, "factor", f.ID, "err", err)
			continue
		}
		wu.creds = append(wu.creds, cred)
	}
	return wu, nil
}

// challenge is what the server keeps between a ceremony's two requests, with the session.
type challenge struct {
	Purpose string               `json:"purpose"` // "login" or "register": one cannot finish the other
	Session webauthn.SessionData `json:"session"`
}

func (s *Server) saveChallenge(c *gin.Context, w *webSession, purpose string, sd *webauthn.SessionData) error {
	b, err := json.Marshal(challenge{Purpose: purpose, Session: *sd})
	if err != nil {
		return fmt.Errorf("idp: encoding a challenge: %w", err)
	}
	if err := s.store.SetSessionChallenge(c.Request.Context(), w.sess.TokenHash, b, s.now().Add(challengeTTL)); err != nil {
		return fmt.Errorf("idp: keeping a challenge: %w", err)
	}
	return nil
}

// takeChallenge returns the session's challenge for purpose and forgets it, so each is answered
// once; an Invalid error when there is none, it expired, or it was for the other ceremony.
func (s *Server) takeChallenge(c *gin.Context, w *webSession, purpose string) (*webauthn.SessionData, error) {
	b, err := s.store.TakeSessionChallenge(c.Request.Context(), w.sess.TokenHash, s.now())
	if store.IsCode(err, store.NotFound) {
		return nil, store.Errorf(store.Invalid, "the security key's request expired or was used; try again")
	} else if err != nil {
		return nil, fmt.Errorf("idp: reading a challenge: %w", err)
	}
	var ch challenge
	if err := json.Unmarshal(b, &ch); err != nil || ch.Purpose != purpose {
		return nil, store.Errorf(store.Invalid, "the security key's request expired or was used; try again")
	}
	return &ch.Session, nil
}

// beginJSON guards a ceremony's first step, which the page's script fetches: signed in, same
// origin, the session's CSRF token, and security keys available. It answers with JSON otherwise.
func (s *Server) beginJSON(c *gin.Context) (*webSession, bool) {
	w, err := s.signedIn(c)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	if err := c.Request.ParseForm(); err != nil {
		s.fail(c, store.Errorf(store.Invalid, "the form is too large or malformed"))
		return nil, false
	}
	if !s.sameOrigin(c) || !s.tokenMatches(c) {
		s.fail(c, store.Errorf(store.Forbidden, msgCSRF))
		return nil, false
	}
	if s.wa == nil {
		s.fail(c, store.Errorf(store.NotFound, "security keys are not available: %v", s.waErr))
		return nil, false
	}
	return w, true
}

func (s *Server) webAuthnLoginBegin(c *gin.Context) {
	w, ok := s.beginJSON(c)
	if !ok {
		return
	}
	if s.recentMFA(w.sess) {
		s.fail(c, store.Errorf(store.Conflict, "this session has used a second factor already"))
		return
	}
	wu, err := s.webAuthnUser(c, w.user)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(wu.creds) == 0 {
		s.fail(c, store.Errorf(store.NotFound, "you have no security key"))
		return
	}
	opts, sd, err := s.wa.BeginLogin(wu)
	s.answerBegin(c, w, "login", opts, sd, err)
}

// answerBegin finishes a ceremony's first step: it keeps the challenge with the session and sends
// the browser the options, or the error of beginning.
func (s *Server) answerBegin(c *gin.Context, w *webSession, purpose string, opts any, sd *webauthn.SessionData, err error) {
	if err != nil {
		s.fail(c, fmt.Errorf("idp: beginning a WebAuthn %s: %w", purpose, err))
		return
	}
	if err := s.saveChallenge(c, w, purpose, sd); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, opts)
}

func (s *Server) webAuthnLoginFinish(c *gin.Context) {
	w, next, ok := s.secondStep(c)
	if !ok {
		return
	}
	u, form := w.user, c.Request.PostForm
	if s.wa == nil {
		s.failPage(c, store.Errorf(store.NotFound, "security keys are not available: %v", s.waErr))
		return
	}
	again := func(status int, msg string) { s.mfaPage(c, status, u, next, msg) }
	// No throttle here: a key's signature cannot be guessed, and wrong codes typed by someone who
	// has only the password must not lock the real user's key out.
	refuse := func(result string, err error) {
		s.log.Info("webauthn: sign-in refused", "request_id", c.GetString(ctxRequestID), "user", u.Name, "err", err)
		s.auditWith(c, "mfa", u.Name, result, map[string]string{"method": methodWebAuthn})
		s.signIn(authn.SignInMFAFailed)
		again(http.StatusUnauthorized, "The security key was not accepted. Try again, or use another factor.")
	}
	sd, err := s.takeChallenge(c, w, "login")
	if err != nil {
		if store.IsCode(err, store.Invalid) {
			refuse(resultRefused, err)
		} else {
			s.failPage(c, err)
		}
		return
	}
	raw := form.Get("credential")
	if !jsonBody(raw, maxCredentialJSON) {
		refuse(resultRefused, fmt.Errorf("the credential is not a JSON object of at most %d bytes", maxCredentialJSON))
		return
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(raw))
	if err != nil {
		refuse(resultRefused, err)
		return
	}
	wu, err := s.webAuthnUser(c, u)
	if err != nil {
		s.failPage(c, err)
		return
	}
	cred, err := s.wa.ValidateLogin(wu, *sd, parsed)
	if err != nil {
		refuse(resultRefused, err)
		return
	}
	if cred.Authenticator.CloneWarning {
		// The signature counter went backwards: two copies of this key may exist.
		refuse("clone_warning", fmt.Errorf("the sign counter did not increase"))
		return
	}
	fs, err := s.confirmedFactors(c, u)
	if err != nil {
		s.failPage(c, err)
		return
	}
	i := slices.IndexFunc(fs, func(f *store.MFAFactor) bool {
		return f.Kind == store.FactorWebAuthn && bytes.Equal(f.CredentialID, cred.ID)
	})
	if i < 0 {
		refuse(resultRefused, fmt.Errorf("no factor holds the credential that signed"))
		return
	}
	if clone, err := s.saveCredential(c, u, fs[i], cred); err != nil {
		s.failPage(c, err)
		return
	} else if clone {
		refuse("clone_warning", fmt.Errorf("another sign-in with this key reported the same or a higher counter"))
		return
	}
	s.passMFA(c, w, methodWebAuthn, next)
}

// saveCredential stores a key's state after a sign-in, unless another sign-in with the same key
// stored a counter at least as high meanwhile: then this answer came from a copy of the key, and
// it reports clone. Keys that keep no counter (always 0) never look like clones.
func (s *Server) saveCredential(c *gin.Context, u *store.User, f *store.MFAFactor, cred *webauthn.Credential) (clone bool, err error) {
	ctx := c.Request.Context()
	b, err := json.Marshal(cred)
	if err != nil {
		return false, fmt.Errorf("idp: encoding a credential: %w", err)
	}
	prev := f.Secret
	for range 3 {
		err := s.store.UpdateWebAuthnFactor(ctx, f.ID, prev, b, s.now())
		if !store.IsCode(err, store.Conflict) {
			return false, err
		}
		all, err := s.store.ListMFAFactors(ctx, u.ID)
		if err != nil {
			return false, fmt.Errorf("idp: rereading a security key: %w", err)
		}
		i := slices.IndexFunc(all, func(x *store.MFAFactor) bool { return x.ID == f.ID })
		if i < 0 {
			return false, store.Errorf(store.NotFound, "that security key was removed meanwhile")
		}
		var stored webauthn.Credential
		if err := json.Unmarshal(all[i].Secret, &stored); err != nil {
			return false, fmt.Errorf("idp: decoding a security key: %w", err)
		}
		got, had := cred.Authenticator.SignCount, stored.Authenticator.SignCount
		if got <= had && (got != 0 || had != 0) {
			return true, nil
		}
		prev = all[i].Secret
	}
	return false, fmt.Errorf("idp: a security key's state kept changing while it was saved")
}

func (s *Server) webAuthnRegisterBegin(c *gin.Context) {
	w, ok := s.beginJSON(c)
	if !ok {
		return
	}
	fs, err := s.confirmedFactors(c, w.user)
	if err != nil {
		s.fail(c, err)
		return
	}
	switch {
	case len(fs) > 0 && !s.recentMFA(w.sess):
		s.fail(c, store.Errorf(store.Forbidden, "your second factor was used too long ago to add another: reload the page and use it again"))
		return
	case len(fs) == 0 && c.Request.PostForm.Get("invite") == "" && !s.recentMFA(w.sess):
		// The invite is checked, and counted when wrong, with the answer; a window is checked here.
		if _, err := s.store.EnrolWindowFor(c.Request.Context(), w.user.ID, s.now()); store.IsCode(err, store.NotFound) {
			s.fail(c, store.Errorf(store.Forbidden, "%s", whomToAsk(w.user.Name)))
			return
		} else if err != nil {
			s.fail(c, err)
			return
		}
	}
	wu, err := s.webAuthnUser(c, w.user)
	if err != nil {
		s.fail(c, err)
		return
	}
	var exclude []protocol.CredentialDescriptor
	for _, cr := range wu.creds {
		exclude = append(exclude, cr.Descriptor())
	}
	opts, sd, err := s.wa.BeginRegistration(wu, webauthn.WithExclusions(exclude),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()))
	s.answerBegin(c, w, "register", opts, sd, err)
}

func (s *Server) webAuthnRegisterFinish(c *gin.Context) {
	m, _, next, ok := s.managePost(c)
	if !ok {
		return
	}
	w, u, form := m.webSession, m.user, c.Request.PostForm
	if s.wa == nil {
		s.failPage(c, store.Errorf(store.NotFound, "security keys are not available: %v", s.waErr))
		return
	}
	again := func(status int, result, msg string) {
		s.auditWith(c, "mfa.enroll", u.Name, result, map[string]string{"kind": string(store.FactorWebAuthn)})
		s.settingsPage(c, status, m, next, msg)
	}
	name, err := factorName(form.Get("name"))
	if err != nil {
		again(http.StatusBadRequest, "invalid", text.Sentence(store.ErrorMessage(err)))
		return
	}
	sd, err := s.takeChallenge(c, w, "register")
	if err != nil {
		if !store.IsCode(err, store.Invalid) {
			s.failPage(c, err)
			return
		}
		again(http.StatusBadRequest, resultRefused, text.Sentence(store.ErrorMessage(err)))
		return
	}
	raw := form.Get("credential")
	if !jsonBody(raw, maxCredentialJSON) {
		again(http.StatusBadRequest, resultRefused, "The browser sent no usable answer from the security key. Try again.")
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(raw))
	if err != nil {
		again(http.StatusBadRequest, resultRefused, "The browser sent no usable answer from the security key. Try again.")
		return
	}
	wu, err := s.webAuthnUser(c, u)
	if err != nil {
		s.failPage(c, err)
		return
	}
	cred, err := s.wa.CreateCredential(wu, *sd, parsed)
	if err != nil {
		s.log.Info("webauthn: registration refused", "request_id", c.GetString(ctxRequestID), "user", u.Name, "err", err)
		again(http.StatusBadRequest, resultRefused, "The security key's answer did not check out. Try again.")
		return
	}
	b, err := json.Marshal(cred)
	if err != nil {
		s.failPage(c, err)
		return
	}
	f := &store.MFAFactor{UserID: u.ID, Kind: store.FactorWebAuthn, Name: name, Secret: b, CredentialID: cred.ID, Confirmed: true}
	if m.pass != nil {
		err = s.store.AddFirstFactor(c.Request.Context(), f, m.pass.gate)
	} else {
		err = s.store.CreateMFAFactor(c.Request.Context(), f)
	}
	if s.firstFactorRefused(c, m, next, err) {
		return
	} else if store.IsCode(err, store.Conflict) || store.IsCode(err, store.Invalid) {
		again(http.StatusConflict, "conflict", text.Sentence(strings.TrimSuffix(store.ErrorMessage(err), ".")))
		return
	} else if err != nil {
		s.failPage(c, err)
		return
	}
	s.auditWith(c, "mfa.enroll", u.Name, resultOK, enrolDetails(m, store.FactorWebAuthn, name))
	s.enrolled(c, m, methodWebAuthn, next)
}
