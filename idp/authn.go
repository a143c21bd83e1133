package idp

import (
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/mfa"
	"rolegate/store"
)

// The credential checks every way in shares (the sign-in form and its second step, ECP, the
// password change's current password, an authenticator app's first code): each attempt is counted
// on the throttles before anything is checked, audited, and its counters cleared or advanced. A way
// in adds only how it asks and answers.

// checkPassword checks name's password. It returns the user when the password is right and the user
// enabled, nil when not (one answer for an unknown user, a wrong password and a disabled user),
// wait > 0 when the attempt must wait instead (nothing checked, nothing written), and an Unauthorized
// error that says what to do for the right one-time password past its expiry. The outcome is a
// "login" event with details.
func (s *Server) checkPassword(c *gin.Context, name, pw string, details map[string]string) (*store.User, time.Duration, error) {
	g, wait, err := s.enter(c, kindLogin, name)
	if wait > 0 {
		s.logAttempt(c, slog.LevelWarn, "sign-in", name, resultThrottled, details)
	}
	if err != nil || wait > 0 {
		return nil, wait, err
	}
	u, ok, err := s.verify(c.Request.Context(), name, pw)
	if store.IsCode(err, store.Unauthorized) {
		s.auditWith(c, "login", name, resultExpired, details)
		s.logAttempt(c, slog.LevelInfo, "sign-in", name, resultExpired, details)
		return nil, 0, err
	} else if err != nil {
		return nil, 0, err
	}
	result := resultOK
	switch {
	case !ok:
		result = resultBadCredentials
	case u.Disabled:
		result = resultDisabled
	}
	s.auditWith(c, "login", name, result, details)
	s.logAttempt(c, slog.LevelInfo, "sign-in", name, result, details)
	if result != resultOK {
		s.failed(c, g)
		return nil, 0, nil
	}
	s.passed(c, g)
	return u, 0, nil
}

// checkSecondFactor checks a code of u's second factor: an authenticator app's code (each time
// step accepted once), or with recovery a recovery code (each used once). It returns the method and
// resultOK, resultWrongCode or resultReplayed, or wait > 0 when the attempt must wait instead
// (nothing checked, nothing written). The outcome is an "mfa" event with the method and details.
//
// Codes count apart from passwords, whose counters a correct password clears: otherwise someone
// who knows the password could sign in again and again to guess codes without end.
func (s *Server) checkSecondFactor(c *gin.Context, u *store.User, code string, recovery bool, details map[string]string) (method, result string, wait time.Duration, err error) {
	return s.checkFactorCode(c, u, code, recovery, nil, details)
}

// enrolment is an authenticator app waiting for its first code: the code is checked against its
// pending secret and confirms it (as the user's first factor under first's checks, when set).
type enrolment struct {
	factor *store.MFAFactor
	first  *store.FirstFactor
	added  map[string]string // the details of the "mfa.enroll" event of a success
}

// checkFactorCode is checkSecondFactor, or with e the check of an app's first code on the same
// counters: its outcome is then an "mfa.enroll" event, and resultRefused (with the store's error)
// when the store refuses the first factor, which the caller answers (nothing audited, the attempt
// stays counted).
func (s *Server) checkFactorCode(c *gin.Context, u *store.User, code string, recovery bool, e *enrolment, details map[string]string) (method, result string, wait time.Duration, err error) {
	g, wait, err := s.enter(c, kindMFA, u.Name)
	if wait > 0 {
		s.logAttempt(c, slog.LevelWarn, "second factor", u.Name, resultThrottled, details)
	}
	if err != nil || wait > 0 {
		return "", "", wait, err
	}
	event, d := "mfa", map[string]string{}
	switch {
	case e != nil:
		event, method = "mfa.enroll", methodTOTP
		if result, err = s.useTOTP(c, u, e.factor, code, e.first); result == resultRefused {
			return method, result, 0, err
		}
		d["kind"] = string(store.FactorTOTP)
		if result == resultOK {
			d = maps.Clone(e.added)
		}
	case recovery || mfa.WellFormedCode(code):
		method, result, err = s.checkCode(c, u, code)
		d["method"] = method
	default:
		method, result = methodTOTP, resultWrongCode
		d["method"] = method
	}
	if err != nil {
		return method, "", 0, err
	}
	maps.Copy(d, details)
	s.auditWith(c, event, u.Name, result, d)
	s.logAttempt(c, slog.LevelInfo, "second factor", u.Name, result, d)
	if result != resultOK {
		s.failed(c, g)
	} else {
		s.passed(c, g)
	}
	return method, result, 0, nil
}

// logAttempt writes one log line for an attempt to sign in: the user as typed (bounded) and the
// reason, never what was typed as the secret. A failure is logged at level, a success only at
// debug: the audit log has every attempt; the log shows operators what goes wrong.
func (s *Server) logAttempt(c *gin.Context, level slog.Level, step, name, result string, details map[string]string) {
	msg := step + " failed"
	if result == resultOK {
		level, msg = slog.LevelDebug, step+" succeeded"
	}
	ctx := c.Request.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []any{"user", bounded(name, 64), "reason", result, "client", c.ClientIP(), "request_id", c.GetString(ctxRequestID)}
	for _, k := range slices.Sorted(maps.Keys(details)) {
		attrs = append(attrs, k, details[k])
	}
	s.log.Log(ctx, level, msg, attrs...)
}

// mfaDue reports whether u must give a second factor at every sign-in: when u has one, or when
// every sign-in needs one.
func (s *Server) mfaDue(c *gin.Context, u *store.User) (bool, error) {
	if s.cfg.RequireMFA {
		return true, nil
	}
	fs, err := s.confirmedFactors(c, u)
	return len(fs) > 0, err
}
