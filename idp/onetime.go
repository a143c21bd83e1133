package idp

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/store"
)

// OneTimePasswordTTL is how long a one-time password (the bootstrap admin's) signs anyone in.
const OneTimePasswordTTL = 24 * time.Hour

// oneTimeRoutes are the routes a session with a one-time password may reach: changing it,
// finishing or redoing the sign-in, signing out, and what serves no one's data.
var oneTimeRoutes = map[string]bool{
	passwordPath: true, "/logout": true, "/login": true,
	mfaPath: true, mfaPath + "/webauthn/begin": true, mfaPath + "/webauthn": true,
	"/assets/*filepath": true, faviconPath: true, "/healthz": true, "/readyz": true, "/saml/metadata": true,
	"": true, // no such route: a 404 or 405 follows
}

// oneTimeOnly confines a session whose user must still change a one-time password to
// oneTimeRoutes, whatever the handler would check: a GET elsewhere is sent to the password page,
// any other request is refused.
func (s *Server) oneTimeOnly(c *gin.Context) {
	if oneTimeRoutes[c.FullPath()] {
		return
	}
	if _, err := s.cookie(c, sessionCookie); err != nil {
		return
	}
	w, err := s.signedIn(c)
	if err != nil || !w.user.MustChangePassword {
		return // signed out, or a store error the handler reports
	}
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		s.mustChange(c, w.user)
		return
	}
	s.failPage(c, store.Errorf(store.Forbidden, "change your one-time password first, at %s", passwordPath))
}

// changeFirst reports whether the session must change its one-time password before anything
// else: a user with a second factor gives it first, one without sets a factor up only after the
// change (enrollment is out of a one-time password's reach).
func (s *Server) changeFirst(c *gin.Context, w *webSession) (bool, error) {
	if !w.user.MustChangePassword {
		return false, nil
	}
	if hasMFA(w.sess) {
		return true, nil
	}
	fs, err := s.confirmedFactors(c, w.user)
	return len(fs) == 0, err
}

// expired reports whether u's password is a one-time password past its expiry.
func (s *Server) expired(u *store.User) bool {
	return u.MustChangePassword && !u.PasswordExpiresAt.IsZero() && !s.now().Before(u.PasswordExpiresAt)
}

// errExpired is the answer to the right one-time password after its expiry.
func errExpired(u *store.User) error {
	return store.Errorf(store.Unauthorized, "the one-time password of %s has expired; an administrator sets a new one with: rolegate user passwd %s",
		u.Name, u.Name)
}
