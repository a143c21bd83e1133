package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/idp/internal/token"
	"rolegate/store"
)

const (
	sessionCookie = "rg_session"
	// csrfCookie holds the double-submit token of forms shown before sign-in.
	csrfCookie = "rg_csrf"
	// touchEvery bounds how often a session's idle timeout is pushed back: one write a minute at most.
	touchEvery = time.Minute
	// maxUserAgent bounds what a session and the audit log keep of a User-Agent header.
	maxUserAgent = authn.MaxUserAgent
)

// webSession is what one request knows about its signed-in browser.
type webSession struct {
	user  *store.User
	sess  *store.Session
	token string // the cookie's value; only its hash is stored
}

// The token and text helpers are shared with the flows in idp/cliauth and idp/sso.
var (
	tokenEncoding = token.Encoding
	newToken      = token.New
	wellFormed    = token.WellFormed
	hashToken     = token.Hash
	isControl     = text.IsControl
	bounded       = text.Bounded
)

// sessionCSRF is the CSRF token bound to a session: derived from its token, so nothing more is stored.
func sessionCSRF(tok string) string {
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("csrf"))
	return tokenEncoding.EncodeToString(m.Sum(nil))
}

var errSignedOut = store.Errorf(store.Unauthorized, "sign in to continue")

// currentSession returns the signed-in user and session of the request's cookie, pushing the idle
// timeout back at most once a minute. It returns an Unauthorized error when nobody is signed in,
// including for a disabled user.
func (s *Server) currentSession(c *gin.Context) (*store.User, *store.Session, error) {
	w, err := s.signedIn(c)
	if err != nil {
		return nil, nil, err
	}
	return w.user, w.sess, nil
}

// signedIn is currentSession with the cookie's token; it reads the store once per request.
func (s *Server) signedIn(c *gin.Context) (*webSession, error) {
	if v, ok := c.Get(ctxWeb); ok {
		if w, _ := v.(*webSession); w != nil {
			return w, nil
		}
		return nil, errSignedOut
	}
	w, err := s.loadSession(c)
	if err != nil {
		if store.IsCode(err, store.Unauthorized) {
			c.Set(ctxWeb, (*webSession)(nil))
		}
		return nil, err
	}
	c.Set(ctxWeb, w)
	return w, nil
}

func (s *Server) loadSession(c *gin.Context) (*webSession, error) {
	tok, err := s.cookie(c, sessionCookie)
	if err != nil || !wellFormed(tok) {
		return nil, errSignedOut
	}
	ctx, now := c.Request.Context(), s.now()
	sess, err := s.store.GetSession(ctx, hashToken(tok), now)
	if store.IsCode(err, store.NotFound) {
		return nil, errSignedOut
	} else if err != nil {
		return nil, fmt.Errorf("idp: reading session: %w", err)
	}
	u, err := s.store.GetUserByID(ctx, sess.UserID)
	if store.IsCode(err, store.NotFound) {
		return nil, errSignedOut
	} else if err != nil {
		return nil, fmt.Errorf("idp: reading session user: %w", err)
	}
	if u.Disabled {
		return nil, errSignedOut
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		idle := earliest(now.Add(s.cfg.SessionIdle), sess.ExpiresAt)
		err := s.store.TouchSession(ctx, sess.TokenHash, now, idle)
		if store.IsCode(err, store.NotFound) {
			return nil, errSignedOut // revoked since we read it
		} else if err != nil {
			return nil, fmt.Errorf("idp: touching session: %w", err)
		}
		sess.LastSeenAt, sess.IdleExpiresAt = now, idle
	}
	return &webSession{user: u, sess: sess, token: tok}, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// requireLogin returns the signed-in user and session. When there is none, it redirects (303) to
// /login?next=<this page> and returns false; so it does to /account/password for a user who must
// change a one-time password (except on that page itself; see changeFirst), and to /login/mfa for
// a session that still needs its second factor.
func (s *Server) requireLogin(c *gin.Context) (*store.User, *store.Session, bool) {
	w, ok := s.requireSession(c)
	if !ok {
		return nil, nil, false
	}
	if first, err := s.changeFirst(c, w); err != nil {
		s.failPage(c, err)
		return nil, nil, false
	} else if first {
		if c.Request.URL.Path != passwordPath {
			s.mustChange(c, w.user)
			return nil, nil, false
		}
		return w.user, w.sess, true
	}
	need, err := s.needsMFA(c, w.user, w.sess)
	if err != nil {
		s.failPage(c, err)
		return nil, nil, false
	}
	if need {
		s.stepUp(c)
		return nil, nil, false
	}
	return w.user, w.sess, true
}

// requireSession is requireLogin's first step alone: someone whose password was accepted, as the
// second-factor pages need.
func (s *Server) requireSession(c *gin.Context) (*webSession, bool) {
	w, err := s.signedIn(c)
	if store.IsCode(err, store.Unauthorized) {
		q := url.Values{"next": {localNext(c.Request.URL.RequestURI())}}
		c.Redirect(http.StatusSeeOther, "/login?"+q.Encode())
		c.Abort()
		return nil, false
	} else if err != nil {
		s.failPage(c, err)
		return nil, false
	}
	return w, true
}

// mustChange redirects a user who has a one-time password to /account/password, and reports
// whether it did.
func (s *Server) mustChange(c *gin.Context, u *store.User) bool {
	if u == nil || !u.MustChangePassword {
		return false
	}
	next := "/"
	if c.Request.Method == http.MethodGet {
		next = c.Request.URL.RequestURI()
	}
	c.Redirect(http.StatusSeeOther, changePasswordURL(next))
	c.Abort()
	return true
}

// changePasswordURL is the password page, which goes on to next once the password is changed.
func changePasswordURL(next string) string {
	if next = localNext(next); next == "/" {
		return passwordPath
	}
	return passwordPath + "?" + url.Values{"next": {next}}.Encode()
}

// localNext returns next when it is a path on this server, and "/" otherwise: it must start with
// one "/" (not "//" or "/\"), carry no scheme, host, backslash or control character, and the same
// must hold once percent-decoded, so that no later decoding can make it leave this origin.
func localNext(next string) string {
	if len(next) > 2048 || !localPath(next) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !localPath(u.Path) {
		return "/"
	}
	if dec, err := url.PathUnescape(next); err != nil || !localPath(dec) {
		return "/"
	}
	return next
}

func localPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && utf8.ValidString(p) &&
		!strings.ContainsRune(p, '\\') && !strings.ContainsFunc(p, isControl)
}

// startSession signs u in on this browser: a fresh token every time (so a token planted before sign-in
// is worth nothing), and the session the old cookie named, if any, is ended. authAt is when methods
// were used; zero means now.
func (s *Server) startSession(c *gin.Context, u *store.User, methods string, authAt time.Time) error {
	ctx := c.Request.Context()
	old, err := s.cookie(c, sessionCookie)
	if err == nil && wellFormed(old) {
		if err := s.store.DeleteSession(ctx, hashToken(old)); err != nil {
			return fmt.Errorf("idp: ending the previous session: %w", err)
		}
	} else {
		old = ""
	}
	tok, err := newToken()
	if err != nil {
		return err
	}
	now := s.now()
	if authAt.IsZero() {
		authAt = now
	}
	sess := &store.Session{
		TokenHash:       hashToken(tok),
		UserID:          u.ID,
		AuthMethods:     methods,
		AuthenticatedAt: authAt,
		CreatedAt:       now,
		LastSeenAt:      now,
		IdleExpiresAt:   earliest(now.Add(s.cfg.SessionIdle), now.Add(s.cfg.SessionAbsolute)),
		ExpiresAt:       now.Add(s.cfg.SessionAbsolute),
		ClientAddr:      c.ClientIP(),
		UserAgent:       bounded(c.Request.UserAgent(), maxUserAgent),
	}
	// A user has at most SessionsPerUser sessions: a sign-in loop cannot fill the table.
	if _, err := s.store.CreateSessionCapped(ctx, sess, s.cfg.SessionsPerUser); err != nil {
		return fmt.Errorf("idp: creating session: %w", err)
	}
	s.keep(c, &webSession{user: u, token: old}, sess, tok)
	return nil
}

// endSession deletes the browser's session, if any, and its cookie.
func (s *Server) endSession(c *gin.Context) error {
	if tok, err := s.cookie(c, sessionCookie); err == nil && wellFormed(tok) {
		if err := s.store.DeleteSession(c.Request.Context(), hashToken(tok)); err != nil {
			return fmt.Errorf("idp: ending session: %w", err)
		}
	}
	s.setCookie(c, sessionCookie, "", -1)
	c.Set(ctxWeb, (*webSession)(nil))
	return nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole site, Secure when the base URL is
// https. maxAge 0 makes a browser-session cookie; a negative one deletes the cookie.
func (s *Server) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: s.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(), SameSite: http.SameSiteLaxMode})
}

// cookieName is a site-wide cookie's name; see CookieName.
func (s *Server) cookieName(name string) string {
	if n, ok := s.cookieNames[name]; ok {
		return n
	}
	return CookieName(s.cfg.BaseURL, name)
}

// CookieName is the name under which the instance at baseURL sets its site-wide cookie name: with a
// short hash of the base URL, since browsers share cookies across a host's ports (two instances on
// one host would sign each other's users out), and under https with the __Host- prefix, so that
// browsers take it only from this host, Secure, for Path=/ and with no Domain: a sibling subdomain
// or a plain-http page cannot plant or shadow it.
func CookieName(baseURL, name string) string {
	n := ScopedCookie(baseURL, name)
	if isHTTPS(baseURL) {
		return "__Host-" + n
	}
	return n
}

// ScopedCookie is name with the tag of the instance at baseURL: its origin and path, hashed.
func ScopedCookie(baseURL, name string) string {
	scope := normalOrigin(baseURL)
	if u, err := url.Parse(baseURL); err == nil {
		scope += strings.TrimRight(u.Path, "/")
	}
	sum := sha256.Sum256([]byte(scope))
	return name + "_" + hex.EncodeToString(sum[:3])
}

// cookie reads a cookie that setCookie set.
func (s *Server) cookie(c *gin.Context, name string) (string, error) {
	return c.Cookie(s.cookieName(name))
}

func (s *Server) secure() bool { return isHTTPS(s.cfg.BaseURL) }

func isHTTPS(baseURL string) bool { return strings.HasPrefix(strings.ToLower(baseURL), "https://") }

// logout ends the session. Without one there is nothing to change, so no token is needed.
func (s *Server) logout(c *gin.Context) {
	u, _, err := s.currentSession(c)
	if err != nil && !store.IsCode(err, store.Unauthorized) {
		s.failPage(c, err)
		return
	}
	if u != nil && !s.checkCSRF(c) {
		return
	}
	if err := s.endSession(c); err != nil {
		s.failPage(c, err)
		return
	}
	if u != nil {
		s.audit(c, "logout", u.Name, "ok")
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

// formToken returns the CSRF token this response's forms carry: the session's, or before sign-in
// the double-submit token of the rg_csrf cookie, set here when the browser has none.
func (s *Server) formToken(c *gin.Context) (string, error) {
	if w, err := s.signedIn(c); err == nil {
		return sessionCSRF(w.token), nil
	}
	if tok := c.GetString(ctxFormToken); tok != "" {
		return tok, nil
	}
	if tok, err := s.cookie(c, csrfCookie); err == nil && wellFormed(tok) {
		return tok, nil
	}
	tok, err := newToken()
	if err != nil {
		return "", err
	}
	s.setCookie(c, csrfCookie, tok, 0)
	c.Set(ctxFormToken, tok)
	return tok, nil
}

// checkCSRF guards a state-changing POST: it must come from this origin and carry, in csrf_token,
// the token bound to the session (or before sign-in, the rg_csrf cookie's). Otherwise it renders
// a 403 page and returns false.
func (s *Server) checkCSRF(c *gin.Context) bool {
	if err := c.Request.ParseForm(); err != nil {
		s.failPage(c, store.Errorf(store.Invalid, "the form is too large or malformed"))
		return false
	}
	if !s.sameOrigin(c) || !s.tokenMatches(c) {
		s.failPage(c, store.Errorf(store.Forbidden, msgCSRF))
		return false
	}
	return true
}

func (s *Server) tokenMatches(c *gin.Context) bool {
	var want string
	w, err := s.signedIn(c)
	switch {
	case err == nil:
		want = sessionCSRF(w.token)
	case store.IsCode(err, store.Unauthorized):
		if tok, err := s.cookie(c, csrfCookie); err == nil && wellFormed(tok) {
			want = tok
		}
	}
	got := c.Request.PostForm.Get("csrf_token")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses requests a browser marks as cross-site, and those whose Origin is not ours.
func (s *Server) sameOrigin(c *gin.Context) bool {
	if c.GetHeader("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := c.GetHeader("Origin")
	if origin == "null" {
		// A privacy setting can make a browser send "null" even to the form's own site; only the
		// browser's own Sec-Fetch-Site, which pages cannot forge, may vouch for such a request.
		return c.GetHeader("Sec-Fetch-Site") == "same-origin"
	}
	return origin == "" || strings.EqualFold(normalOrigin(origin), s.origin(c))
}

// origin is scheme://host[:port] of the base URL, or of the request when no base URL is set.
func (s *Server) origin(c *gin.Context) string {
	if s.cfg.BaseURL != "" {
		return normalOrigin(s.cfg.BaseURL)
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return normalOrigin(scheme + "://" + c.Request.Host)
}

// normalOrigin reduces a URL to its origin, without a default port; "" when it has none.
func normalOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host
}

// audit appends an event; a failure to record is logged, as the request itself has been served.
func (s *Server) audit(c *gin.Context, typ, user, result string) {
	s.auditWith(c, typ, user, result, nil)
}

// auditWith is audit with details.
func (s *Server) auditWith(c *gin.Context, typ, user, result string, details map[string]string) {
	e := &store.AuditEvent{Time: s.now(), Type: typ, User: bounded(user, 64), Result: result,
		ClientAddr: c.ClientIP(), UserAgent: bounded(c.Request.UserAgent(), maxUserAgent), Details: details}
	if err := s.store.AppendAudit(c.Request.Context(), e); err != nil {
		s.log.Error("audit: append failed", "request_id", c.GetString(ctxRequestID), "type", typ, "err", err)
	}
}
