package idp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/password"
	"rolegate/store"
)

// Sign-in throttling: failures counted per user name and per client address, in the store so that
// every replica sees them. While a counter is at its limit, no password is even checked.
const (
	loginUserLimit = 5
	loginIPLimit   = 20
	loginWindow    = 15 * time.Minute

	maxUsernameBytes = 256
	maxPasswordBytes = password.MaxLen
)

// msgBadCredentials is the one message for an unknown user, a wrong password and a disabled user.
const msgBadCredentials = "Wrong username or password."

// Results of a sign-in attempt, as the audit log records them.
const (
	resultOK             = "ok"
	resultBadCredentials = "bad_credentials"
	resultThrottled      = "throttled"
	resultDisabled       = "disabled"
	resultExpired        = "expired"
)

func (s *Server) loginForm(c *gin.Context) {
	next := localNext(c.Query("next"))
	u, _, err := s.currentSession(c)
	if err == nil {
		if !s.mustChange(c, u) {
			c.Redirect(http.StatusSeeOther, next)
		}
		return
	}
	s.page(c, http.StatusOK, "login", gin.H{"Title": "Sign in", "Next": next})
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

	ts := loginThrottles(c, name)
	if wait, err := s.reserve(c, ts); err != nil {
		s.failPage(c, err)
		return
	} else if wait > 0 {
		s.audit(c, "login", name, resultThrottled)
		again(http.StatusTooManyRequests, tryLater(c, wait))
		return
	}

	u, ok, err := s.verify(c.Request.Context(), name, pw)
	if store.IsCode(err, store.Unauthorized) {
		s.audit(c, "login", name, resultExpired)
		again(http.StatusUnauthorized, sentence(store.ErrorMessage(err)))
		return
	} else if err != nil {
		s.failPage(c, err)
		return
	}
	result := resultOK
	switch {
	case !ok:
		result = resultBadCredentials
	case u.Disabled:
		result = resultDisabled
	}
	s.audit(c, "login", name, result)
	if result != resultOK {
		again(http.StatusUnauthorized, msgBadCredentials)
		return
	}
	s.release(c, ts)
	if err := s.startSession(c, u, methodPassword); err != nil {
		s.failPage(c, err)
		return
	}
	w, err := s.signedIn(c)
	if err != nil {
		s.failPage(c, err)
		return
	}
	if first, err := s.changeFirst(c, w); err != nil {
		s.failPage(c, err)
		return
	} else if first {
		next = changePasswordURL(next)
	} else if need, err := s.needsMFA(c, u, w.sess); err != nil {
		s.failPage(c, err)
		return
	} else if need {
		next = withNext(mfaPath, next)
	}
	c.Redirect(http.StatusSeeOther, next)
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

// throttle is one counter of failed attempts and the count at which it stops them.
type throttle struct {
	key   string
	limit int
}

// loginThrottles are the counters of failed sign-ins: the user's first, then the client's.
func loginThrottles(c *gin.Context, name string) []throttle {
	return []throttle{{"login:user:" + store.Key(name), loginUserLimit}, {"login:ip:" + c.ClientIP(), loginIPLimit}}
}

// reserve counts this attempt on every counter before the password is checked, so concurrent
// attempts cannot all slip under the limit, and returns how long until the busiest counter lets
// attempts in again (0 when none is over its limit). A successful attempt gives its counts back.
func (s *Server) reserve(c *gin.Context, ts []throttle) (time.Duration, error) {
	now := s.now()
	var wait time.Duration
	for _, t := range ts {
		cur, err := s.store.HitThrottle(c.Request.Context(), t.key, loginWindow, now)
		if err != nil {
			return 0, fmt.Errorf("idp: counting a sign-in attempt: %w", err)
		}
		if cur.Count > t.limit {
			wait = max(wait, cur.ResetAt.Sub(now), time.Second)
		}
	}
	return wait, nil
}

// release gives back a successful attempt's counts: the user's counter starts afresh, the address's
// loses this one attempt (many people may share an address).
func (s *Server) release(c *gin.Context, ts []throttle) {
	if len(ts) == 0 {
		return
	}
	ctx := c.Request.Context()
	if err := s.store.ClearThrottle(ctx, ts[0].key); err != nil {
		s.log.Error("clearing throttle", "request_id", c.GetString(ctxRequestID), "err", err)
	}
	for _, t := range ts[1:] {
		if err := s.store.ReleaseThrottle(ctx, t.key); err != nil {
			s.log.Error("releasing throttle", "request_id", c.GetString(ctxRequestID), "err", err)
		}
	}
}

// tryLater sets Retry-After and returns the message of a throttled attempt.
func tryLater(c *gin.Context, wait time.Duration) string {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	n := int(math.Ceil(wait.Minutes()))
	if n == 1 {
		return "Too many failed sign-ins. Try again in 1 minute."
	}
	return fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", n)
}
