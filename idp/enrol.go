package idp

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/mfa"
	"rolegate/store"
)

// First-factor enrolment: the password alone never adds a user's first second factor, or whoever
// holds it would enrol their own authenticator, pass as MFA and lock the real user out. It takes an
// admin's invite (`rolegate user mfa invite`) or a self-enrolment window the admin opened.
const (
	// mfaFresh is how recently a session must have used a second factor to change the factors.
	mfaFresh = 10 * time.Minute
)

// Ways a factor came to be added, as the audit log's "via" records them.
const (
	viaInvite       = "invite"
	viaWindow       = "window"
	viaSecondFactor = "second_factor"
)

// Results of a first enrolment refused, as the audit log records them.
const (
	resultNoInvite  = "no_invite"
	resultBadInvite = "wrong_code"
)

// recentMFA reports whether the session used a second factor within mfaFresh.
func (s *Server) recentMFA(sess *store.Session) bool {
	return hasMFA(sess) && s.now().Sub(sess.AuthenticatedAt) < mfaFresh
}

// firstPass is what lets a session add its user's first factor: an invite's code, a window, or a
// second factor the session used within mfaFresh and its user has removed since.
type firstPass struct {
	invite string // the code as the user has it, carried on by the enrolment forms
	gate   store.FirstFactor
	via    string
	window *store.EnrolWindow
}

// manager is who changes factors, and with what right: pass is set for a first factor, nil when
// the session used an existing factor (recently, for a change).
type manager struct {
	*webSession
	pass *firstPass
}

// requireManage lets a signed-in user see and change their factors. A user with factors needs a
// session that used one within mfaFresh, else goes to /login/mfa and comes back to the settings
// page (so its forms work when they are shown); a user without needs a first-factor pass, else is
// refused with the words that say whom to ask, audited for a change. The caller has checked the
// form's token for a POST.
func (s *Server) requireManage(c *gin.Context, change bool) (*manager, bool) {
	w, ok := s.requireSession(c)
	if !ok {
		return nil, false
	}
	fs, err := s.confirmedFactors(c, w.user)
	if err != nil {
		s.failPage(c, err)
		return nil, false
	}
	if len(fs) > 0 {
		if !s.recentMFA(w.sess) {
			back := c.Request.URL.RequestURI()
			if c.Request.Method != http.MethodGet {
				back = withNext(mfaSettingsPath, c.Request.PostForm.Get("next"))
			}
			c.Redirect(http.StatusSeeOther, withNext(mfaPath, back))
			c.Abort()
			return nil, false
		}
		return &manager{webSession: w}, true
	}
	pass, ok := s.firstFactorPass(c, w, change)
	if !ok {
		return nil, false
	}
	return &manager{webSession: w, pass: pass}, true
}

// formValue is a field of the POST form, or of the query on a GET.
func formValue(c *gin.Context, key string) string {
	if c.Request.Method == http.MethodGet {
		return c.Query(key)
	}
	return c.Request.PostForm.Get(key)
}

// firstFactorPass finds what lets w add a first factor: a second factor the session used within
// mfaFresh (the user removed their last one since, to replace it: they could have added the new one
// first), else the invite the request carries (wrong ones counted per user and audited), else a
// window open for the user. Without any it shows the refusal, audited when the request tried to
// change something, and returns false.
func (s *Server) firstFactorPass(c *gin.Context, w *webSession, change bool) (*firstPass, bool) {
	u, now, next := w.user, s.now(), localNext(formValue(c, "next"))
	if s.recentMFA(w.sess) {
		return &firstPass{gate: store.FirstFactor{Now: now, Recent: true}, via: viaSecondFactor}, true
	}
	if raw := formValue(c, "invite"); raw != "" {
		if len(raw) > maxCodeBytes {
			s.failPage(c, store.Errorf(store.Invalid, "the enrolment code is too long"))
			return nil, false
		}
		// Only a POST, which carries the session's CSRF token, counts a wrong code: a GET may be a
		// navigation another site started, and must not let that site spend the user's attempts (or,
		// through the address counter, an office's). A GET only reads: codes have 120 random bits.
		var g *gate
		if c.Request.Method != http.MethodGet {
			var wait time.Duration
			var err error
			if g, wait, err = s.enter(c, kindInvite, u.Name); err != nil {
				s.failPage(c, err)
				return nil, false
			} else if wait > 0 {
				s.refuseEnrol(c, w, http.StatusTooManyRequests, next, tryLater(c, wait))
				return nil, false
			}
		}
		hash, ok := mfa.InviteHash(raw)
		if ok {
			_, err := s.store.CheckEnrolInvite(c.Request.Context(), u.ID, hash, now)
			if err != nil && !store.IsCode(err, store.NotFound) {
				s.failPage(c, err)
				return nil, false
			}
			ok = err == nil
		}
		if !ok {
			if g != nil {
				s.failed(c, g)
				s.auditWith(c, "mfa.invite", u.Name, resultBadInvite, nil)
			}
			s.refuseEnrol(c, w, http.StatusForbidden, next, "That enrolment code is wrong, used, replaced by a newer one or expired.")
			return nil, false
		}
		s.passed(c, g)
		return &firstPass{invite: raw, gate: store.FirstFactor{InviteHash: hash, Now: now}, via: viaInvite}, true
	}
	win, err := s.store.EnrolWindowFor(c.Request.Context(), u.ID, now)
	if err == nil {
		return &firstPass{gate: store.FirstFactor{Now: now}, via: viaWindow, window: win}, true
	} else if !store.IsCode(err, store.NotFound) {
		s.failPage(c, err)
		return nil, false
	}
	if change {
		s.auditWith(c, "mfa.enroll", u.Name, resultNoInvite, nil)
	}
	s.refuseEnrol(c, w, http.StatusForbidden, next, "")
	return nil, false
}

// whomToAsk is the refusal of a first factor without an invite or a window: who can help, and how.
func whomToAsk(name string) string {
	return fmt.Sprintf("Adding your first second factor takes an enrolment code from your administrator: "+
		"ask them to run `rolegate user mfa invite %s` and send you the code or its link.", name)
}

// refuseEnrol shows why a first factor cannot be added now, whom to ask, and a field for the code.
func (s *Server) refuseEnrol(c *gin.Context, w *webSession, status int, next, msg string) {
	ended := ""
	// Any window that ever applied to the user (all end after the zero time) says when self-enrolment closed.
	if win, err := s.store.EnrolWindowFor(c.Request.Context(), w.user.ID, time.Time{}); err == nil && !win.EndsAt.After(s.now()) {
		ended = win.EndsAt.UTC().Format("2 Jan 2006 15:04 MST")
	} else if err != nil && !store.IsCode(err, store.NotFound) {
		s.log.Error("enrol: reading windows", "request_id", c.GetString(ctxRequestID), "err", err)
	}
	s.page(c, status, "mfa_invite", gin.H{"Title": "Enrolment code needed", "Next": next, "Error": msg,
		"Ask": whomToAsk(w.user.Name), "Ended": ended})
}

// enrolDetails are the audit details of an added factor.
func enrolDetails(m *manager, kind store.FactorKind, name string) map[string]string {
	via := viaSecondFactor
	if m.pass != nil {
		via = m.pass.via
	}
	return map[string]string{"kind": string(kind), "name": name, "via": via}
}

// firstFactorRefused answers a store's refusal of a first factor (the invite spent or a factor
// added meanwhile, the window closed) and reports whether err was one.
func (s *Server) firstFactorRefused(c *gin.Context, m *manager, next string, err error) bool {
	switch {
	case m.pass == nil:
		return false
	case store.IsCode(err, store.NotFound):
		s.auditWith(c, "mfa.invite", m.user.Name, resultBadInvite, nil)
		s.refuseEnrol(c, m.webSession, http.StatusForbidden, next, "That enrolment code was used meanwhile.")
	case store.IsCode(err, store.Forbidden): // a factor was added meanwhile, or the window closed
		s.auditWith(c, "mfa.enroll", m.user.Name, resultRefused, map[string]string{"reason": store.ErrorMessage(err)})
		s.failPage(c, err)
	default:
		return false
	}
	return true
}

// factorEvents are the audit events that change, or try to change, a user's second factors.
var factorEvents = []string{"mfa.enroll", "mfa.remove", "mfa.reset", "mfa.recovery_codes", "mfa.invite"}

// shownFactorChanges is how many of the user's latest factor changes the portal shows.
const shownFactorChanges = 5

// factorChange is one line of "recent changes to your second factors" on the portal.
type factorChange struct {
	What, When, From string
	Failed           bool
}

// factorChanges reads the user's latest factor changes from the audit log, newest first, so that
// a factor someone else added or removed does not go unnoticed.
func (s *Server) factorChanges(c *gin.Context, u *store.User) ([]factorChange, error) {
	es, err := s.store.ListAudit(c.Request.Context(), store.AuditFilter{User: u.Name, Types: factorEvents, Limit: shownFactorChanges})
	if err != nil {
		return nil, fmt.Errorf("idp: reading factor changes: %w", err)
	}
	out := make([]factorChange, 0, len(es))
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		from := e.ClientAddr
		if e.Details["via"] == "cli" {
			from = "an administrator"
		}
		out = append(out, factorChange{What: describeChange(e), When: e.Time.UTC().Format("2 Jan 2006 15:04 MST"), From: from,
			Failed: e.Result != resultOK})
	}
	return out, nil
}

// describeChange says in words what a factor event did.
func describeChange(e *store.AuditEvent) string {
	name := e.Details["name"]
	if name == "" {
		name = "a second factor"
	}
	ok := e.Result == resultOK
	switch {
	case e.Type == "mfa.enroll" && ok:
		return "Added " + name
	case e.Type == "mfa.enroll" && e.Result == resultNoInvite:
		return "Refused: adding a first factor without an enrolment code"
	case e.Type == "mfa.enroll":
		return "Refused: adding " + name + " (" + e.Result + ")"
	case e.Type == "mfa.remove":
		return "Removed " + name
	case e.Type == "mfa.reset":
		return "Removed every second factor and recovery code"
	case e.Type == "mfa.recovery_codes":
		return "Made new recovery codes"
	case e.Type == "mfa.invite" && ok:
		return "Issued an enrolment code"
	case e.Type == "mfa.invite":
		return "Refused: a wrong enrolment code"
	}
	return e.Type + " " + e.Result
}
