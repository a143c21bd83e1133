// Package sso is SP-initiated SSO for registered SAML service providers (GET|POST /saml/sso) and the
// reading of their metadata. Who the user is, the MFA policy, the rate limit and the audit of every
// assertion are the idp package's, reached through Core; this package builds the Response for the SP.
package sso

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/certs"
	"rolegate/idp/internal/authn"
	"rolegate/store"
)

// Core is what SP-initiated SSO takes from the idp package, which fills it in where it registers
// the routes: sessions, the MFA policy, the rate limit, pages, and the audit of every assertion.
type Core struct {
	Store   store.Store
	Log     *slog.Logger
	Now     func() time.Time
	BaseURL string
	Secure  bool // the base URL is https: cookies are Secure
	// SSOCookie is the name of the pending request's cookie: unique to this instance (see idp.CookieName).
	SSOCookie         string
	PendingPerAddress int // how many requests one client address may have waiting
	// CurrentKey is the signing key; nil when there is no keyring.
	CurrentKey func(ctx context.Context) (*certs.Key, error)

	// HTTP: rate limit, pages and errors.
	LimitAnonymous func(answer func(c *gin.Context, msg string)) gin.HandlerFunc
	TooManyPage    func(c *gin.Context, msg string)
	FailPage       func(c *gin.Context, err error)
	Page           func(c *gin.Context, status int, name string, data gin.H)
	RequestID      func(c *gin.Context) string
	ClientGroup    func(c *gin.Context) string // the address group the counters see

	// The browser's session and the MFA policy.
	RequireLogin func(c *gin.Context) (*store.User, *store.Session, bool)
	SignedIn     func(c *gin.Context) (*store.User, *store.Session, error) // Unauthorized when nobody is
	NeedsMFA     func(c *gin.Context, u *store.User, sess *store.Session) (bool, error)
	StepUp       func(c *gin.Context) // to the second-factor page and back
	HasMFA       func(sess *store.Session) bool
	SessionIndex func(sess *store.Session) string
	NewXMLID     func() string

	// Audit and delivery of an assertion.
	AuditWith       func(c *gin.Context, typ, user, result string, details map[string]string)
	AssertionEvent  func(c *gin.Context, user string, details map[string]string) *store.AuditEvent
	RefuseAssertion func(c *gin.Context, e *store.AuditEvent, err error)
	PostAssertion   func(c *gin.Context, e *store.AuditEvent, f *authn.PostForm)
}

// Handler serves SP-initiated SSO.
type Handler struct{ Core }

// New returns the handler over core.
func New(core Core) *Handler { return &Handler{core} }

// webSession is a signed-in browser: its user and session.
type webSession struct {
	user *store.User
	sess *store.Session
}
