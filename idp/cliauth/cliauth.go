// Package cliauth serves the command line's ways in: SAML ECP (POST /saml/ecp), the browser flow
// (/cli/authorize, /cli/token), the device-code flow (/cli/device...) and CLI sessions
// (/cli/refresh). It decides nothing about who gets what: the credential checks, throttling, the
// audit and the one issuing path (grants, MFA policy, the signed Response) are the idp package's,
// reached through Core.
package cliauth

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/assertions"
	"rolegate/store"
)

// Core is what the flows take from the idp package, which fills it in where it registers the routes.
type Core struct {
	Store           store.Store
	Log             *slog.Logger
	Now             func() time.Time
	BaseURL         string
	SessionAbsolute time.Duration // the longest a web session, and so a CLI session, may live
	PasswordPath    string        // where a one-time password is changed
	MFASettingsPath string        // where an authenticator app is added
	ErrStepUp       error         // IssueAWS's answer when the account requires a second factor the sign-in lacks
	ErrNotGranted   error         // the one answer to an account or role the user may not use

	// HTTP: rate limit, pages and errors.
	LimitAnonymous  func(answer func(c *gin.Context, msg string)) gin.HandlerFunc
	TooManyPage     func(c *gin.Context, msg string)
	Fail            func(c *gin.Context, err error) // JSON
	FailPage        func(c *gin.Context, err error) // HTML
	Page            func(c *gin.Context, status int, name string, data gin.H)
	AllowFormAction func(c *gin.Context, origins []string) // before Page: where the page's forms may go
	StatusOf        map[store.Code]int
	RequestID       func(c *gin.Context) string
	TryLater        func(c *gin.Context, wait time.Duration) string
	Origin          func(c *gin.Context) string

	// The browser's session.
	RequireLogin func(c *gin.Context) (*store.User, *store.Session, bool)
	MustChange   func(c *gin.Context, u *store.User) bool
	CheckCSRF    func(c *gin.Context) bool
	HasMFA       func(sess *store.Session) bool
	SessionIndex func(sess *store.Session) string
	MFAURL       func(next string) string // the second-factor page, going on to next

	// Credentials and throttling.
	AdmitHash         func(c *gin.Context, answer func(status int, msg string)) (done func(), ok bool)
	CheckPassword     func(c *gin.Context, name, pw string, details map[string]string) (*store.User, time.Duration, error)
	CheckSecondFactor func(c *gin.Context, u *store.User, code string, recovery bool, details map[string]string) (method, result string, wait time.Duration, err error)
	MFADue            func(c *gin.Context, u *store.User) (bool, error)
	ConfirmedFactors  func(c *gin.Context, u *store.User) ([]*store.MFAFactor, error)
	EnterDevice       func(c *gin.Context, user string) (Attempt, time.Duration, error) // a user code typed by user
	WrongCodeKey      func(user string) string                                          // the throttle of user's wrong user codes
	SignIn            func(result string)                                               // counts a sign-in's end (authn.SignIn*)

	// Audit and the one issuing path.
	AuditWith      func(c *gin.Context, typ, user, result string, details map[string]string)
	AssertionEvent func(c *gin.Context, user string, details map[string]string) *store.AuditEvent
	RecordRefusal  func(c *gin.Context, e *store.AuditEvent, err error)
	RecordIssued   func(c *gin.Context, e *store.AuditEvent) error
	IssueAWS       func(c *gin.Context, in Issue) (*Issued, *store.AuditEvent, error)
}

// Attempt is one throttled attempt, counted before it is checked.
type Attempt interface {
	Failed(c *gin.Context)
	Passed(c *gin.Context)
	// Lock audits that a counter of the caller's own starts to make attempts wait until then.
	Lock(c *gin.Context, counter string, until time.Time)
}

// Issue asks IssueAWS for a Response: who, how and when they authenticated, and for what.
type Issue struct {
	User         *store.User
	Methods      string // as a session's AuthMethods
	AuthnInstant time.Time
	SessionIndex string
	Account      string // an alias or ID; "" for every account the user holds a role in
	Role         string // "" for every role granted
	ACS          string // the sign-in URL the client named; "" for the account's
	Details      map[string]string
	Prefix       string // the Response's namespace prefix
}

// Issued is a signed Response and what went into it.
type Issued struct {
	XML     []byte
	Plan    *assertions.AWSResponse
	Account *store.Account // nil for every account
	Roles   []string
	Omitted []string // accounts left out of an every-account Response, each with why
}

// Handler serves the command line's routes.
type Handler struct{ Core }

// New returns the handler over core.
func New(core Core) *Handler { return &Handler{core} }

// Routes adds the command line's routes.
func (s *Handler) Routes(r *gin.Engine) {
	s.cliRoutes(r)
	s.deviceRoutes(r)
	r.POST(ecpPath, s.LimitAnonymous(s.tooManySOAP), s.ecp)
	r.POST(cliRefreshPath, s.LimitAnonymous(s.tooManySOAP), s.cliRefresh)
}
