package idp

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/idp/password"
	"rolegate/store"
)

// Bounds of the sign-in form's fields; throttling is in throttle.go.
const (
	maxUsernameBytes = authn.MaxUsernameBytes
	maxPasswordBytes = authn.MaxPasswordBytes
)

// msgBadCredentials is the one message for an unknown user, a wrong password and a disabled user.
const msgBadCredentials = authn.MsgBadCredentials

// Results of a sign-in attempt, as the audit log records them.
const (
	resultOK             = authn.ResultOK
	resultBadCredentials = "bad_credentials"
	resultThrottled      = "throttled"
	resultDisabled       = "disabled"
	resultExpired        = "expired"
)

func (s *Server) loginForm(c *gin.Context) {
	next := localNext(c.Query("next"))
	data := gin.H{"Title": "Sign in", "Next": next}
	u, _, err := s.currentSession(c)
	switch {
	case err == nil && c.Query("reauth") != "":
		// An application asked for a fresh sign-in (SAML ForceAuthn): the form, even with a session.
		data["Username"], data["Reauth"] = u.Name, true
	case err == nil:
		if !s.mustChange(c, u) {
			c.Redirect(http.StatusSeeOther, next)
		}
		return
	}
	s.page(c, http.StatusOK, "login", data)
}

func (s *Server) login(c *gin.Context) {
	if !s.checkCSRF(c) {
		return
	}
	form := c.Request.PostForm
	name, pw, next := strings.TrimSpace(form.Get("username")), form.Get("password"), localNext(form.Get("next"))
	if len(form.Get("username")) > maxUsernameBytes || len(pw) > maxPasswordBytes {
		s.failPage(c, store.Errorf(store.Invalid, "the username or password is too long"))
		return
	}
	again := func(status int, msg string) {
		s.page(c, status, "login", gin.H{"Title": "Sign in", "Next": next, "Username": name, "Error": msg})
	}
	if name == "" || pw == "" {
		again(http.StatusBadRequest, "Enter your username and password.")
		return
	}

	done, ok := s.admitHash(c, again)
	if !ok {
		return
	}
	defer done()
	// A throttled attempt writes nothing: the counter's lock event has been audited once already.
	u, wait, err := s.checkPassword(c, name, pw, nil)
	switch {
	case store.IsCode(err, store.Unauthorized):
		s.signIn(authn.SignInBadPassword)
		again(http.StatusUnauthorized, text.Sentence(store.ErrorMessage(err)))
		return
	case err != nil:
		s.failPage(c, err)
		return
	case wait > 0:
		s.signIn(authn.SignInThrottled)
		again(http.StatusTooManyRequests, tryLater(c, wait))
		return
	case u == nil:
		s.signIn(authn.SignInBadPassword)
		again(http.StatusUnauthorized, msgBadCredentials)
		return
	}
	if err := s.startSession(c, u, methodPassword, time.Time{}); err != nil {
		s.failPage(c, err)
		return
	}
	w, err := s.signedIn(c)
	if err != nil {
		s.failPage(c, err)
		return
	}
	result := authn.SignInOK
	if first, err := s.changeFirst(c, w); err != nil {
		s.failPage(c, err)
		return
	} else if first {
		next = changePasswordURL(next)
	} else if need, err := s.needsMFA(c, u, w.sess); err != nil {
		s.failPage(c, err)
		return
	} else if need {
		next, result = withNext(mfaPath, next), authn.SignInMFARequired
	} else {
		s.trustDevice(c, u)
	}
	s.signIn(result)
	c.Redirect(http.StatusSeeOther, next)
}

// admitHash takes a place in the password hasher's queue for this request. When the queue is full
// it answers 503 with Retry-After through page, at once and without hashing, and returns false.
func (s *Server) admitHash(c *gin.Context, page func(status int, msg string)) (done func(), ok bool) {
	done, err := s.cfg.Hasher.Admit()
	if err != nil {
		s.metrics.hashBusy.Inc()
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(s.cfg.Hasher.RetryAfter().Seconds()))))
		page(http.StatusServiceUnavailable, "Rolegate is busy checking other sign-ins. Try again in a few seconds.")
		return nil, false
	}
	return done, true
}

// verify checks name's password at the same cost whether or not the user exists. It returns the
// user when the password matches (the caller still refuses a disabled one), and rehashes the stored
// hash when the hasher's parameters have risen. The right one-time password past its expiry is an
// Unauthorized error that says what to do.
func (s *Server) verify(ctx context.Context, name, pw string) (*store.User, bool, error) {
	u, err := s.store.GetUser(ctx, name)
	if store.IsCode(err, store.NotFound) || store.IsCode(err, store.Invalid) || (err == nil && u.PasswordHash == "") {
		return nil, false, s.cfg.Hasher.DummyVerify(ctx, pw)
	} else if err != nil {
		return nil, false, err
	}
	ok, rehash, err := s.cfg.Hasher.Verify(ctx, pw, u.PasswordHash)
	if errors.Is(err, password.ErrMalformed) {
		s.log.Error("login: the stored password hash is unusable", "user", u.Name, "err", err)
		return nil, false, nil
	} else if err != nil || !ok {
		return nil, false, err
	}
	if s.expired(u) && !u.Disabled {
		return nil, false, errExpired(u)
	}
	if rehash && !u.Disabled {
		s.rehash(ctx, u, pw)
	}
	return u, true, nil
}

// rehash replaces u's hash with one under the current parameters, unless it changed meanwhile.
func (s *Server) rehash(ctx context.Context, u *store.User, pw string) {
	hash, err := s.cfg.Hasher.Hash(ctx, pw)
	if err == nil {
		old := u.PasswordHash
		_, err = s.store.UpdateUser(ctx, u.Name, func(cur *store.User) error {
			if cur.PasswordHash == old {
				cur.PasswordHash = hash
			}
			return nil
		})
	}
	if err != nil {
		s.log.Error("login: rehashing the password", "user", u.Name, "err", err)
	}
}
