package idp

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/text"
	"rolegate/idp/password"
	"rolegate/store"
)

// passwordPath is where a signed-in user changes their own password.
const passwordPath = "/account/password"

func (s *Server) passwordForm(c *gin.Context) {
	u, _, ok := s.requireLogin(c)
	if !ok {
		return
	}
	s.page(c, http.StatusOK, "password", gin.H{"Title": "Change your password", "Next": localNext(c.Query("next")),
		"Forced": u.MustChangePassword, "MinLength": password.MinLength})
}

func (s *Server) changePassword(c *gin.Context) {
	u, sess, ok := s.requireLogin(c)
	if !ok || !s.checkCSRF(c) {
		return
	}
	form := c.Request.PostForm
	cur, pw, confirm := form.Get("current_password"), form.Get("new_password"), form.Get("confirm_password")
	next := localNext(form.Get("next"))
	if len(cur) > maxPasswordBytes || len(pw) > maxPasswordBytes || len(confirm) > maxPasswordBytes {
		s.failPage(c, store.Errorf(store.Invalid, "the password is too long"))
		return
	}
	again := func(status int, result, msg string) {
		s.audit(c, "user.passwd", u.Name, result)
		s.page(c, status, "password", gin.H{"Title": "Change your password", "Next": next,
			"Forced": u.MustChangePassword, "MinLength": password.MinLength, "Error": msg})
	}
	switch {
	case pw != confirm:
		again(http.StatusBadRequest, "invalid", "The new passwords do not match.")
		return
	case pw == cur:
		again(http.StatusBadRequest, "invalid", "Choose a new password that differs from the current one.")
		return
	}
	if err := password.CheckPolicy(pw); err != nil {
		again(http.StatusBadRequest, "invalid", text.Sentence(store.ErrorMessage(err)))
		return
	}

	ctx := c.Request.Context()
	done, ok := s.admitHash(c, func(status int, msg string) { again(status, "busy", msg) })
	if !ok {
		return
	}
	defer done()
	// The current password is checked as a sign-in's is, on the same counters: a stolen session
	// guesses it no faster than the sign-in form would let it.
	switch who, wait, err := s.checkPassword(c, u.Name, cur, map[string]string{"via": "password_change"}); {
	case err != nil:
		s.failPage(c, err)
		return
	case wait > 0:
		again(http.StatusTooManyRequests, resultThrottled, tryLater(c, wait))
		return
	case who == nil:
		again(http.StatusUnauthorized, resultBadCredentials, "Your current password is wrong.")
		return
	}

	hash, err := s.cfg.Hasher.Hash(ctx, pw)
	if err != nil {
		s.failPage(c, err)
		return
	}
	u, err = s.store.UpdateUser(ctx, u.Name, func(cur *store.User) error {
		cur.PasswordHash, cur.MustChangePassword, cur.PasswordExpiresAt = hash, false, time.Time{}
		return nil
	})
	if err != nil {
		s.failPage(c, err)
		return
	}
	// Whoever else held a session of this user (perhaps with the old password) is signed out.
	if err := s.store.DeleteUserSessions(ctx, u.ID); err != nil {
		s.failPage(c, err)
		return
	}
	s.audit(c, "user.passwd", u.Name, resultOK)
	// The new session keeps when its second factor was used: a password change does not make it recent.
	if err := s.startSession(c, u, sess.AuthMethods, sess.AuthenticatedAt); err != nil {
		s.failPage(c, err)
		return
	}
	// The change ended the device cookies bound to the old password; this browser, signed in in
	// full, stays the user's device.
	if need, err := s.needsMFA(c, u, sess); err != nil {
		s.failPage(c, err)
		return
	} else if !need {
		s.trustDevice(c, u)
	}
	c.Redirect(http.StatusSeeOther, s.carryLink(c, next))
}
