package idp

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/certs"
	"rolegate/idp/cliauth"
	"rolegate/idp/sso"
	"rolegate/store"
)

// The flows in idp/cliauth and idp/sso take what they need of the server through a Core of funcs:
// the decisions (credentials, MFA policy, throttling, grants, the audit, the signed Response) stay
// here, each in one place.

// cliFlows serves the command line's routes: ECP, the browser and device-code flows, CLI sessions.
func (s *Server) cliFlows() *cliauth.Handler {
	return cliauth.New(cliauth.Core{
		Store:           s.store,
		Log:             s.log,
		Now:             s.now,
		BaseURL:         s.cfg.BaseURL,
		SessionAbsolute: s.cfg.SessionAbsolute,
		PasswordPath:    passwordPath,
		MFASettingsPath: mfaSettingsPath,
		ErrStepUp:       errStepUp,
		ErrNotGranted:   errNotGranted,

		LimitAnonymous:  s.limitAnonymous,
		TooManyPage:     s.tooManyPage,
		Fail:            s.fail,
		FailPage:        s.failPage,
		Page:            s.page,
		AllowFormAction: func(c *gin.Context, origins []string) { c.Set(ctxAction, origins) },
		StatusOf:        statusOf,
		RequestID:       requestID,
		TryLater:        tryLater,
		Origin:          s.origin,

		RequireLogin: s.requireLogin,
		MustChange:   s.mustChange,
		CheckCSRF:    s.checkCSRF,
		HasMFA:       hasMFA,
		SessionIndex: sessionIndex,
		MFAURL:       func(next string) string { return withNext(mfaPath, next) },

		AdmitHash:         s.admitHash,
		CheckPassword:     s.checkPassword,
		CheckSecondFactor: s.checkSecondFactor,
		MFADue:            s.mfaDue,
		ConfirmedFactors:  s.confirmedFactors,
		EnterDevice: func(c *gin.Context, user string) (cliauth.Attempt, time.Duration, error) {
			g, wait, err := s.enter(c, kindDevice, user)
			if err != nil {
				return nil, 0, err
			}
			return attempt{s, g}, wait, nil
		},
		WrongCodeKey: func(user string) string { return clientKey(kindDevice, user, "wrong") },
		SignIn:       s.signIn,

		AuditWith:      s.auditWith,
		AssertionEvent: s.assertionEvent,
		RecordRefusal:  s.recordRefusal,
		RecordIssued:   s.recordIssued,
		IssueAWS: func(c *gin.Context, in cliauth.Issue) (*cliauth.Issued, *store.AuditEvent, error) {
			out, audit, err := s.issueAWS(c, awsIssue{User: in.User, Methods: in.Methods, AuthnInstant: in.AuthnInstant,
				SessionIndex: in.SessionIndex, Account: in.Account, Role: in.Role, ACS: in.ACS, Details: in.Details, Prefix: in.Prefix})
			if out == nil {
				return nil, audit, err
			}
			return &cliauth.Issued{XML: out.XML, Plan: out.Plan, Account: out.Account, Roles: out.Roles, Omitted: out.Omitted}, audit, err
		},
	})
}

// attempt is a throttle gate as the command line's flows see it.
type attempt struct {
	s *Server
	g *gate
}

func (a attempt) Failed(c *gin.Context) { a.s.failed(c, a.g) }
func (a attempt) Passed(c *gin.Context) { a.s.passed(c, a.g) }
func (a attempt) Lock(c *gin.Context, counter string, until time.Time) {
	a.s.lockEvent(c, a.g, counter, until)
}

// ssoFlow serves SP-initiated SSO for registered SAML service providers.
func (s *Server) ssoFlow() *sso.Handler {
	var key func(context.Context) (*certs.Key, error)
	if s.keys != nil {
		key = s.keys.Current
	}
	return sso.New(sso.Core{
		Store:             s.store,
		Log:               s.log,
		Now:               s.now,
		BaseURL:           s.cfg.BaseURL,
		Secure:            s.secure(),
		SSOCookie:         ScopedCookie(s.cfg.BaseURL, sso.SSOCookie), // Path=/saml/sso: no __Host- prefix
		PendingPerAddress: s.cfg.PendingPerAddress,
		CurrentKey:        key,

		LimitAnonymous: s.limitAnonymous,
		TooManyPage:    s.tooManyPage,
		FailPage:       s.failPage,
		Page:           s.page,
		RequestID:      requestID,
		ClientGroup:    clientGroup,

		RequireLogin: s.requireLogin,
		SignedIn:     s.currentSession,
		NeedsMFA:     s.needsMFA,
		StepUp:       s.stepUp,
		HasMFA:       hasMFA,
		SessionIndex: sessionIndex,
		NewXMLID:     newXMLID,

		AuditWith:       s.auditWith,
		AssertionEvent:  s.assertionEvent,
		RefuseAssertion: s.refuseAssertion,
		PostAssertion:   s.postAssertion,
	})
}

// requestID is the ID requestLog gave the request.
func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }
