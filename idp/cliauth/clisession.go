package cliauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/authn"
	"rolegate/idp/internal/text"
	"rolegate/idp/internal/token"
	"rolegate/store"
)

// CLI sessions let `rolegate credential-process` get a fresh Response without a prompt: the ECP
// sign-in issues one when the client asks (saml2aws never does), and POST /cli/refresh trades it,
// with the methods and AuthnInstant of that sign-in and never more, for a Response through issueAWS.
const (
	cliRefreshPath = "/cli/refresh"
	// headerCLISession asks for a session ("request") and carries its token back.
	headerCLISession        = "X-Rolegate-CLI-Session"
	headerCLISessionID      = "X-Rolegate-CLI-Session-ID"
	headerCLISessionExpires = "X-Rolegate-CLI-Session-Expires"
	// headerCLIHost is the client's machine name, shown in the session lists.
	headerCLIHost = "X-Rolegate-Host"
	// maxCLISessions caps a user's CLI sessions; a new one ends the oldest.
	maxCLISessions = 20
)

// errCLISessionEnded is the one answer to a token that is unknown, expired, revoked or bound to
// credentials that changed: nothing tells which.
var errCLISessionEnded = store.Errorf(store.Unauthorized, "your command-line session has ended (expired, revoked, or your password or factors changed): run rolegate login again")

// credentialBinding is a hash of what the user signs in with: the password's hash and the
// confirmed factors. A CLI session keeps the one it was created with and dies when it changes.
func (s *Handler) credentialBinding(c *gin.Context, u *store.User) ([]byte, error) {
	fs, err := s.ConfirmedFactors(c, u)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d\n%s\n", u.ID, u.PasswordHash)
	for _, f := range fs {
		fmt.Fprintf(h, "%d %s\n", f.ID, f.Kind)
	}
	return h.Sum(nil), nil
}

// cliSessionIssued is a new CLI session as the client receives it.
type cliSessionIssued struct {
	Token   string    `json:"token"`
	ID      string    `json:"id"`
	Expires time.Time `json:"expires"`
}

// startCLISession creates a CLI session for a sign-in of u with methods at authnInstant, scoped to
// account ("" for none), for every flow of rolegate login (ECP, browser, device code), and audits
// it. It lives as long as a web session may, at most, counted from the sign-in, not from the
// exchange: a browser session about to end must not hand on a fresh twelve hours. host is the
// client's own machine name.
func (s *Handler) startCLISession(c *gin.Context, u *store.User, methods string, authnInstant time.Time, account, host string) (*cliSessionIssued, error) {
	tok, err := token.New()
	if err != nil {
		return nil, err
	}
	idb, err := token.New()
	if err != nil {
		return nil, err
	}
	binding, err := s.credentialBinding(c, u)
	if err != nil {
		return nil, err
	}
	life, err := s.cliSessionLife(c, u, account)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	expires := now.Add(life)
	if end := authnInstant.Add(life); end.Before(expires) {
		expires = end
	}
	cs := &store.CLISession{ID: "cs_" + idb[:16], TokenHash: token.Hash(tok), UserID: u.ID, AuthMethods: methods, AccountID: account,
		AuthnInstant: authnInstant, Binding: binding, CreatedAt: now, LastUsedAt: now, ExpiresAt: expires,
		ClientAddr: c.ClientIP(), UserAgent: text.Bounded(c.Request.UserAgent(), authn.MaxUserAgent), HostName: text.Bounded(strings.Map(printableRune, host), 64)}
	if _, err := s.Store.CreateCLISession(c.Request.Context(), cs, maxCLISessions); err != nil {
		return nil, err
	}
	s.AuditWith(c, "cli_session", u.Name, "created", map[string]string{"id": cs.ID, "account": cs.AccountID, "auth_methods": methods,
		"host": cs.HostName, "expires": cs.ExpiresAt.UTC().Format(time.RFC3339)})
	return &cliSessionIssued{Token: tok, ID: cs.ID, Expires: cs.ExpiresAt.UTC()}, nil
}

// cliSessionLife is how long a new CLI session lives: the web session's absolute limit, or less
// where an account says so (rolegate account set --cli-session): the account's own for a session
// scoped to it, else the shortest among the accounts the user holds a role in, since an unscoped
// session reaches every one of them.
func (s *Handler) cliSessionLife(c *gin.Context, u *store.User, account string) (time.Duration, error) {
	ctx := c.Request.Context()
	var accts []*store.Account
	if account != "" {
		a, err := s.Store.GetAccount(ctx, account)
		if err != nil {
			return 0, err
		}
		accts = []*store.Account{a}
	} else {
		grants, err := s.Store.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true})
		if err != nil {
			return 0, err
		}
		ids := make([]string, len(grants))
		for i, g := range grants {
			ids[i] = g.AccountID
		}
		// At once, not a query per account: a user may hold roles in hundreds.
		if accts, err = s.Store.ListAccountsByID(ctx, ids); err != nil {
			return 0, err
		}
	}
	life := s.SessionAbsolute
	for _, a := range accts {
		if a.CLISessionMax > 0 && a.CLISessionMax < life {
			life = a.CLISessionMax
		}
	}
	return life, nil
}

// printableRune drops control and format characters (bidi overrides, zero-width ones) from what a
// client says about itself: shown on an approval page, they could turn the text after it round.
func printableRune(r rune) rune {
	if text.IsControl(r) || unicode.Is(unicode.Cf, r) {
		return -1
	}
	return r
}

// cliRefresh is POST /cli/refresh: Authorization: Bearer TOKEN, the account and role in the query.
// It answers as /saml/ecp does, with a Response made from the session's sign-in.
func (s *Handler) cliRefresh(c *gin.Context) {
	ctx := c.Request.Context()
	tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || !token.WellFormed(strings.TrimSpace(tok)) {
		s.ecpFault(c, store.Errorf(store.Unauthorized, "send your command-line session's token as Authorization: Bearer TOKEN (rolegate login makes one)"))
		return
	}
	cs, err := s.Store.GetCLISession(ctx, token.Hash(strings.TrimSpace(tok)), s.Now())
	if store.IsCode(err, store.NotFound) {
		s.AuditWith(c, "cli_session", "", "refused", map[string]string{"reason": "unknown, expired or revoked token"})
		s.ecpFault(c, errCLISessionEnded)
		return
	} else if err != nil {
		s.ecpFault(c, err)
		return
	}
	u, err := s.Store.GetUser(ctx, cs.UserName)
	if err != nil {
		s.ecpFault(c, err)
		return
	}
	binding, err := s.credentialBinding(c, u)
	if err != nil {
		s.ecpFault(c, err)
		return
	}
	if subtle.ConstantTimeCompare(binding, cs.Binding) != 1 {
		// The password or the factors changed since: the session is over for good.
		if err := s.Store.DeleteCLISession(ctx, cs.ID, 0); err != nil && !store.IsCode(err, store.NotFound) {
			s.ecpFault(c, err)
			return
		}
		s.AuditWith(c, "cli_session", u.Name, "ended", map[string]string{"id": cs.ID, "reason": "password or factors changed"})
		s.ecpFault(c, errCLISessionEnded)
		return
	}
	details := map[string]string{"via": "cli_refresh", "cli_session": cs.ID}
	if u.MustChangePassword {
		s.RecordRefusal(c, s.AssertionEvent(c, u.Name, details), store.Errorf(store.Forbidden, "your password is a one-time password"))
		s.ecpFault(c, store.Errorf(store.Forbidden, "your password is a one-time password: change it in the browser first, at %s%s",
			strings.TrimRight(s.BaseURL, "/"), s.PasswordPath))
		return
	}
	account, role := c.Query("account"), c.Query("role")
	if len(account) > 64 || len(role) > 64 {
		s.ecpFault(c, store.Errorf(store.Invalid, "the account or role is too long"))
		return
	}
	if cs.AccountID != "" {
		// A session issued for one account refreshes that account alone.
		if account != "" {
			acct, err := s.Store.GetAccount(ctx, account)
			if err != nil && !store.IsCode(err, store.NotFound) {
				s.ecpFault(c, err)
				return
			}
			if acct == nil || acct.ID != cs.AccountID {
				e := s.AssertionEvent(c, u.Name, details)
				e.Details["account"] = account
				s.RecordRefusal(c, e, s.ErrNotGranted)
				s.ecpFault(c, s.ErrNotGranted)
				return
			}
		}
		account = cs.AccountID
	}
	// The account's limit as it is now: an admin may have shortened it, or granted a role in an
	// account with a shorter one, since the session was made.
	if life, err := s.cliSessionLife(c, u, account); err != nil && !store.IsCode(err, store.NotFound) {
		s.ecpFault(c, err)
		return
	} else if err == nil && !s.Now().Before(cs.AuthnInstant.Add(life)) {
		s.AuditWith(c, "cli_session", u.Name, "refused", map[string]string{"id": cs.ID, "account": text.Bounded(account, 64),
			"reason": "older than the account's CLI session limit"})
		s.ecpFault(c, errCLISessionEnded)
		return
	}
	out, resp, ok := s.ecpIssue(c, Issue{User: u, Methods: cs.AuthMethods, AuthnInstant: cs.AuthnInstant, Account: account, Role: role,
		Prefix: ecpProtocolPrefix, Details: details},
		store.Errorf(store.Forbidden, "this account requires a second factor and your command-line session was made without one: run rolegate login again with your one-time code"))
	if !ok {
		return
	}
	if err := s.Store.TouchCLISession(ctx, cs.ID, s.Now(), c.ClientIP()); err != nil && !store.IsCode(err, store.NotFound) {
		s.ecpFault(c, err)
		return
	}
	c.Header(headerCLISessionExpires, cs.ExpiresAt.UTC().Format(time.RFC3339))
	s.ecpReply(c, out, resp)
}
