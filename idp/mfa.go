package idp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/authn"
	"rolegate/idp/mfa"
	"rolegate/store"
)

// The second factor: /login/mfa asks for it after the password; /account/mfa manages factors.
const (
	mfaPath         = "/login/mfa"
	mfaSettingsPath = "/account/mfa"

	maxCodeBytes = authn.MaxCodeBytes
)

// Methods a session records in AuthMethods, in the order they were used.
const (
	methodPassword = authn.MethodPassword
	methodTOTP     = authn.MethodTOTP
	methodWebAuthn = authn.MethodWebAuthn
	methodRecovery = authn.MethodRecovery
)

// hasMFA reports whether the session used a second factor.
func hasMFA(sess *store.Session) bool {
	for _, m := range strings.Split(sess.AuthMethods, ",") {
		if m == methodTOTP || m == methodWebAuthn || m == methodRecovery {
			return true
		}
	}
	return false
}

func (s *Server) mfaRoutes(r *gin.Engine) {
	r.GET(mfaPath, s.mfaForm)
	r.POST(mfaPath, s.limitAnonymous(s.tooManyPage), s.mfaVerify)
	r.POST(mfaPath+"/webauthn/begin", s.limitAnonymous(s.tooManyJSON), s.webAuthnLoginBegin)
	r.POST(mfaPath+"/webauthn", s.limitAnonymous(s.tooManyPage), s.webAuthnLoginFinish)
	r.GET(mfaSettingsPath, s.MFASettings)
	r.POST(mfaSettingsPath+"/totp", s.totpStart)
	r.POST(mfaSettingsPath+"/totp/confirm", s.totpConfirm)
	r.POST(mfaSettingsPath+"/webauthn/begin", s.webAuthnRegisterBegin)
	r.POST(mfaSettingsPath+"/webauthn", s.webAuthnRegisterFinish)
	r.POST(mfaSettingsPath+"/remove", s.removeFactor)
	r.POST(mfaSettingsPath+"/recovery", s.newRecoveryCodes)
}

const ctxFactors = "rg.factors"

// confirmedFactors returns the user's factors that can sign in, read once per request.
func (s *Server) confirmedFactors(c *gin.Context, u *store.User) ([]*store.MFAFactor, error) {
	if v, ok := c.Get(ctxFactors); ok {
		return v.([]*store.MFAFactor), nil
	}
	all, err := s.store.ListMFAFactors(c.Request.Context(), u.ID)
	if err != nil {
		return nil, fmt.Errorf("idp: reading factors: %w", err)
	}
	var out []*store.MFAFactor
	for _, f := range all {
		if f.Confirmed {
			out = append(out, f)
		}
	}
	c.Set(ctxFactors, out)
	return out, nil
}

func forgetFactors(c *gin.Context) { c.Set(ctxFactors, nil); delete(c.Keys, ctxFactors) }

func factorOf(fs []*store.MFAFactor, kind store.FactorKind) *store.MFAFactor {
	for _, f := range fs {
		if f.Kind == kind {
			return f
		}
	}
	return nil
}

// needsMFA reports whether a session without a second factor must get one before anything else:
// when the user has a factor, or when every sign-in needs one.
func (s *Server) needsMFA(c *gin.Context, u *store.User, sess *store.Session) (bool, error) {
	if hasMFA(sess) {
		return false, nil
	}
	return s.mfaDue(c, u)
}

// stepUp sends the browser to the second-factor page, which comes back here afterwards.
func (s *Server) stepUp(c *gin.Context) {
	next := "/"
	if c.Request.Method == http.MethodGet {
		next = c.Request.URL.RequestURI()
	}
	c.Redirect(http.StatusSeeOther, withNext(mfaPath, next))
	c.Abort()
}

// withNext is path, going on to next afterwards.
func withNext(path, next string) string {
	if next = localNext(next); next == "/" {
		return path
	}
	return path + "?" + url.Values{"next": {next}}.Encode()
}

// managePost guards a POST on /account/mfa: the form's token, then requireManage for a change.
// It returns the manager, the user's confirmed factors and where to go afterwards.
func (s *Server) managePost(c *gin.Context) (m *manager, fs []*store.MFAFactor, next string, ok bool) {
	if _, ok := s.requireSession(c); !ok || !s.checkCSRF(c) {
		return nil, nil, "", false
	}
	if m, ok = s.requireManage(c, true); !ok {
		return nil, nil, "", false
	}
	fs, err := s.confirmedFactors(c, m.user)
	if err != nil {
		s.failPage(c, err)
		return nil, nil, "", false
	}
	return m, fs, localNext(c.Request.PostForm.Get("next")), true
}

// mfaPage is what /login/mfa shows.
func (s *Server) mfaPage(c *gin.Context, status int, u *store.User, next, msg string) {
	fs, err := s.confirmedFactors(c, u)
	if err != nil {
		s.failPage(c, err)
		return
	}
	s.page(c, status, "mfa", gin.H{"Title": "Second factor", "Next": next, "Error": msg,
		"HasTOTP": factorOf(fs, store.FactorTOTP) != nil, "HasWebAuthn": s.wa != nil && factorOf(fs, store.FactorWebAuthn) != nil})
}

func (s *Server) mfaForm(c *gin.Context) {
	w, ok := s.requireSession(c)
	if !ok {
		return
	}
	next := localNext(c.Query("next"))
	if s.recentMFA(w.sess) {
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	fs, err := s.confirmedFactors(c, w.user)
	if err != nil {
		s.failPage(c, err)
		return
	}
	if len(fs) == 0 {
		// Nothing to ask for: set one up first. Enrolling counts as the second factor. A next that is
		// the settings page already (an invite's link) goes there as it is, its code on it.
		if next != mfaSettingsPath && !strings.HasPrefix(next, mfaSettingsPath+"?") {
			next = withNext(mfaSettingsPath, next)
		}
		c.Redirect(http.StatusSeeOther, next)
		return
	}
	s.mfaPage(c, http.StatusOK, w.user, next, "")
}

// Results of a second factor, as the audit log records them.
const (
	resultWrongCode = "wrong_code"
	resultReplayed  = authn.ResultReplayed
	resultRefused   = authn.ResultRefused
)

// secondStep guards a POST that answers /login/mfa: a password session, the form's token, and no
// recent second factor (with one, the browser just goes on to next).
func (s *Server) secondStep(c *gin.Context) (w *webSession, next string, ok bool) {
	w, ok = s.requireSession(c)
	if !ok || !s.checkCSRF(c) {
		return nil, "", false
	}
	next = localNext(c.Request.PostForm.Get("next"))
	if s.recentMFA(w.sess) {
		c.Redirect(http.StatusSeeOther, next)
		return nil, "", false
	}
	return w, next, true
}

func (s *Server) mfaVerify(c *gin.Context) {
	w, next, ok := s.secondStep(c)
	if !ok {
		return
	}
	u, form := w.user, c.Request.PostForm
	if len(form.Get("code")) > maxCodeBytes {
		s.failPage(c, store.Errorf(store.Invalid, "the code is too long"))
		return
	}
	code := strings.Join(strings.Fields(form.Get("code")), "")
	if code == "" {
		s.mfaPage(c, http.StatusBadRequest, u, next, "Enter the code from your authenticator app, or a recovery code.")
		return
	}
	method, result, wait, err := s.checkSecondFactor(c, u, code, true, nil)
	switch {
	case err != nil:
		s.failPage(c, err)
		return
	case wait > 0:
		s.signIn(authn.SignInThrottled)
		s.mfaPage(c, http.StatusTooManyRequests, u, next, tryLater(c, wait))
		return
	case result == resultReplayed:
		s.signIn(authn.SignInMFAFailed)
		s.mfaPage(c, http.StatusUnauthorized, u, next, "That code was used already. Wait for your app to show the next one.")
		return
	case result != resultOK:
		s.signIn(authn.SignInMFAFailed)
		s.mfaPage(c, http.StatusUnauthorized, u, next, "That code is not right. Check that your device's clock is correct, or use a recovery code.")
		return
	}
	s.finishMFA(c, w, method, next)
}

// passMFA finishes a second factor checked here (a security key): the success audited, then
// finishMFA.
func (s *Server) passMFA(c *gin.Context, w *webSession, method, next string) {
	s.auditWith(c, "mfa", w.user.Name, resultOK, map[string]string{"method": method})
	s.finishMFA(c, w, method, next)
}

// finishMFA upgrades the session of a passed second factor under a new token, trusts the browser
// as the user's device, and sends it on.
func (s *Server) finishMFA(c *gin.Context, w *webSession, method, next string) {
	if err := s.elevate(c, w, method); err != nil {
		s.failPage(c, err)
		return
	}
	s.signIn(authn.SignInOK)
	s.trustDevice(c, w.user)
	c.Redirect(http.StatusSeeOther, s.carryLink(c, next))
}

// checkCode checks a TOTP code or a recovery code, and spends it when it is good. It returns the
// method the code belongs to and resultOK, resultWrongCode or resultReplayed.
func (s *Server) checkCode(c *gin.Context, u *store.User, code string) (method, result string, err error) {
	ctx := c.Request.Context()
	if mfa.WellFormedCode(code) {
		fs, err := s.confirmedFactors(c, u)
		if err != nil {
			return methodTOTP, "", err
		}
		f := factorOf(fs, store.FactorTOTP)
		if f == nil {
			return methodTOTP, resultWrongCode, nil
		}
		result, _ := s.useTOTP(c, u, f, code, nil)
		return methodTOTP, result, nil
	}
	hash, ok := mfa.RecoveryHash(code)
	if !ok {
		return methodTOTP, resultWrongCode, nil
	}
	left, err := s.store.UseRecoveryCode(ctx, u.ID, hash, s.now())
	if store.IsCode(err, store.NotFound) {
		return methodRecovery, resultWrongCode, nil
	} else if err != nil {
		return methodRecovery, "", fmt.Errorf("idp: spending a recovery code: %w", err)
	}
	s.auditWith(c, "mfa.recovery", u.Name, resultOK, map[string]string{"remaining": strconv.Itoa(left)})
	return methodRecovery, resultOK, nil
}

// useTOTP checks code against factor f and spends its time step: a step is accepted once, so a
// code seen over someone's shoulder is worth nothing once used. With first, f becomes the user's
// first factor under first's checks (resultRefused when the store refuses them; err says why).
// It returns a result constant.
func (s *Server) useTOTP(c *gin.Context, u *store.User, f *store.MFAFactor, code string, first *store.FirstFactor) (string, error) {
	secret, err := s.totpSecret(u, f)
	if err != nil {
		s.log.Error("mfa: a TOTP secret does not open", "user", u.Name, "factor", f.ID, "err", err)
		return resultWrongCode, nil
	}
	now := s.now()
	step, verdict := mfa.Check(secret, code, now, f.LastStep)
	switch verdict {
	case mfa.Wrong:
		return resultWrongCode, nil
	case mfa.Replayed:
		return resultReplayed, nil
	}
	if first != nil {
		err = s.store.ConfirmFirstTOTP(c.Request.Context(), f.ID, step, *first)
	} else {
		err = s.store.UseTOTPStep(c.Request.Context(), f.ID, step, now)
	}
	switch {
	case store.IsCode(err, store.Conflict): // another request spent this step first
		return resultReplayed, nil
	case first != nil && (store.IsCode(err, store.NotFound) || store.IsCode(err, store.Forbidden)):
		return resultRefused, err
	case err != nil:
		s.log.Error("mfa: recording a TOTP step", "user", u.Name, "err", err)
		return resultWrongCode, nil
	}
	return resultOK, nil
}

func (s *Server) totpSecret(u *store.User, f *store.MFAFactor) ([]byte, error) {
	if s.cfg.Secrets == nil {
		return nil, fmt.Errorf("idp: no key-encryption key to open TOTP secrets with")
	}
	return mfa.OpenSecret(s.cfg.Secrets, u.Subject, f.Secret)
}

// elevate records that the session used a second factor: a new token (the old one is worth
// nothing now), the method added, and the time of this authentication.
func (s *Server) elevate(c *gin.Context, w *webSession, method string) error {
	ns, tok, err := s.renewed(c, w)
	if err != nil {
		return err
	}
	if !slices.Contains(strings.Split(ns.AuthMethods, ","), method) {
		ns.AuthMethods = strings.TrimPrefix(ns.AuthMethods+","+method, ",")
	}
	ns.AuthenticatedAt = ns.LastSeenAt
	if err := s.store.ReplaceSession(c.Request.Context(), w.sess.TokenHash, ns); store.IsCode(err, store.NotFound) {
		return errSignedOut
	} else if err != nil {
		return fmt.Errorf("idp: upgrading the session: %w", err)
	}
	s.keep(c, w, ns, tok)
	return nil
}

// restartSession ends every session of the user, this browser's included, and gives this browser
// a new one that keeps what its old one knew (how and when the user authenticated, its end).
func (s *Server) restartSession(c *gin.Context, w *webSession) error {
	ns, tok, err := s.renewed(c, w)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := s.store.DeleteUserSessions(ctx, w.user.ID); err != nil {
		return fmt.Errorf("idp: ending the user's sessions: %w", err)
	}
	if err := s.store.CreateSession(ctx, ns); err != nil {
		return fmt.Errorf("idp: creating session: %w", err)
	}
	s.keep(c, w, ns, tok)
	return nil
}

// renewed is a copy of the browser's session under a new token, seen now.
func (s *Server) renewed(c *gin.Context, w *webSession) (*store.Session, string, error) {
	tok, err := newToken()
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	ns := *w.sess
	ns.TokenHash = hashToken(tok)
	ns.LastSeenAt = now
	ns.IdleExpiresAt = earliest(now.Add(s.cfg.SessionIdle), ns.ExpiresAt)
	ns.ClientAddr, ns.UserAgent = c.ClientIP(), bounded(c.Request.UserAgent(), maxUserAgent)
	return &ns, tok, nil
}

// keep sends the new session's cookie and makes it this request's.
func (s *Server) keep(c *gin.Context, old *webSession, ns *store.Session, tok string) {
	s.setCookie(c, sessionCookie, tok, 0)
	c.Set(ctxWeb, &webSession{user: old.user, sess: ns, token: tok})
	c.Set(ctxPrevToken, old.token)
}

// factorView is one factor on /account/mfa.
type factorView struct {
	ID                  int64
	Kind, Name          string
	CreatedAt, LastUsed string
}

func (s *Server) MFASettings(c *gin.Context) {
	m, ok := s.requireManage(c, false)
	if !ok {
		return
	}
	s.settingsPage(c, http.StatusOK, m, localNext(c.Query("next")), "")
}

func (s *Server) settingsPage(c *gin.Context, status int, m *manager, next, msg string) {
	w := m.webSession
	fs, err := s.confirmedFactors(c, w.user)
	if err != nil {
		s.failPage(c, err)
		return
	}
	left, err := s.store.CountRecoveryCodes(c.Request.Context(), w.user.ID)
	if err != nil {
		s.failPage(c, err)
		return
	}
	var views []factorView
	for _, f := range fs {
		v := factorView{ID: f.ID, Kind: "Authenticator app", Name: f.Name, CreatedAt: f.CreatedAt.Format("2 Jan 2006"), LastUsed: "never"}
		if f.Kind == store.FactorWebAuthn {
			v.Kind = "Security key or passkey"
		}
		if !f.LastUsedAt.IsZero() {
			v.LastUsed = f.LastUsedAt.Format("2 Jan 2006 15:04 MST")
		}
		views = append(views, v)
	}
	data := gin.H{"Title": "Two-step sign-in", "Next": next, "Error": msg,
		"Factors": views, "HasTOTP": factorOf(fs, store.FactorTOTP) != nil, "WebAuthn": s.wa != nil,
		"RecoveryLeft": left, "Enroll": len(fs) == 0 && (s.cfg.RequireMFA || next != "/")}
	if p := m.pass; p != nil {
		data["Invite"] = p.invite
		if p.window != nil {
			data["WindowEnds"] = p.window.EndsAt.UTC().Format("2 Jan 2006 15:04 MST")
		}
	}
	s.page(c, status, "mfa_settings", data)
}

// totpStart makes a new, unconfirmed TOTP secret and shows it; it counts once a first code confirms it.
func (s *Server) totpStart(c *gin.Context) {
	m, fs, next, ok := s.managePost(c)
	if !ok {
		return
	}
	if factorOf(fs, store.FactorTOTP) != nil {
		s.settingsPage(c, http.StatusConflict, m, next, "You have an authenticator app already. Remove it first to set up another.")
		return
	}
	if s.cfg.Secrets == nil {
		s.failPage(c, fmt.Errorf("idp: no key-encryption key to seal TOTP secrets with"))
		return
	}
	secret, err := mfa.NewSecret()
	if err != nil {
		s.failPage(c, err)
		return
	}
	sealed, err := mfa.SealSecret(s.cfg.Secrets, m.user.Subject, secret)
	if err != nil {
		s.failPage(c, err)
		return
	}
	f := &store.MFAFactor{UserID: m.user.ID, Kind: store.FactorTOTP, Name: mfa.TOTPName, Secret: sealed}
	if err := s.store.CreateMFAFactor(c.Request.Context(), f); err != nil {
		s.failPage(c, err)
		return
	}
	s.totpPage(c, http.StatusOK, m, secret, next, "")
}

// totpPage shows a secret being enrolled: as a QR code, as text, and the form for its first code.
func (s *Server) totpPage(c *gin.Context, status int, m *manager, secret []byte, next, msg string) {
	uri, err := mfa.URI(mfa.Issuer, m.user.Name, secret)
	if err != nil {
		s.failPage(c, err)
		return
	}
	png, err := mfa.QRCode(uri, 240)
	if err != nil {
		s.failPage(c, err)
		return
	}
	data := gin.H{"Title": "Set up an authenticator app", "Next": next, "Error": msg,
		"QR": template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), "Secret": mfa.SecretText(secret)}
	if m.pass != nil {
		data["Invite"] = m.pass.invite
	}
	s.page(c, status, "mfa_totp", data)
}

func (s *Server) totpConfirm(c *gin.Context) {
	m, _, next, ok := s.managePost(c)
	if !ok {
		return
	}
	u, form := m.user, c.Request.PostForm
	if len(form.Get("code")) > maxCodeBytes {
		s.failPage(c, store.Errorf(store.Invalid, "the code is too long"))
		return
	}
	all, err := s.store.ListMFAFactors(c.Request.Context(), u.ID)
	if err != nil {
		s.failPage(c, err)
		return
	}
	i := slices.IndexFunc(all, func(f *store.MFAFactor) bool { return f.Kind == store.FactorTOTP && !f.Confirmed })
	if i < 0 {
		s.settingsPage(c, http.StatusConflict, m, next, "There is no authenticator app waiting for its first code. Start again.")
		return
	}
	f := all[i]
	secret, err := s.totpSecret(u, f)
	if err != nil {
		s.failPage(c, err)
		return
	}
	e := &enrolment{factor: f, added: enrolDetails(m, store.FactorTOTP, f.Name)}
	if m.pass != nil {
		e.first = &m.pass.gate
	}
	_, result, wait, err := s.checkFactorCode(c, u, strings.Join(strings.Fields(form.Get("code")), ""), false, e, nil)
	switch {
	case result == resultRefused && s.firstFactorRefused(c, m, next, err):
		return
	case err != nil:
		s.failPage(c, err)
		return
	case wait > 0:
		s.totpPage(c, http.StatusTooManyRequests, m, secret, next, tryLater(c, wait))
		return
	case result != resultOK:
		s.totpPage(c, http.StatusUnauthorized, m, secret, next, "That code is not right. Enter the 6-digit code your app shows now.")
		return
	}
	s.enrolled(c, m, methodTOTP, next)
}

// enrolled finishes adding a factor: a first factor makes the session count as having used it (it
// just proved the user holds it, on top of the invite or window) and comes with recovery codes,
// shown this once.
func (s *Server) enrolled(c *gin.Context, m *manager, method, next string) {
	forgetFactors(c)
	if m.pass != nil {
		if err := s.elevate(c, m.webSession, method); err != nil {
			s.failPage(c, err)
			return
		}
		s.auditWith(c, "mfa", m.user.Name, resultOK, map[string]string{"method": method, "via": "enrollment"})
		s.trustDevice(c, m.user)
		next = s.carryLink(c, next)
	}
	left, err := s.store.CountRecoveryCodes(c.Request.Context(), m.user.ID)
	if err != nil {
		s.failPage(c, err)
		return
	}
	if left == 0 {
		s.showRecoveryCodes(c, m.user, next)
		return
	}
	c.Redirect(http.StatusSeeOther, withNext(mfaSettingsPath, next))
}

// showRecoveryCodes replaces the user's recovery codes with new ones and shows them, once.
func (s *Server) showRecoveryCodes(c *gin.Context, u *store.User, next string) {
	codes, hashes, err := mfa.NewRecoveryCodes()
	if err != nil {
		s.failPage(c, err)
		return
	}
	if err := s.store.ReplaceRecoveryCodes(c.Request.Context(), u.ID, hashes, s.now()); err != nil {
		s.failPage(c, err)
		return
	}
	s.auditWith(c, "mfa.recovery_codes", u.Name, resultOK, map[string]string{"count": strconv.Itoa(len(codes))})
	s.page(c, http.StatusOK, "mfa_recovery", gin.H{"Title": "Your recovery codes", "Codes": codes, "Next": next,
		"Download": recoveryFile(s.cfg.BaseURL, u.Name, codes, s.now())})
}

// recoveryFile is the text file of the Download link, as a data: URL: the codes exist only in
// this response, so the browser saves them without asking the server again, and without script.
func recoveryFile(baseURL, user string, codes []string, now time.Time) template.URL {
	var b strings.Builder
	fmt.Fprintf(&b, "Rolegate recovery codes for %s", user)
	if baseURL != "" {
		fmt.Fprintf(&b, " at %s", baseURL)
	}
	fmt.Fprintf(&b, "\nMade %s. Each code works once, in place of your second factor.\n\n", now.UTC().Format("2 Jan 2006 15:04 MST"))
	for _, c := range codes {
		b.WriteString(c + "\n")
	}
	return template.URL("data:text/plain;charset=utf-8," + url.PathEscape(b.String()))
}

func (s *Server) newRecoveryCodes(c *gin.Context) {
	m, fs, next, ok := s.managePost(c)
	if !ok {
		return
	}
	if len(fs) == 0 {
		s.settingsPage(c, http.StatusConflict, m, next, "Recovery codes stand in for a second factor: set one up first.")
		return
	}
	// Unused old codes die with the new ones: that takes a second, deliberate click. With none left
	// nothing dies, so the first click makes them.
	if c.Request.PostForm.Get("confirm") != "yes" {
		left, err := s.store.CountRecoveryCodes(c.Request.Context(), m.user.ID)
		if err != nil {
			s.failPage(c, err)
			return
		}
		if left > 0 {
			s.page(c, http.StatusOK, "mfa_recovery_confirm", gin.H{"Title": "Make new recovery codes?", "Next": next, "Left": left})
			return
		}
	}
	s.showRecoveryCodes(c, m.user, next)
}

func (s *Server) removeFactor(c *gin.Context) {
	m, fs, next, ok := s.managePost(c)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(c.Request.PostForm.Get("factor"), 10, 64)
	if err != nil || id <= 0 {
		s.failPage(c, store.Errorf(store.Invalid, "the form names no factor"))
		return
	}
	i := slices.IndexFunc(fs, func(f *store.MFAFactor) bool { return f.ID == id })
	if i < 0 {
		s.failPage(c, store.Errorf(store.NotFound, "you have no such factor"))
		return
	}
	keep := 0
	if s.cfg.RequireMFA {
		keep = 1
	}
	// The store counts what is left in the same step, so two removals at once cannot both take the last.
	left, err := s.store.RemoveMFAFactor(c.Request.Context(), m.user.ID, id, keep)
	if store.IsCode(err, store.Conflict) {
		s.settingsPage(c, http.StatusConflict, m, next, "Rolegate requires a second factor: add another before you remove your last.")
		return
	} else if err != nil {
		s.failPage(c, err)
		return
	}
	details := map[string]string{"kind": string(fs[i].Kind), "name": fs[i].Name}
	if left == 0 {
		details["recovery_codes"] = "removed"
	}
	s.auditWith(c, "mfa.remove", m.user.Name, resultOK, details)
	// Sessions elsewhere may have passed with the factor just removed (perhaps a lost one): they end,
	// and so do the device cookies bound to it, except this browser's, renewed.
	if err := s.restartSession(c, m.webSession); err != nil {
		s.failPage(c, err)
		return
	}
	s.trustDevice(c, m.user)
	c.Redirect(http.StatusSeeOther, withNext(mfaSettingsPath, next))
}

// factorName is the name a person gave a new security key, trimmed, or a default.
func factorName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		return "Security key", nil
	case strings.EqualFold(name, mfa.TOTPName):
		return "", store.Errorf(store.Invalid, "the name %q is kept for the authenticator app: choose another", name)
	}
	return name, store.CheckFactorName(name)
}

// jsonBody reports whether b is a JSON object of at most n bytes, as WebAuthn responses are.
func jsonBody(b string, n int) bool {
	return len(b) <= n && json.Valid([]byte(b)) && bytes.HasPrefix(bytes.TrimSpace([]byte(b)), []byte("{"))
}

// challengeTTL is how long a security key has to answer a challenge.
const challengeTTL = 5 * time.Minute
