package cliauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"rolegate/idp/internal/text"
	"rolegate/idp/internal/token"
	"rolegate/store"
)

// The browser flow of `rolegate login` (RFC 8252, native apps): the command line listens on a
// loopback port and opens /cli/authorize; the signed-in person picks a role and confirms; the
// browser is sent to the loopback port with a one-time code, which the command line trades at
// /cli/token, with the verifier of its PKCE challenge (RFC 7636, S256), for the signed Response.
const (
	cliAuthorizePath = "/cli/authorize"
	cliTokenPath     = "/cli/token"
	cliClientID      = "rolegate-cli"
	// cliCodeTTL is how long a confirmed code waits for its exchange: the command line asks at once.
	cliCodeTTL = time.Minute
)

// cliRoutes adds the command line's flows.
func (s *Handler) cliRoutes(r *gin.Engine) {
	r.GET(cliAuthorizePath, s.LimitAnonymous(s.TooManyPage), s.cliAuthorize)
	r.POST(cliAuthorizePath, s.LimitAnonymous(s.TooManyPage), s.cliConfirm)
	r.POST(cliTokenPath, s.LimitAnonymous(s.tooManyOAuth), s.cliToken)
}

// authorizeRequest is what /cli/authorize was asked, checked.
type authorizeRequest struct {
	RedirectURI, State, Challenge, Account, Role string
	origin                                       string // the redirect URI's scheme://host:port
}

// loopbackRedirect checks a redirect URI as RFC 8252 §7.3 and §8.3 want it: plain http to a
// loopback IP literal, 127.0.0.1 or [::1], on any port; never a name such as localhost (which DNS
// or a hosts file could send elsewhere), no user info, query or fragment. It returns the origin.
func loopbackRedirect(raw string) (string, error) {
	bad := store.Errorf(store.Invalid, "redirect_uri must be http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH, "+
		"the command line's own listener on this machine")
	if raw == "" || len(raw) > 256 || strings.ContainsAny(raw, "#?\\") || strings.ContainsFunc(raw, text.IsSpaceOrControl) {
		return "", bad
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "", bad
	}
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil || (ip != netip.MustParseAddr("127.0.0.1") && ip != netip.IPv6Loopback()) {
		return "", bad
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 || u.Port() != strconv.Itoa(p) {
		return "", bad
	}
	return "http://" + u.Host, nil
}

// pkceValue reports whether v is a PKCE verifier (43 to 128 unreserved characters, RFC 7636 §4.1)
// or, with n 43, an S256 challenge. The state takes the same form.
func pkceValue(v string, minLen int) bool {
	if len(v) < minLen || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
			return false
		}
	}
	return true
}

// s256 is PKCE's S256 challenge of verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// readAuthorize checks the parameters of /cli/authorize, from the query (GET) or the form (POST),
// before anything else happens: a bad one gets a page here, and the browser is never sent to it.
func readAuthorize(get func(string) string) (*authorizeRequest, error) {
	if get("client_id") != cliClientID {
		return nil, store.Errorf(store.Invalid, "client_id must be %s", cliClientID)
	}
	origin, err := loopbackRedirect(get("redirect_uri"))
	if err != nil {
		return nil, err
	}
	r := &authorizeRequest{RedirectURI: get("redirect_uri"), State: get("state"), Challenge: get("code_challenge"),
		Account: get("account"), Role: get("role"), origin: origin}
	switch {
	case !pkceValue(r.State, 16):
		return nil, store.Errorf(store.Invalid, "state must be 16 to 128 letters, digits or -._~")
	case get("code_challenge_method") != "S256" || len(r.Challenge) != 43 || !pkceValue(r.Challenge, 43):
		return nil, store.Errorf(store.Invalid, "code_challenge must be an S256 challenge (code_challenge_method=S256)")
	case len(r.Account) > 64 || len(r.Role) > 576:
		return nil, store.Errorf(store.Invalid, "the account or role is too long")
	}
	return r, nil
}

// query is r as /cli/authorize's query, to come back to after a second factor.
func (r *authorizeRequest) query() url.Values {
	q := url.Values{"client_id": {cliClientID}, "redirect_uri": {r.RedirectURI}, "state": {r.State},
		"code_challenge": {r.Challenge}, "code_challenge_method": {"S256"}}
	if r.Account != "" {
		q.Set("account", r.Account)
	}
	if r.Role != "" {
		q.Set("role", r.Role)
	}
	return q
}

// cliChoice is one role the person may pick on the confirmation page.
type cliChoice struct {
	Account *store.Account
	Role    string
	Value   string // the form value: "ACCOUNT_ID ROLE"
}

// cliChoices are the user's granted roles that match what the command line asked for.
func (s *Handler) cliChoices(c *gin.Context, u *store.User, r *authorizeRequest) ([]cliChoice, error) {
	ctx := c.Request.Context()
	grants, err := s.Store.ListGrants(ctx, store.GrantFilter{User: u.Name, Effective: true})
	if err != nil {
		return nil, err
	}
	accounts := map[string]*store.Account{}
	var out []cliChoice
	for _, g := range grants {
		a, ok := accounts[g.AccountID]
		if !ok {
			if a, err = s.Store.GetAccount(ctx, g.AccountID); err != nil {
				return nil, err
			}
			accounts[g.AccountID] = a
		}
		if r.Account != "" && !strings.EqualFold(r.Account, a.ID) && !strings.EqualFold(r.Account, a.Alias) {
			continue
		}
		if r.Role != "" && r.Role != g.Role && !strings.HasSuffix(r.Role, ":role/"+g.Role) {
			continue
		}
		v := a.ID + " " + g.Role
		if !slices.ContainsFunc(out, func(ch cliChoice) bool { return ch.Value == v }) {
			out = append(out, cliChoice{Account: a, Role: g.Role, Value: v})
		}
	}
	if len(out) == 0 {
		return nil, store.Errorf(store.Forbidden, "you hold no role that matches what the command line asked for (account %q, role %q)",
			text.Bounded(r.Account, 64), text.Bounded(r.Role, 64))
	}
	slices.SortFunc(out, func(a, b cliChoice) int {
		return strings.Compare(a.Account.Alias+" "+a.Role, b.Account.Alias+" "+b.Role)
	})
	return out, nil
}

// cliAuthorize is GET /cli/authorize: after the checks, the sign-in (an existing session is
// reused), then a page to pick a role and confirm that the command line may have it.
func (s *Handler) cliAuthorize(c *gin.Context) {
	r, err := readAuthorize(c.Query)
	if err != nil {
		s.AuditWith(c, "cli.authorize", "", "refused: "+store.ErrorMessage(err), map[string]string{
			"redirect_uri": text.Bounded(c.Query("redirect_uri"), 256)})
		s.FailPage(c, err)
		return
	}
	u, _, ok := s.RequireLogin(c)
	if !ok || s.MustChange(c, u) {
		return
	}
	choices, err := s.cliChoices(c, u, r)
	if err != nil {
		s.AuditWith(c, "cli.authorize", u.Name, "refused: "+store.ErrorMessage(err), map[string]string{"account": text.Bounded(r.Account, 64),
			"role": text.Bounded(r.Role, 64), "redirect_uri": r.RedirectURI})
		s.FailPage(c, err)
		return
	}
	s.cliConfirmPage(c, r, choices)
}

// cliConfirmPage shows the choices; the form's redirect goes to the loopback origin, which the
// page's CSP must allow (form-action covers where a form's answer redirects).
func (s *Handler) cliConfirmPage(c *gin.Context, r *authorizeRequest, choices []cliChoice) {
	s.AllowFormAction(c, []string{r.origin})
	s.Page(c, http.StatusOK, "cli_authorize", gin.H{"Title": "Sign in on the command line", "Request": r,
		"Choices": choices, "Target": r.origin})
}

// cliConfirm is POST /cli/authorize: the person's answer. Approved, the browser goes to the
// command line's listener with a one-time code bound to the challenge and the redirect URI;
// cancelled, with error=access_denied.
func (s *Handler) cliConfirm(c *gin.Context) {
	if !s.CheckCSRF(c) {
		return
	}
	r, err := readAuthorize(c.Request.PostForm.Get)
	if err != nil {
		s.FailPage(c, err)
		return
	}
	u, sess, ok := s.RequireLogin(c)
	if !ok || s.MustChange(c, u) {
		return
	}
	details := map[string]string{"redirect_uri": r.RedirectURI}
	back := func(q url.Values) {
		q.Set("state", r.State)
		c.Redirect(http.StatusSeeOther, r.RedirectURI+"?"+q.Encode())
		c.Abort()
	}
	if c.Request.PostForm.Get("decision") != "approve" {
		s.AuditWith(c, "cli.authorize", u.Name, "denied", details)
		back(url.Values{"error": {"access_denied"}})
		return
	}
	choices, err := s.cliChoices(c, u, r)
	if err != nil {
		s.FailPage(c, err)
		return
	}
	i := slices.IndexFunc(choices, func(ch cliChoice) bool { return ch.Value == c.Request.PostForm.Get("choice") })
	if i < 0 {
		s.AuditWith(c, "cli.authorize", u.Name, "refused: no such choice", details)
		s.FailPage(c, store.Errorf(store.Invalid, "choose one of the roles offered"))
		return
	}
	ch := choices[i]
	details["account"], details["role"] = ch.Account.ID, ch.Role
	// Checked here, where the person can still give the second factor; the exchange checks again.
	if ch.Account.RequireMFA && !s.HasMFA(sess) {
		c.Redirect(http.StatusSeeOther, s.MFAURL(cliAuthorizePath+"?"+r.query().Encode()))
		c.Abort()
		return
	}
	code, err := token.New()
	if err != nil {
		s.FailPage(c, err)
		return
	}
	now := s.Now()
	if err := s.Store.CreateCLIAuthCode(c.Request.Context(), &store.CLIAuthCode{CodeHash: token.Hash(code), Challenge: r.Challenge,
		RedirectURI: r.RedirectURI, UserID: u.ID, Account: ch.Account.ID, Role: ch.Role, Methods: sess.AuthMethods,
		AuthnInstant: sess.AuthenticatedAt, SessionIndex: s.SessionIndex(sess), CreatedAt: now, ExpiresAt: now.Add(cliCodeTTL)}); err != nil {
		s.FailPage(c, err)
		return
	}
	s.AuditWith(c, "cli.authorize", u.Name, "ok", details)
	back(url.Values{"code": {code}})
}

// oauthError answers a token endpoint's refusal as RFC 6749 §5.2 (and RFC 8628 §3.5) do.
func (s *Handler) oauthError(c *gin.Context, status int, code, description string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": description, "request_id": s.RequestID(c)})
}

// tooManyOAuth answers a token request over the rate.
func (s *Handler) tooManyOAuth(c *gin.Context, msg string) {
	s.oauthError(c, http.StatusTooManyRequests, "slow_down", msg)
}

// errBadCode is the one answer to a code that is unknown, used, expired, or whose verifier or
// redirect URI is wrong: none of them tells an attacker more.
const errBadCode = "the code is unknown, used, expired or not yours: run rolegate login again"

// cliToken is POST /cli/token: a confirmed code, its verifier and redirect URI, for the Response.
// The code is spent by its first exchange, right or wrong.
func (s *Handler) cliToken(c *gin.Context) {
	if err := c.Request.ParseForm(); err != nil {
		s.oauthError(c, http.StatusBadRequest, "invalid_request", "the form is too large or malformed")
		return
	}
	f := c.Request.PostForm
	code, verifier, redirect := f.Get("code"), f.Get("code_verifier"), f.Get("redirect_uri")
	details := map[string]string{"redirect_uri": text.Bounded(redirect, 256), "via": "cli-browser"}
	refuse := func(user, why string) {
		s.AuditWith(c, "cli.token", user, "refused: "+why, details)
		s.oauthError(c, http.StatusBadRequest, "invalid_grant", errBadCode)
	}
	if f.Get("grant_type") != "authorization_code" || f.Get("client_id") != cliClientID {
		s.oauthError(c, http.StatusBadRequest, "invalid_request", "grant_type must be authorization_code and client_id "+cliClientID)
		return
	}
	if !token.WellFormed(code) || !pkceValue(verifier, 43) {
		refuse("", "a malformed code or verifier")
		return
	}
	ac, err := s.Store.TakeCLIAuthCode(c.Request.Context(), token.Hash(code), s.Now())
	if store.IsCode(err, store.NotFound) {
		refuse("", store.ErrorMessage(err))
		return
	} else if err != nil {
		s.Fail(c, err)
		return
	}
	u, err := s.Store.GetUserByID(c.Request.Context(), ac.UserID)
	if err != nil {
		s.Fail(c, err)
		return
	}
	switch {
	case subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(ac.Challenge)) != 1:
		refuse(u.Name, "the code verifier does not match the challenge")
		return
	case redirect != ac.RedirectURI:
		refuse(u.Name, "the redirect URI differs from the authorization's")
		return
	case u.Disabled:
		refuse(u.Name, "the user is disabled")
		return
	case u.MustChangePassword:
		refuse(u.Name, "the user must change a one-time password")
		return
	}
	s.cliIssue(c, Issue{User: u, Methods: ac.Methods, AuthnInstant: ac.AuthnInstant, SessionIndex: ac.SessionIndex,
		Account: ac.Account, Role: ac.Role, Details: map[string]string{"via": "cli-browser"}})
}

// cliIssue answers a command line's exchange with the Response issueAWS makes for in, as JSON,
// with a CLI session when the form asks for one (cli_session=request; host names the machine).
func (s *Handler) cliIssue(c *gin.Context, in Issue) {
	out, audit, err := s.IssueAWS(c, in)
	if errors.Is(err, s.ErrStepUp) {
		s.RecordRefusal(c, audit, err)
	}
	if err != nil {
		if store.Fault(err) {
			s.Fail(c, err)
			return
		}
		s.oauthError(c, s.StatusOf[store.ErrorCode(err)], "access_denied", store.ErrorMessage(err))
		return
	}
	if err := s.RecordIssued(c, audit); err != nil {
		s.Fail(c, err)
		return
	}
	account := ""
	if out.Account != nil {
		account = out.Account.ID
	}
	answer := gin.H{"saml_response": base64.StdEncoding.EncodeToString(out.XML), "acs": out.Plan.ACS,
		"account": account, "roles": out.Roles, "omitted": strings.Join(out.Omitted, "; ")}
	if c.Request.PostForm.Get("cli_session") == "request" {
		// The methods and instant of the browser session that confirmed, never more.
		cs, err := s.startCLISession(c, in.User, in.Methods, out.Plan.AuthnInstant, account, c.Request.PostForm.Get("host"))
		if err != nil {
			s.Fail(c, err)
			return
		}
		answer["cli_session"] = cs
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, answer)
}
